"""Management screens refuse, on GET, the people who cannot use them: an editor of another unit gets
the 403 page (no form, no checkboxes, no buttons), an anonymous visitor the login form (how
portal.views.errors answers an anonymous GET), and a refused delete changes nothing.

The screens are those of 黄梅镇 (a unit: a manager's to edit, its editors' to fill) and of its
published 政府信息公开指南 page, which everyone may view -- so each refusal is about the screen,
not about a private item (which would answer 404, as if missing).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import PortalServer, VisitChecks, assert_log_clean, log_in

UNIT = "/huangmeizhen/"
GUIDE = "/huangmeizhen/xxgkzn/"  # created with every unit, published
UNIT_SCREENS = ("@@contents", "@@add?type=Page", "@@add?type=Disclosure", "@@edit", "@@sharing", "@@history",
                "@@rename")
ITEM_SCREENS = ("@@edit", "@@sharing", "@@history", "@@rename")
SCREENS = [UNIT + s for s in UNIT_SCREENS] + [GUIDE + s for s in ITEM_SCREENS]
FORBIDDEN_HEADING = "无权访问"


def assert_no_management_form(page: Any) -> None:
    """Nothing on the page acts on the item: no checkbox, no content form, no button but the
    header's search and log-out buttons and the error page's search box."""
    main = page.locator("main")
    acting = ("input[type=checkbox], form:not([role=search]), button:not(form[role=search] button), textarea, "
              "select")
    assert main.locator(acting).count() == 0, main.inner_html()
    assert page.locator(".toolbar form").count() == 0


def refused(page: Any, path: str) -> Any:
    """GET `path`; the response of the page it ends on."""
    response = page.goto(path)
    assert response is not None
    return response


def forget_refusal(page_log: Any, response: Any) -> None:
    """Take the page's own 403 out of the log (the request and Chromium's console line about it):
    it is the answer asserted; anything else that failed still fails the test."""
    assert page_log.failed_requests == [f"{response.url}: 403"], page_log.failed_requests
    page_log.failed_requests.clear()
    page_log.console_errors[:] = [m for m in page_log.console_errors
                                  if "the server responded with a status of 403" not in m]


def test_another_units_editor_gets_the_403_page(page: Any, visit_checks: VisitChecks, page_log: Any) -> None:
    log_in(page, "other_editor")
    for n, path in enumerate(SCREENS):
        response = refused(page, path)
        assert response.status == 403, (path, response.status)
        assert page.locator("main h1").inner_text() == FORBIDDEN_HEADING, (path, page.locator("main").inner_text())
        assert_no_management_form(page)
        forget_refusal(page_log, response)
        if n == 0:
            visit_checks(page, "forbidden")
        else:
            assert_log_clean(page_log, path)
            page_log.clear()


def test_another_units_editor_sees_no_management_links(page: Any, visit_checks: VisitChecks) -> None:
    """The unit's pages offer the other editor no tab, add menu or workflow button of 黄梅镇."""
    log_in(page, "other_editor")
    for path in (UNIT, GUIDE):
        page.goto(path)
        hrefs = page.locator("a").evaluate_all("(links) => links.map(a => a.getAttribute('href') || '')")
        assert not [h for h in hrefs if "@@" in h and h.split("@@")[0].endswith(path)
                    and not h.endswith(("@@search", "@@xxgk"))], hrefs
        assert page.locator("form[action$='@@add'], form[action$='@@transition']").count() == 0
        visit_checks(page, "other-editor-" + path.strip("/").replace("/", "-"))


def test_a_refused_delete_deletes_nothing(page: Any, portal_server: PortalServer) -> None:
    """Posting the contents form's delete confirmation by hand, with a valid CSRF token of one's own
    session, is refused and the page stays."""
    log_in(page, "other_editor")
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(portal_server.url(UNIT + "@@contents"),
                                 form={"csrf_token": token, "names": "xxgkzn", "confirm-delete": "1"},
                                 max_redirects=0)
    assert response.status == 403, response.status
    assert page.goto(GUIDE).status == 200


def test_anonymous_visitors_are_sent_to_the_login_form(page: Any, visit_checks: VisitChecks, page_log: Any) -> None:
    for n, path in enumerate(SCREENS):
        response = refused(page, path)
        assert response.status == 200 and urlsplit(page.url).path == "/@@login", (path, page.url)
        came_from = parse_qs(urlsplit(page.url).query)["came_from"][0]
        assert urlsplit(came_from).path == urlsplit(path).path
        assert page.locator("main form[action$='/@@login'] input[name=password]").count() == 1
        assert page.locator("main input[type=checkbox]").count() == 0
        if n == 0:
            visit_checks(page, "anonymous-login-form")
        else:
            assert_log_clean(page_log, path)

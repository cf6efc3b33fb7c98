"""The page cache and HTTP validators, with requests that commit (as a real server's do).

Anonymous pages are kept once rendered and answered again without rendering; a change is visible
on the very next request of every page that shows it (the item, its listings, the unit home, the
home page) while pages that do not show it stay kept; two app processes share what they keep and
what they invalidate; ETag and Last-Modified are answered with 304; nothing personal is public.
"""
from __future__ import annotations

import re

import webtest

from tests.conftest import login
from tests.integration.conftest import JSON, REVIEWER, LivePortal, path_of, published_news, token


def test_an_anonymous_page_is_kept_and_served_again(visitor: webtest.TestApp) -> None:
    first = visitor.get("/huangmeizhen/")
    second = visitor.get("/huangmeizhen/")
    assert (first.headers["X-Portal-Cache"], second.headers["X-Portal-Cache"]) == ("miss", "hit")
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"  # a listing
    assert "Set-Cookie" not in first.headers and "Set-Cookie" not in second.headers


def test_each_serving_has_its_own_nonce(visitor: webtest.TestApp) -> None:
    visitor.get("/")
    pages = [visitor.get("/") for _ in range(2)]
    nonces = [p.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0] for p in pages]
    assert nonces[0] != nonces[1]
    assert [p.headers["X-Portal-Cache"] for p in pages] == ["hit", "hit"]
    assert pages[0].text.replace(nonces[0], "") == pages[1].text.replace(nonces[1], "")


def test_a_publication_is_visible_at_once_everywhere_it_shows(staff: webtest.TestApp,
                                                              visitor: webtest.TestApp) -> None:
    pages = ["/", "/huangmeizhen/", "/huangmeizhen/xwdt/", "/huangmeizhen/@@xxgk"]
    elsewhere = "/kongzhen/" if visitor.get("/kongzhen/", status="*").status_int == 200 else None
    for page in pages + ([elsewhere] if elsewhere else []):
        visitor.get(page)
        assert visitor.get(page).headers["X-Portal-Cache"] == "hit"
    item = published_news(staff, "/huangmeizhen/xwdt/", "镇政府召开防汛工作会议")
    for page in pages[:3]:
        res = visitor.get(page)
        assert res.headers["X-Portal-Cache"] == "miss", page
        assert "镇政府召开防汛工作会议" in res.text, page
    assert visitor.get(path_of(item)).headers["Cache-Control"] == "public, max-age=300"  # an item
    if elsewhere:  # another unit's pages do not show it: still kept
        assert visitor.get(elsewhere).headers["X-Portal-Cache"] == "hit"


def test_a_retraction_and_a_new_version_are_visible_at_once(staff: webtest.TestApp,
                                                            visitor: webtest.TestApp) -> None:
    item = published_news(staff, "/huangmeizhen/xwdt/", "原来的标题")
    page, listing = path_of(item), "/huangmeizhen/xwdt/"
    for url in (page, listing):
        assert "原来的标题" in visitor.get(url).text and visitor.get(url).headers["X-Portal-Cache"] == "hit"
    editor, reviewer = token(staff, "editor1"), token(staff, REVIEWER)
    staff.post_json(page + "@workflow/retract", {"comment": "需要修改"}, headers=reviewer)
    assert visitor.get(page, status="*").status_int in (401, 403, 404)
    assert "原来的标题" not in visitor.get(listing).text
    staff.patch_json(page, {"title": "改过的标题"}, headers=editor)
    staff.post_json(page + "@workflow/submit", {}, headers=editor)
    staff.post_json(page + "@workflow/publish", {}, headers=reviewer)
    assert "改过的标题" in visitor.get(page).text
    assert "改过的标题" in visitor.get(listing).text and "原来的标题" not in visitor.get(listing).text


def test_validators_answer_304_without_a_policy(visitor: webtest.TestApp) -> None:
    page = visitor.get("/huangmeizhen/")
    etag, modified = page.headers["ETag"], page.headers["Last-Modified"]
    again = visitor.get("/huangmeizhen/", headers={"If-None-Match": etag}, status=304)
    assert again.body == b"" and again.headers["ETag"] == etag
    assert "Content-Security-Policy" not in again.headers
    assert visitor.get("/huangmeizhen/", headers={"If-Modified-Since": modified}, status=304).body == b""
    assert visitor.get("/huangmeizhen/", headers={"If-None-Match": '"other"'}).status_int == 200


def test_a_change_changes_the_validators(staff: webtest.TestApp, visitor: webtest.TestApp) -> None:
    etag = visitor.get("/huangmeizhen/xwdt/").headers["ETag"]
    published_news(staff, "/huangmeizhen/xwdt/", "新的新闻")
    res = visitor.get("/huangmeizhen/xwdt/", headers={"If-None-Match": etag})
    assert res.status_int == 200 and res.headers["ETag"] != etag and "新的新闻" in res.text


def test_json_is_kept_apart_from_html(visitor: webtest.TestApp) -> None:
    visitor.get("/huangmeizhen/")
    res = visitor.get("/huangmeizhen/", headers=JSON)
    assert res.content_type == "application/json" and res.headers["X-Portal-Cache"] == "miss"
    assert visitor.get("/huangmeizhen/", headers=JSON).json == res.json


def test_nothing_personal_is_public_and_no_token_is_kept(staff: webtest.TestApp, visitor: webtest.TestApp) -> None:
    """An API token's answers are never kept; a session's pages are kept for it alone, privately
    (tests/integration/test_page_cache_users.py)."""
    visitor.get("/huangmeizhen/")
    for _ in range(2):
        res = staff.get("/huangmeizhen/", headers=token(staff, "editor1"))
        assert "X-Portal-Cache" not in res.headers and res.headers["Cache-Control"] == "private, no-cache"
    login(staff, "editor1")  # a cookie session from the login form
    page = staff.get("/huangmeizhen/")
    assert page.headers["X-Portal-Cache"] == "miss" and page.headers["Cache-Control"] == "private, no-cache"


def test_search_results_are_kept_until_the_index_changes(staff: webtest.TestApp, visitor: webtest.TestApp) -> None:
    """A search page shows the index: it is kept while the index's tag (bumped by every drain,
    after the index was written) stays, and shows a publication as soon as the drain applied it."""
    query = {"q": "防汛抗旱指挥部"}
    first = visitor.get("/@@search", query)
    assert visitor.get("/@@search", query).headers["X-Portal-Cache"] == "hit"
    assert "xianfangxunkanghanzhihuibuhuiyi" not in first.text
    published_news(staff, "/huangmeizhen/xwdt/", "县防汛抗旱指挥部会议")  # drained after its commit
    res = visitor.get("/@@search", query)
    assert res.headers["X-Portal-Cache"] == "miss" and "xianfangxunkanghanzhihuibuhuiyi" in res.text  # its URL


def test_two_processes_share_what_they_keep_and_what_they_invalidate(staff: webtest.TestApp,
                                                                    visitor: webtest.TestApp) -> None:
    assert visitor.get("/huangmeizhen/xwdt/").headers["X-Portal-Cache"] == "miss"
    assert staff.get("/huangmeizhen/xwdt/").headers["X-Portal-Cache"] == "hit"  # from the shared files
    published_news(staff, "/huangmeizhen/xwdt/", "两个进程都看得到")
    res = visitor.get("/huangmeizhen/xwdt/")
    assert res.headers["X-Portal-Cache"] == "miss" and "两个进程都看得到" in res.text


def catalogue_total(page: webtest.TestResponse) -> int:
    return int(re.search(r'<p class="meta">\s*共?\s*(\d+)', page.text).group(1))


def test_the_catalogues_counts_follow_a_publication_at_once(staff: webtest.TestApp, visitor: webtest.TestApp) -> None:
    """The facet counts are kept per version of the catalogue (content_types.disclosure_catalogue)."""
    urls = ["/@@xxgk", "/@@xxgk?subject=%E7%BB%BC%E5%90%88%E6%94%BF%E5%8A%A1", "/huangmeizhen/@@xxgk", "/huangmeizhen/@@xxgk?page=2"]
    before = {url: catalogue_total(visitor.get(url)) for url in urls}
    editor, reviewer = token(staff, "editor1"), token(staff, REVIEWER)
    doc = staff.post_json("/huangmeizhen/xxgk/", {"@type": "Disclosure", "title": "关于防汛工作的通知",
                                                  "subject": "综合政务", "genre": "通知"}, headers=editor, status=201).json
    staff.post_json(path_of(doc) + "@workflow/submit", {}, headers=editor)
    staff.post_json(path_of(doc) + "@workflow/publish", {}, headers=reviewer)
    for url in urls:
        assert catalogue_total(visitor.get(url)) == before[url] + 1, url


def test_a_new_unit_is_in_the_navigation_of_every_page_at_once(live_portal: LivePortal,
                                                               visitor: webtest.TestApp) -> None:
    """The navigation is read once per version of the `nav` tag (themes.layout.top_units); a
    script's change (here: a unit added and published as `portal` commands do) bumps it too."""
    from portal import content
    from portal.cli import app_request
    from portal.models import Portal

    pages = ["/", "/huangmeizhen/", "/huangmeizhen/xwdt/"]
    for page in pages:
        visitor.get(page)
    with app_request(live_portal.registry) as request:
        root = request.dbsession.query(Portal).one()
        unit = content.create(request, root, "Unit", {"title": "新设的单位", "kind": "县直部门",
                                                      "org_code": "TEST-NEW-UNIT"}, name="xsddw", unrestricted=True)
        content.set_state(request, unit, "published", "publish")
    for page in pages:
        res = visitor.get(page)
        assert res.headers["X-Portal-Cache"] == "miss" and "新设的单位" in res.text, page


def test_a_page_that_starts_a_session_is_never_kept(visitor: webtest.TestApp) -> None:
    """The login form's CSRF token starts a session: its cookie is set by a response callback,
    after the tween decided; the middleware sees the cookie and keeps nothing."""
    first = webtest.TestApp(visitor.app, extra_environ=visitor.extra_environ).get("/@@login")
    second = webtest.TestApp(visitor.app, extra_environ=visitor.extra_environ).get("/@@login")
    for page in (first, second):
        assert "Set-Cookie" in page.headers and "X-Portal-Cache" not in page.headers
        assert page.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["Set-Cookie"] != second.headers["Set-Cookie"]

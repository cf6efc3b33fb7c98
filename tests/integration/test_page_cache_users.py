"""A user's pages are kept per session, with requests that commit (as a real server's do).

An editor's page is rendered once and answered again for that session only, privately, with a
304 to the browser's If-None-Match; it is rendered again at once when what it shows changes, when
the user's account, roles or sessions change, and never shows a flash message twice or loses one.
Only the views that ask are kept for users; nothing of theirs is written to disk.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import webtest

from portal import accounts, sharing
from portal.cli import app_request
from portal.models import Unit, User
from portal.security import SESSION_COOKIE
from tests.conftest import PASSWORD, csrf_token, login
from tests.integration.conftest import TOWN, LivePortal, browser, published_news

UNIT = "/huangmeizhen/"


def logged_in(live_portal: LivePortal, who: str) -> webtest.TestApp:
    client = browser(live_portal.app)
    login(client, who)
    return client


@pytest.fixture
def editor1(live_portal: LivePortal) -> webtest.TestApp:
    return logged_in(live_portal, "editor1")


@pytest.fixture
def editor2(live_portal: LivePortal) -> webtest.TestApp:
    return logged_in(live_portal, "editor2")


def who_is_shown(page: webtest.TestResponse) -> str | None:
    found = re.search(r'<span class="who">([^<]*)</span>', page.text)
    return found.group(1) if found else None


def flashes(page: webtest.TestResponse) -> str:
    return " ".join(re.findall(r'<div class="flash" role="status">([^<]*)</div>', page.text))


def cache(page: webtest.TestResponse) -> str | None:
    return page.headers.get("X-Portal-Cache")


def test_a_users_page_is_kept_for_their_session_alone(editor1: webtest.TestApp, editor2: webtest.TestApp,
                                                      visitor: webtest.TestApp) -> None:
    first, second = editor1.get(UNIT), editor1.get(UNIT)
    assert (cache(first), cache(second)) == ("miss", "hit")
    assert who_is_shown(second) == "editor1" and second.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["ETag"] == second.headers["ETag"] and "Set-Cookie" not in second.headers
    assert cache(editor2.get(UNIT)) == "miss"  # a session of its own, even for the same roles
    assert who_is_shown(editor2.get(UNIT)) == "editor2"
    public = visitor.get(UNIT)
    assert who_is_shown(public) is None and public.headers["ETag"] != second.headers["ETag"]
    assert public.headers["Cache-Control"].startswith("public")


def test_the_browser_revalidates_and_gets_a_304(editor1: webtest.TestApp) -> None:
    etag = editor1.get(UNIT).headers["ETag"]
    again = editor1.get(UNIT, headers={"If-None-Match": etag}, status=304)
    assert again.body == b"" and again.headers["Cache-Control"] == "private, no-cache"


def test_a_change_is_on_the_users_pages_at_once(editor1: webtest.TestApp, staff: webtest.TestApp) -> None:
    pages = ["/", UNIT, UNIT + "xwdt/"]
    for page in pages:
        editor1.get(page)
        assert cache(editor1.get(page)) == "hit", page
    published_news(staff, UNIT + "xwdt/", "镇里的新消息")
    for page in pages:
        res = editor1.get(page)
        assert cache(res) == "miss" and "镇里的新消息" in res.text, page
        assert who_is_shown(res) == "editor1"


def test_a_logout_ends_what_was_kept_for_that_cookie(live_portal: LivePortal, editor1: webtest.TestApp) -> None:
    editor1.get(UNIT)
    assert cache(editor1.get(UNIT)) == "hit"
    replay = browser(live_portal.app)
    replay.set_cookie(SESSION_COOKIE, editor1.cookies[SESSION_COOKIE])  # someone who kept the cookie
    assert cache(replay.get(UNIT)) == "hit"  # the same session, as far as anyone can tell
    editor1.post("/@@logout", {"csrf_token": csrf_token(editor1.get("/@@account"))})
    page = replay.get(UNIT)
    assert cache(page) != "hit" and who_is_shown(page) is None


def test_a_disabled_account_sees_nothing_it_was_kept(live_portal: LivePortal, editor1: webtest.TestApp) -> None:
    """A script's change (`portal users disable`) counts like a manager's in the browser."""
    editor1.get(UNIT)
    assert cache(editor1.get(UNIT)) == "hit"
    with app_request(live_portal.registry) as request:
        accounts.disable_user(request, accounts.get_user(request.dbsession, "editor1"))
    page = editor1.get(UNIT)
    assert cache(page) != "hit" and who_is_shown(page) is None


def test_roles_taken_away_are_seen_at_once(live_portal: LivePortal, editor1: webtest.TestApp) -> None:
    """The toolbar follows the roles: after the editor's roles on the unit go, no edit tab."""
    editor1.get(UNIT + "xwdt/")
    kept = editor1.get(UNIT + "xwdt/")
    assert cache(kept) == "hit" and 'xwdt/@@edit"' in kept.text
    with app_request(live_portal.registry) as request:
        town = request.dbsession.query(Unit).filter(Unit.title == TOWN).one()
        sharing.set_roles(request, town, {"user:editor1": {role: False for role in sharing.ROLE_IDS}})
    page = editor1.get(UNIT + "xwdt/")
    assert cache(page) == "miss" and 'xwdt/@@edit"' not in page.text and who_is_shown(page) == "editor1"


def test_a_flash_message_is_shown_once_and_never_kept(live_portal: LivePortal) -> None:
    client = browser(live_portal.app)
    form = client.get("/@@login")
    res = client.post("/@@login", {"login": "editor1", "password": PASSWORD, "csrf_token": csrf_token(form)})
    welcome = client.get(res.location)
    assert "editor1" in flashes(welcome) and cache(welcome) is None  # it took the flash
    after = [client.get("/") for _ in range(2)]
    assert [cache(p) for p in after] == ["miss", "hit"]
    assert [flashes(p) for p in after] == ["", ""]


def test_a_visitors_session_is_not_kept_for_it(live_portal: LivePortal) -> None:
    """A visitor who opened the login form has a session (its CSRF token) but no user: the pages
    are rendered for them, so that no one fills the memory with pages kept for single browsers."""
    client = browser(live_portal.app)
    client.get("/@@login")
    assert SESSION_COOKIE in client.cookies
    for page in (client.get(UNIT), client.get(UNIT)):
        assert cache(page) is None and page.headers["Cache-Control"] == "private, no-cache"
        assert who_is_shown(page) is None


def test_only_the_views_that_ask_are_kept_for_users(editor1: webtest.TestApp) -> None:
    for page in ("/@@account", "/@@my-items", UNIT + "xwdt/@@contents"):
        for res in (editor1.get(page), editor1.get(page)):
            assert cache(res) is None and res.headers["Cache-Control"] == "private, no-cache", page


def test_a_users_pages_never_reach_the_disk(live_portal: LivePortal, editor1: webtest.TestApp,
                                            visitor: webtest.TestApp) -> None:
    from portal.settings import portal_settings

    directory = Path(portal_settings(live_portal.registry).page_cache_dir)
    before = set(directory.glob("*/*"))
    assert cache(editor1.get("/")) == "miss" and cache(editor1.get("/")) == "hit"
    assert set(directory.glob("*/*")) == before
    visitor.get("/")
    assert len(set(directory.glob("*/*")) - before) == 1  # the visitor's page is shared


def test_a_password_change_elsewhere_ends_the_other_sessions_pages(live_portal: LivePortal,
                                                                   editor1: webtest.TestApp) -> None:
    other = logged_in(live_portal, "editor1")  # a second browser of the same user
    other.get(UNIT)
    assert cache(other.get(UNIT)) == "hit"
    with app_request(live_portal.registry) as request:
        user = request.dbsession.query(User).filter(User.login == "editor1").one()
        accounts.change_password(request, user, "一个新的密码-2026-xyz")
    page = other.get(UNIT)
    assert cache(page) != "hit" and who_is_shown(page) is None

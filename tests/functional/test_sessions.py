"""Sessions kept on the server: logging out, a new password and a disabled account end them (and
API tokens), a replayed cookie is anonymous, and managers list and end a user's sessions."""
from __future__ import annotations

import datetime as dt

import lxml.html
import pytest
import webtest
from sqlalchemy import func, select

from portal.models import AuditEntry, AuthToken, UserSession
from portal.models.node import utcnow
from portal.security import digest
from tests.conftest import PASSWORD, api_token, login

NEW_PASSWORD = "a-new-password-99"


def logged_in(client: webtest.TestApp) -> bool:
    return client.get("/@@my-items", status="*").status_int == 200


def browser(testapp: webtest.TestApp) -> webtest.TestApp:
    """A second browser (its own cookies) on the same app and test transaction."""
    return webtest.TestApp(testapp.app, extra_environ=dict(testapp.extra_environ))


def sessions_of(dbsession, user) -> list[UserSession]:
    return dbsession.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()


def token_works(testapp, headers) -> bool:
    return testapp.get("/@@my-items", headers=headers, status="*").status_int == 200 and \
        testapp.post_json("/@logout", {}, headers=headers, status="*").status_int == 204


# -- logging out -----------------------------------------------------------------------------

def test_a_cookie_replayed_after_logout_is_anonymous(testapp, users):
    """The attack run saved the signed cookie, logged out, and the saved cookie still worked."""
    token = login(testapp, "editor")
    saved = testapp.cookies["portal_session"]
    testapp.post("/@@logout", {"csrf_token": token}, status=302)
    assert not logged_in(testapp)
    testapp.set_cookie("portal_session", saved)
    assert not logged_in(testapp)
    testapp.get("/huangmeizhen/@@add?type=Page", status=302)  # sent to the login form


def test_logout_deletes_the_session_row_and_the_cookie_holds_only_a_token(testapp, dbsession, users):
    token = login(testapp, "editor")
    (row,) = sessions_of(dbsession, users["editor"])
    assert row.stage == "full" and row.address == "10.0.0.1"
    cookie = testapp.cookies["portal_session"]
    assert row.digest not in cookie  # the digest is never sent, the token never stored
    testapp.post("/@@logout", {"csrf_token": token}, status=302)
    assert sessions_of(dbsession, users["editor"]) == []
    assert dbsession.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "logout")) == 1


def test_an_expired_session_is_anonymous(testapp, dbsession, users):
    login(testapp, "editor")
    (row,) = sessions_of(dbsession, users["editor"])
    row.expires = utcnow() - dt.timedelta(seconds=1)
    dbsession.flush()
    assert not logged_in(testapp)


def test_a_session_lasts_twelve_hours_at_most(testapp, dbsession, users):
    login(testapp, "editor")
    (row,) = sessions_of(dbsession, users["editor"])
    assert dt.timedelta(hours=11, minutes=59) < row.expires - row.created <= dt.timedelta(hours=12)


def test_a_session_of_a_disabled_account_gives_no_identity(testapp, dbsession, users):
    login(testapp, "editor")
    headers = api_token(testapp, "editor")
    users["editor"].disabled = True  # even if its rows were somehow left
    dbsession.flush()
    assert not logged_in(testapp)
    testapp.get("/@@my-items", headers=headers, status=401)


# -- a new password --------------------------------------------------------------------------

def change_password(client, token, current=PASSWORD, new=NEW_PASSWORD, again=None, status=302):
    return client.post("/@@account", {"csrf_token": token, "change_password": "1", "password": current,
                                      "new_password": new, "new_password_again": again or new}, status=status)


def test_a_new_password_ends_every_other_session_and_token(testapp, dbsession, users):
    other = browser(testapp)
    login(other, "editor")
    headers = api_token(testapp, "editor")
    token = login(testapp, "editor")
    assert len(sessions_of(dbsession, users["editor"])) == 2
    change_password(testapp, token)
    assert logged_in(testapp)  # the session that changed it goes on
    assert not logged_in(other)
    testapp.get("/@@my-items", headers=headers, status=401)
    assert len(sessions_of(dbsession, users["editor"])) == 1
    testapp.reset()
    login(testapp, "editor", NEW_PASSWORD)
    entry = dbsession.scalar(select(AuditEntry).where(AuditEntry.action == "password.changed"))
    assert entry.actor == "editor" and entry.target == "user:editor" and entry.details == {"ended": 2}


@pytest.mark.parametrize("current, new, again, status", [
    ("wrong-password", NEW_PASSWORD, None, 403),
    (PASSWORD, NEW_PASSWORD, "something-else", 400),
    (PASSWORD, "short", None, 400),
])
def test_a_new_password_needs_the_current_one_twice_the_same_and_long_enough(testapp, dbsession, users, current,
                                                                             new, again, status):
    token = login(testapp, "editor")
    before = users["editor"].password_hash
    res = change_password(testapp, token, current, new, again, status=status)
    assert 'class="error"' in res.text
    assert users["editor"].password_hash == before


def test_wrong_current_passwords_are_throttled_like_logins(testapp, users):
    token = login(testapp, "editor")
    for _ in range(5):
        change_password(testapp, token, current="wrong-password", status=403)
    change_password(testapp, token, status=429)


# -- managers --------------------------------------------------------------------------------

def session_rows(page) -> list[lxml.html.HtmlElement]:
    return lxml.html.fromstring(page.text).xpath('//tr[contains(@class, "session")]')


def token_rows(page) -> list[lxml.html.HtmlElement]:
    return lxml.html.fromstring(page.text).xpath('//tr[contains(@class, "token")]')


def test_managers_list_and_end_a_users_sessions(testapp, dbsession, users):
    first, second = browser(testapp), browser(testapp)
    login(first, "editor")
    login(second, "editor")
    headers = api_token(testapp, "editor")
    token = login(testapp, "manager")
    page = testapp.get("/@@users/editor")
    assert len(session_rows(page)) == 2 and len(token_rows(page)) == 1
    newest = max(sessions_of(dbsession, users["editor"]), key=lambda s: s.id)
    testapp.post("/@@users/editor", {"csrf_token": token, "end": str(newest.id)}, status=302)
    assert logged_in(first) and not logged_in(second)
    testapp.post("/@@users/editor", {"csrf_token": token, "end_all": "1"}, status=302)
    assert not logged_in(first)
    testapp.get("/@@my-items", headers=headers, status=401)
    assert len(session_rows(testapp.get("/@@users/editor"))) == 0
    actions = dbsession.scalars(select(AuditEntry.action).where(AuditEntry.target == "user:editor",
                                                                 AuditEntry.actor == "manager")).all()
    assert sorted(actions) == ["session.ended", "sessions.ended"]


def test_a_manager_cannot_end_someone_elses_session_through_another_user(testapp, dbsession, users):
    other = browser(testapp)
    login(other, "reviewer")
    (row,) = [s for s in sessions_of(dbsession, users["reviewer"]) if s.stage == "full"]
    token = login(testapp, "manager")
    testapp.post("/@@users/editor", {"csrf_token": token, "end": str(row.id)}, status=302)
    assert logged_in(other)


def test_disabling_an_account_ends_its_sessions_and_tokens_and_stops_its_logins(testapp, dbsession, users):
    other = browser(testapp)
    login(other, "editor")
    headers = api_token(testapp, "editor")
    token = login(testapp, "manager")
    page = testapp.get("/@@users")
    assert "editor" in page.text
    testapp.post("/@@users/editor", {"csrf_token": token, "disable": "1"}, status=302)
    assert users["editor"].disabled
    assert not logged_in(other)
    testapp.get("/@@my-items", headers=headers, status=401)
    testapp.post_json("/@login", {"login": "editor", "password": PASSWORD}, status=401)
    testapp.post("/@@users/editor", {"csrf_token": token, "enable": "1"}, status=302)
    login(other, "editor")
    assert logged_in(other)
    assert dbsession.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(
        ["user.disabled", "user.enabled"])).order_by(AuditEntry.id)).all() == ["user.disabled", "user.enabled"]


def test_managers_cannot_disable_themselves(testapp, users):
    token = login(testapp, "manager")
    testapp.post("/@@users/manager", {"csrf_token": token, "disable": "1"}, status=302)
    assert not users["manager"].disabled
    assert logged_in(testapp)


@pytest.mark.parametrize("path", ["/@@users", "/@@users/editor"])
def test_the_users_screens_are_for_managers(testapp, users, path):
    testapp.get(path, status=302)  # anonymous: to the login form
    token = login(testapp, "reviewer")
    testapp.get(path, status=403)
    testapp.post(path, {"csrf_token": token, "end_all": "1"}, status=403)


def test_an_unknown_user_is_404(testapp, users):
    login(testapp, "manager")
    testapp.get("/@@users/nobody", status=404)


# -- one's own sessions ------------------------------------------------------------------------

def test_people_see_and_end_their_own_other_sessions(testapp, dbsession, users):
    other = browser(testapp)
    login(other, "editor")
    headers = api_token(testapp, "editor")
    token = login(testapp, "editor")
    page = testapp.get("/@@account")
    assert len(session_rows(page)) == 2 and len(token_rows(page)) == 1
    assert "(this one)" in page.text or "当前" in page.text
    testapp.post("/@@account", {"csrf_token": token, "end_others": "1"}, status=302)
    assert logged_in(testapp) and not logged_in(other)
    testapp.get("/@@my-items", headers=headers, status=401)


def test_nobody_ends_someone_elses_session_from_their_own_account_page(testapp, dbsession, users):
    other = browser(testapp)
    login(other, "other-editor")
    (row,) = sessions_of(dbsession, users["other_editor"])
    token = login(testapp, "editor")
    testapp.post("/@@account", {"csrf_token": token, "end": str(row.id)}, status=302)
    assert logged_in(other)


def test_the_account_page_needs_a_login(testapp):
    res = testapp.get("/@@account", status=302)
    assert "@@login" in res.location


def test_api_logout_ends_only_that_token(testapp, dbsession, users):
    first, second = api_token(testapp, "editor"), api_token(testapp, "editor")
    testapp.post("/@logout", headers=first, status=204)
    testapp.get("/@@my-items", headers=first, status=401)
    testapp.get("/@@my-items", headers=second, status=200)
    token = dbsession.scalars(select(AuthToken).where(AuthToken.user_id == users["editor"].id)).one()
    assert token.address == "10.0.0.1"
    assert token.digest == digest(second["Authorization"][7:])

"""The staff second factor: TOTP enrolment with a server-drawn QR code, the code after the password,
recovery codes, remembered devices, who must use it, the JSON API, and a manager's reset."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import lxml.html
import pyotp
import pytest
import webtest
from pyramid.paster import get_appsettings
from sqlalchemy import func, select

from portal import second_factor
from portal.models import AuditEntry, LoginFailure, RecoveryCode, TrustedDevice, UserSession
from portal.settings import KEY, PortalSettings
from tests.conftest import PASSWORD, csrf_token, login

ROOT = Path(__file__).resolve().parents[2]


def password_step(testapp: webtest.TestApp, who: str, password: str = PASSWORD, **extra: Any) -> webtest.TestResponse:
    if not extra.pop("keep_cookies", False):
        testapp.reset()
    page = testapp.get("/@@login")
    return testapp.post("/@@login", {"login": who, "password": password, "csrf_token": csrf_token(page),
                                     "came_from": "/huangmeizhen/"}, **extra)


def logged_in(client: webtest.TestApp) -> bool:
    return client.get("/@@my-items", status="*").status_int == 200


def enrolled(dbsession, user, secret: str | None = None) -> str:
    """Give `user` a factor directly; returns its secret."""
    secret = secret or second_factor.new_secret()
    second_factor.enrol(dbsession, user, secret)
    dbsession.flush()
    return secret


def code_at(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30 * offset_steps))


def code_step(testapp, code: str, remember: bool = False, status: Any = 302) -> webtest.TestResponse:
    page = testapp.get("/@@login-code")
    fields = {"code": code, "csrf_token": csrf_token(page), "came_from": "/huangmeizhen/"}
    if remember:
        fields["remember"] = "1"
    return testapp.post("/@@login-code", fields, status=status)


@pytest.fixture
def settings_with(app: Any, monkeypatch: Any) -> Any:
    """`settings_with(second_factor_units=...)`: the app's parsed settings changed for this test."""
    def change(**values: Any) -> None:
        monkeypatch.setitem(app.registry, KEY, dataclasses.replace(app.registry[KEY], **values))
    return change


# -- enrolment -----------------------------------------------------------------------------

def test_a_manager_sets_up_a_second_factor_right_after_the_password(testapp, dbsession, users):
    res = password_step(testapp, "manager", status=302)
    assert "/@@second-factor?" in res.location
    page = res.follow()
    assert page.headers["Cache-Control"] == "no-store"
    # the QR code is drawn here, as inline SVG: no image from a QR service, nothing else loaded
    assert re.search(r'<div class="qr"><svg[^>]*class="segno"', page.text)
    assert "otpauth" not in page.text and "chart.googleapis" not in page.text
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    assert len(secret) == 32
    # until then, nothing else: the session has no identity
    assert not logged_in(testapp)
    testapp.get("/@@users", status=302)
    # a wrong code sets up nothing
    res = testapp.post("/@@second-factor", {"action": "enrol", "code": "000000", "csrf_token": csrf_token(page)},
                       status=403)
    assert not users["manager"].has_second_factor
    res = testapp.post("/@@second-factor", {"action": "enrol", "code": pyotp.TOTP(secret).now(),
                                            "csrf_token": csrf_token(res), "came_from": "/huangmeizhen/"})
    assert res.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", res.text)
    assert len(codes) == 10
    assert 'href="/huangmeizhen/"' in res.text
    assert users["manager"].has_second_factor and users["manager"].totp_secret == secret
    assert logged_in(testapp)
    # the recovery codes are stored as digests only
    digests = set(dbsession.scalars(select(RecoveryCode.digest).where(RecoveryCode.user_id == users["manager"].id)))
    assert len(digests) == 10 and not any(c.replace("-", "") in d for c in codes for d in digests)
    actions = dbsession.scalars(select(AuditEntry.action).where(AuditEntry.actor == "manager")
                                .order_by(AuditEntry.id)).all()
    assert actions == ["second_factor.enrolled", "login"]


def test_the_enrolment_session_is_a_new_one(testapp, dbsession, users):
    res = password_step(testapp, "reviewer")
    page = res.follow()
    pending_cookie = testapp.cookies["portal_session"]
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    testapp.post("/@@second-factor", {"action": "enrol", "code": pyotp.TOTP(secret).now(),
                                      "csrf_token": csrf_token(page)})
    assert testapp.cookies["portal_session"] != pending_cookie
    stages = dbsession.scalars(select(UserSession.stage).where(UserSession.user_id == users["reviewer"].id)).all()
    assert stages == ["full"]


def test_the_secret_being_enrolled_is_not_in_the_cookie(testapp, dbsession, users):
    """The cookie session carries a nonce only: the secret is derived on the server."""
    import base64

    page = password_step(testapp, "reviewer").follow()
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    cookies = "".join(testapp.cookies.values())
    decoded = b"".join(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)) for c in re.findall(r"[\w-]{20,}", cookies))
    assert secret not in cookies and secret.encode() not in decoded
    shown = second_factor.grouped(secret)
    assert shown in testapp.get("/@@second-factor").text  # the same secret again, from the nonce
    other = password_step(testapp, "reviewer").follow()  # another login: another secret
    assert shown not in other.text


def test_a_login_waiting_for_its_step_expires(testapp, dbsession, users):
    password_step(testapp, "manager")
    (row,) = dbsession.scalars(select(UserSession).where(UserSession.user_id == users["manager"].id)).all()
    assert row.stage == "enrol" and row.expires - row.created <= dt.timedelta(minutes=10)
    row.expires = row.created
    dbsession.flush()
    res = testapp.get("/@@second-factor", status=302)
    assert "/@@login?" in res.location


def test_editors_may_set_one_up_and_are_then_asked_for_it(testapp, dbsession, users):
    token = login(testapp, "editor")  # not required: logged in with the password alone
    assert users["editor"].totp_secret is None
    page = testapp.get("/@@second-factor")
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    testapp.post("/@@second-factor", {"action": "enrol", "code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert users["editor"].has_second_factor
    res = password_step(testapp, "editor")
    assert "/@@login-code?" in res.location
    assert not logged_in(testapp)


# -- the code after the password -------------------------------------------------------------

def test_the_code_logs_in_once(testapp, dbsession, users):
    secret = enrolled(dbsession, users["manager"])
    res = password_step(testapp, "manager")
    assert "/@@login-code?" in res.location
    assert not logged_in(testapp)
    code = code_at(secret)
    res = code_step(testapp, code)
    assert res.location == "http://example.com/huangmeizhen/"
    assert logged_in(testapp)
    # the same code again (seen over a shoulder): refused
    password_step(testapp, "manager")
    res = code_step(testapp, code, status=403)
    assert 'class="error"' in res.text
    assert not logged_in(testapp)
    # the next one is fine
    code_step(testapp, code_at(secret, 1))
    assert logged_in(testapp)


def test_a_wrong_code_is_a_failure_and_five_stop_the_step(testapp, dbsession, users):
    secret = enrolled(dbsession, users["manager"])
    password_step(testapp, "manager")
    for _ in range(5):
        code_step(testapp, "123456" if code_at(secret) != "123456" else "654321", status=403)
    assert dbsession.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.kind == "code")) == 5
    code_step(testapp, code_at(secret), status=429)
    assert not logged_in(testapp)
    failed = dbsession.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
    assert [e.details for e in failed] == [{"reason": "invalid", "step": "code"}] * 5 + \
        [{"reason": "throttled", "step": "code"}]


def test_the_code_step_needs_the_password_step(testapp, users):
    testapp.reset()
    res = testapp.get("/@@login-code", status=302)
    assert "/@@login?" in res.location


def test_a_recovery_code_works_once(testapp, dbsession, users):
    enrolled(dbsession, users["manager"])
    codes = second_factor.new_recovery_codes(dbsession, users["manager"])
    password_step(testapp, "manager")
    code_step(testapp, codes[0].lower())  # typed in lower case: fine
    flash = " ".join(lxml.html.fromstring(testapp.get("/").text).xpath('//div[@class="flash"]//text()'))
    assert "9" in flash  # how many are left
    assert logged_in(testapp)
    assert second_factor.recovery_codes_left(dbsession, users["manager"]) == 9
    password_step(testapp, "manager")
    code_step(testapp, codes[0], status=403)
    code_step(testapp, codes[1].replace("-", " "))
    assert logged_in(testapp)


def test_a_remembered_browser_skips_the_code_but_not_the_password(testapp, dbsession, users):
    secret = enrolled(dbsession, users["manager"])
    password_step(testapp, "manager")
    res = code_step(testapp, code_at(secret), remember=True)
    cookie = next(v for k, v in res.headerlist if k.lower() == "set-cookie" and v.startswith("portal_device="))
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "max-age=604800" in attrs
    device = testapp.cookies["portal_device"]
    row = dbsession.scalar(select(TrustedDevice).where(TrustedDevice.user_id == users["manager"].id))
    assert row.digest != device
    testapp.post("/@@logout", {"csrf_token": csrf_token(testapp.get("/@@login"))})
    res = password_step(testapp, "manager", keep_cookies=True)
    assert res.location == "http://example.com/huangmeizhen/"  # no code asked
    assert logged_in(testapp)
    # a wrong password is still wrong
    password_step(testapp, "manager", "wrong-password", keep_cookies=True, status=403)
    # once the days have passed, the code is asked again
    row.expires = dt.datetime(2000, 1, 1)
    dbsession.flush()
    res = password_step(testapp, "manager", keep_cookies=True)
    assert "/@@login-code?" in res.location


def test_a_remembered_browser_of_someone_else_counts_for_nothing(testapp, dbsession, users):
    secret = enrolled(dbsession, users["manager"])
    enrolled(dbsession, users["reviewer"])
    password_step(testapp, "manager")
    code_step(testapp, code_at(secret), remember=True)
    res = password_step(testapp, "reviewer", keep_cookies=True)
    assert "/@@login-code?" in res.location


def test_no_browser_is_remembered_when_the_setting_says_0_days(testapp, dbsession, users, settings_with):
    settings_with(remember_device_days=0)
    secret = enrolled(dbsession, users["manager"])
    password_step(testapp, "manager")
    page = testapp.get("/@@login-code")
    assert 'name="remember"' not in page.text
    code_step(testapp, code_at(secret), remember=True)
    assert "portal_device" not in testapp.cookies


def test_under_a_guessing_attack_even_a_remembered_browser_is_asked_for_the_code(testapp, dbsession, users):
    """Nobody can lock the manager out: after five wrong passwords from other addresses, the right
    password and the code still log in -- and the code is asked even on a remembered browser."""
    secret = enrolled(dbsession, users["manager"])
    password_step(testapp, "manager")
    code_step(testapp, code_at(secret), remember=True)
    attacker = webtest.TestApp(testapp.app, extra_environ={**testapp.extra_environ, "REMOTE_ADDR": "10.66.0.1"})
    for i in range(12):
        attacker.extra_environ["REMOTE_ADDR"] = f"10.66.0.{i // 4}"
        password_step(attacker, "manager", f"guess-{i}", status=403)
    res = password_step(testapp, "manager", keep_cookies=True)
    assert "/@@login-code?" in res.location
    code_step(testapp, code_at(secret, 1))
    assert logged_in(testapp)


# -- who must use one ------------------------------------------------------------------------

def test_who_must_use_a_second_factor(app, dbsession, users, request_as, settings_with, town):
    request = request_as("manager")
    required = {who: second_factor.required(request, users[who]) for who in users}
    assert required == {"manager": True, "reviewer": True, "editor": False, "other_editor": False}
    settings_with(second_factor_units=("/huangmeizhen/",))
    required = {who: second_factor.required(request, users[who]) for who in users}
    assert required == {"manager": True, "reviewer": True, "editor": True, "other_editor": False}
    settings_with(second_factor_units=("*",))
    assert second_factor.required(request, users["other_editor"])
    settings_with(require_second_factor=False, second_factor_units=())
    assert not any(second_factor.required(request, u) for u in users.values())


def test_a_local_reviewer_publishes_and_so_must_use_one(dbsession, users, request_as, town):
    from portal import sharing

    request = request_as("manager")
    sharing.set_roles(request, town, {"user:other-editor": {"Reviewer": True}})
    assert second_factor.required(request, users["other_editor"])


def test_the_editors_of_a_listed_unit_are_sent_to_set_one_up(testapp, users, settings_with):
    settings_with(second_factor_units=("/huangmeizhen/",))
    res = password_step(testapp, "editor")
    assert "/@@second-factor?" in res.location
    res = password_step(testapp, "other-editor")
    assert res.location == "http://example.com/huangmeizhen/"


def test_development_ini_lets_the_demo_accounts_in_and_production_asks_the_factor() -> None:
    dev = PortalSettings.parse(get_appsettings(str(ROOT / "development.ini")))
    assert dev.require_second_factor is False and dev.remember_device_days == 7
    prod = get_appsettings(str(ROOT / "production.ini"))
    prod["portal.session_secret"] = "p" * 40
    assert PortalSettings.parse(prod).require_second_factor is True
    assert PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": "s" * 40}) \
        .require_second_factor is True  # on unless an .ini turns it off


# -- one's own factor ------------------------------------------------------------------------

def test_new_recovery_codes_and_removal_need_a_code(testapp, dbsession, users):
    secret = enrolled(dbsession, users["editor"])
    password_step(testapp, "editor")
    code_step(testapp, code_at(secret))
    token = csrf_token(testapp.get("/@@login"))
    page = testapp.get("/@@second-factor")
    assert "10" in page.text
    testapp.post("/@@second-factor", {"action": "renew", "code": "000000", "csrf_token": token}, status=403)
    res = testapp.post("/@@second-factor", {"action": "renew", "code": code_at(secret, 1), "csrf_token": token})
    codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", res.text)
    assert len(codes) == 10
    testapp.post("/@@second-factor", {"action": "remove", "code": code_at(secret, -1), "csrf_token": token},
                 status=403)  # a code older than the one used: refused
    testapp.post("/@@second-factor", {"action": "remove", "code": codes[0], "csrf_token": token}, status=302)
    assert not users["editor"].has_second_factor
    assert dbsession.scalar(select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == users["editor"].id)) == 0
    assert logged_in(testapp)  # editors need none


def test_a_reviewer_who_removes_theirs_must_set_up_a_new_one_at_once(testapp, dbsession, users):
    token = login(testapp, "reviewer")
    code = second_factor.new_recovery_codes(dbsession, users["reviewer"])[0]
    res = testapp.post("/@@second-factor", {"action": "remove", "code": code, "csrf_token": token}, status=302)
    assert not logged_in(testapp)
    page = res.follow()
    assert '<code class="secret">' in page.text


# -- a manager's reset -----------------------------------------------------------------------

def test_a_manager_resets_a_lost_second_factor(testapp, dbsession, users):
    other = webtest.TestApp(testapp.app, extra_environ=dict(testapp.extra_environ))
    login(other, "reviewer")
    assert users["reviewer"].has_second_factor
    token = login(testapp, "manager")
    page = testapp.get("/@@users/reviewer")
    assert 'name="reset_second_factor"' in page.text
    testapp.post("/@@users/reviewer", {"csrf_token": token, "reset_second_factor": "1"}, status=302)
    assert not users["reviewer"].has_second_factor
    assert not logged_in(other)  # whoever has the phone is out too
    entry = dbsession.scalar(select(AuditEntry).where(AuditEntry.action == "second_factor.reset"))
    assert (entry.actor, entry.target, entry.address) == ("manager", "user:reviewer", "10.0.0.1")
    res = password_step(other, "reviewer")
    assert "/@@second-factor?" in res.location


def test_only_managers_reset_a_second_factor(testapp, dbsession, users):
    enrolled(dbsession, users["editor"])
    token = login(testapp, "reviewer")
    testapp.post("/@@users/editor", {"csrf_token": token, "reset_second_factor": "1"}, status=403)
    assert users["editor"].has_second_factor


# -- the JSON API --------------------------------------------------------------------------

def test_api_login_sends_the_code_as_otp(testapp, dbsession, users):
    secret = enrolled(dbsession, users["manager"])
    res = testapp.post_json("/@login", {"login": "manager", "password": PASSWORD}, status=401)
    assert [e["field"] for e in res.json["error"]["errors"]] == ["otp"]
    assert dbsession.scalar(select(func.count(LoginFailure.id))) == 0  # not a failure
    res = testapp.post_json("/@login", {"login": "manager", "password": PASSWORD, "otp": "000000"}, status=401)
    assert dbsession.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.kind == "code")) == 1
    res = testapp.post_json("/@login", {"login": "manager", "password": PASSWORD, "otp": code_at(secret)})
    headers = {"Authorization": f"Bearer {res.json['token']}", "Accept": "application/json"}
    testapp.get("/@@my-items", headers=headers, status=200)
    testapp.post_json("/@login", {"login": "manager", "password": "wrong", "otp": code_at(secret, 1)}, status=401)
    testapp.post_json("/@login", {"login": "manager", "password": PASSWORD, "otp": 123456}, status=400)


def test_api_login_of_an_account_that_must_set_up_a_factor_is_refused(testapp, users):
    res = testapp.post_json("/@login", {"login": "reviewer", "password": PASSWORD}, status=403)
    assert "@@second-factor" in res.json["error"]["message"]


def test_api_login_of_an_editor_needs_no_otp(testapp, users):
    res = testapp.post_json("/@login", {"login": "editor", "password": PASSWORD})
    assert res.json["token"]


# -- the codes themselves ----------------------------------------------------------------------

def test_codes_within_one_step_of_the_clock_are_accepted_and_others_not(dbsession, users):
    secret = second_factor.new_secret()
    now = dt.datetime.now(dt.timezone.utc)
    totp = pyotp.TOTP(secret)
    near = {totp.at(now + dt.timedelta(seconds=s)) for s in (-30, 0, 30)}
    for offset, accepted in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        code = totp.at(now + dt.timedelta(seconds=offset))
        if not accepted and code in near:
            continue  # the same six digits by chance
        assert (second_factor.matching_step(secret, code, at=now) is not None) is accepted, offset
    assert second_factor.matching_step(secret, "12345", at=now) is None
    assert second_factor.matching_step(secret, "１２３４５６", at=now) is None  # full-width digits


def test_a_login_half_done_goes_back_to_its_step(testapp, dbsession, users):
    password_step(testapp, "manager")
    res = testapp.get("/@@review-queue", status=302)  # no identity yet: to the login form ...
    res = res.follow(status=302)  # ... which sends the half-done login on to its step
    assert "/@@second-factor?" in res.location and "came_from=" in res.location


@pytest.mark.parametrize("key, value", [("portal.require_second_factor", "maybe"),
                                        ("portal.second_factor_units", "huangmeizhen"),
                                        ("portal.second_factor_units", "* /huangmeizhen"),
                                        ("portal.remember_device_days", "-1"),
                                        ("portal.remember_device_days", "a week")])
def test_a_bad_second_factor_setting_stops_the_start(key: str, value: str) -> None:
    from portal.settings import SettingsError

    with pytest.raises(SettingsError, match=key):
        PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": "s" * 40, key: value})


def test_second_factor_settings_are_read() -> None:
    settings = PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": "s" * 40,
                                     "portal.require_second_factor": "off", "portal.remember_device_days": "0",
                                     "portal.second_factor_units": "/huangmeizhen /xianzhengfuban/"})
    assert settings.require_second_factor is False and settings.remember_device_days == 0
    assert settings.second_factor_units == ("/huangmeizhen/", "/xianzhengfuban/")

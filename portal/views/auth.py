"""Log in (the password, then the second factor when the account has one) and out.

A login is one to three steps, each its own session row (portal.security): the password gives a
full session, or a session that waits for the second factor's code (`@@login-code`), or one that
must set up a second factor first (`@@second-factor`, portal.views.account); the waiting ones
give no identity, so nothing else can be done with them. Failures of either step are throttled
(portal.security) and every outcome is in the audit log. A failed step answers with a page, not
an exception, so the transaction that records it commits.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlparse

from pyramid.httpexceptions import HTTPFound
from pyramid.security import forget, remember
from pyramid.view import view_config

from .. import audit, second_factor
from ..i18n import _
from ..models import Portal, User
from ..security import authenticate, check_second_factor, current_session, under_attack
from ..settings import portal_settings
from . import flash, template

# the page of each step of a login in progress (UserSession.stage)
STEP_VIEWS = {"code": "@@login-code", "enrol": "@@second-factor"}
THROTTLED = _("Too many failed attempts. Please wait 15 minutes and try again.")


def safe_came_from(request: Any, url: str | None) -> str:
    """Only ever send people back to this site. A backslash or a control character is refused:
    browsers read `/\\evil.example` as `//evil.example`."""
    if url and not any(ch == "\\" or ord(ch) < 32 for ch in url):
        parts = urlparse(url)
        local_path = not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
        same_site = parts.scheme == request.scheme and parts.netloc == request.host
        if local_path or same_site:
            return url
    return request.application_url + "/"


def step_url(request: Any, stage: str, came_from: str) -> str:
    return f"{request.application_url}/{STEP_VIEWS[stage]}?{urlencode({'came_from': came_from})}"


def login_stage(request: Any, user: User) -> str:
    """What the password step leads to: "full" (logged in), "device" (logged in: the second factor
    was passed in this browser lately), "code" (the factor is asked), "enrol" (one must be set up)."""
    if user.has_second_factor:
        if not under_attack(request.dbsession, user.login) and second_factor.device_remembered(request, user):
            return "device"
        return "code"
    return "enrol" if second_factor.required(request, user) else "full"


def finish_login(request: Any, user: User, how: str, came_from: str, remember_device: bool = False) -> HTTPFound:
    """The full session, in a new cookie; the audit entry; optionally this browser remembered."""
    headers = remember(request, user.login, how=how)
    audit.record(request, "login", user.principal, {"second_factor": how or "none"}, actor=user.login)
    flash(request, _("Welcome, ${name}.", mapping={"name": user.fullname or user.login}))
    if how == "recovery":
        left = second_factor.recovery_codes_left(request.dbsession, user)
        flash(request, _("You used a recovery code; ${count} are left. Make new ones on your account page.",
                         mapping={"count": left}))
    response = HTTPFound(came_from, headers=headers)
    if remember_device and how in ("totp", "recovery"):
        second_factor.remember_device(request, response, user)
    return response


def failed(request: Any, login: str, why: str, step: str) -> Any:
    audit.record(request, "login.failed", f"user:{login[:100]}", {"reason": why, "step": step}, actor="")
    request.response.status = 429 if why == "throttled" else 403
    return THROTTLED if why == "throttled" else None


@view_config(context=Portal, name="login", renderer=template("login.pt"))
def login(context: Portal, request: Any) -> Any:
    came_from = safe_came_from(request, request.params.get("came_from"))
    pending = current_session(request)
    if request.method == "GET" and pending is not None and pending.stage in STEP_VIEWS:
        return HTTPFound(step_url(request, pending.stage, came_from))  # a login half done goes on
    error = None
    login_name = request.POST.get("login", "").strip()
    if request.method == "POST":
        user, why = authenticate(request, login_name, request.POST.get("password", ""))
        if user is not None:
            stage = login_stage(request, user)
            if stage in ("full", "device"):
                return finish_login(request, user, "device" if stage == "device" else "", came_from)
            headers = remember(request, user.login, stage=stage)
            return HTTPFound(step_url(request, stage, came_from), headers=headers)
        error = failed(request, login_name, why, "password") or _("Wrong user name or password.")
    return {"came_from": came_from, "error": error, "login": login_name}


@view_config(context=Portal, name="login-code", renderer=template("login_code.pt"))
def login_code(context: Portal, request: Any) -> Any:
    """The second step: a code of the user's authenticator app, or one of their recovery codes."""
    came_from = safe_came_from(request, request.params.get("came_from"))
    pending = current_session(request)
    if pending is None or pending.stage != "code":
        return HTTPFound(f"{request.application_url}/@@login?{urlencode({'came_from': came_from})}")
    user = pending.user
    error = None
    if request.method == "POST":
        how, why = check_second_factor(request, user, request.POST.get("code", ""))
        if how is not None:
            return finish_login(request, user, how, came_from, remember_device="remember" in request.POST)
        error = failed(request, user.login, why, "code") or _("Wrong code. Enter the code your app shows now, "
                                                              "or one of your recovery codes.")
    return {"came_from": came_from, "error": error, "remember_days": portal_settings(request.registry)
            .remember_device_days}


@view_config(context=Portal, name="logout", request_method="POST")
def logout(context: Portal, request: Any) -> Any:
    session = current_session(request)
    if session is not None:
        audit.record(request, "logout", session.user.principal, actor=session.user.login)
    headers = forget(request)
    return HTTPFound(request.application_url + "/", headers=headers)

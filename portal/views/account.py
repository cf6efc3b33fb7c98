"""The account pages: one's second factor (`@@second-factor`), one's sessions and password
(`@@account`), and the managers' screen of every account (`@@users`, `@@users/<login>`: sessions
and API tokens to end, second factor to reset, disable and enable).

`@@second-factor` is also the enrolment step of a login (portal.views.auth): a session waiting
there has no identity, so this view checks the session itself instead of a permission. Pages
that show a secret or recovery codes are sent with `Cache-Control: no-store`. The secret of an
enrolment in progress is stored nowhere: the cookie session holds a random nonce, and the secret is
derived from it and the server-side session (second_factor.pending_secret), so the page that shows
it can be a GET (reading requests do not write) and the cookie alone does not tell it; it counts
for nothing until a code of it confirms it.
"""
from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.security import remember
from pyramid.view import view_config
from sqlalchemy import func, select

from .. import accounts, audit, second_factor
from ..accounts import AccountError
from ..i18n import _
from ..models import AuthToken, Portal, User, UserSession
from ..models.node import utcnow
from ..security import authenticate, check_second_factor, current_session
from . import flash, template
from .auth import THROTTLED, safe_came_from


PENDING_NONCE = "totp_pending_nonce"  # in the cookie session; see second_factor.pending_secret


def _no_store(request: Any) -> None:
    request.response.headers["Cache-Control"] = "no-store"


def _login_url(request: Any) -> str:
    return f"{request.application_url}/@@login?{urlencode({'came_from': request.url})}"


def _code_error(why: str | None) -> Any:
    return THROTTLED if why == "throttled" else _("Wrong code.")


@view_config(context=Portal, name="second-factor", renderer=template("second_factor.pt"))
def second_factor_view(context: Portal, request: Any) -> Any:
    """Set up (enrol), renew the recovery codes of, or remove one's second factor."""
    session = current_session(request)
    if session is None or session.stage not in ("full", "enrol"):
        return HTTPFound(_login_url(request))
    _no_store(request)
    user: User = session.user
    dbsession = request.dbsession
    came_from = safe_came_from(request, request.params.get("came_from"))
    required = second_factor.required(request, user)
    result: dict[str, Any] = {"user": user, "session": session, "required": required, "came_from": came_from,
                              "codes": None, "error": None, "qr": None, "secret": None}
    action = request.POST.get("action") if request.method == "POST" else None
    nonce = request.session.get(PENDING_NONCE)
    pending = second_factor.pending_secret(request, session.digest, nonce) if isinstance(nonce, str) else None
    if action == "enrol" and not user.has_second_factor and isinstance(pending, str):
        step = second_factor.matching_step(pending, request.POST.get("code", ""))
        if step is not None:
            codes = second_factor.enrol(dbsession, user, pending, step)
            request.session.pop(PENDING_NONCE, None)
            audit.record(request, "second_factor.enrolled", user.principal, actor=user.login)
            if session.stage == "enrol":  # the login goes on: a full session in a new cookie
                audit.record(request, "login", user.principal, {"second_factor": "totp"}, actor=user.login)
                remember(request, user.login, how="totp")
            result.update(codes=codes)
            return result
        result["error"] = _("Wrong code. Scan the QR code again or check the time of your phone.")
        request.response.status = 403
    elif action in ("renew", "remove") and user.has_second_factor and session.stage == "full":
        how, why = check_second_factor(request, user, request.POST.get("code", ""))
        if how is None:
            result["error"] = _code_error(why)
            request.response.status = 429 if why == "throttled" else 403
        elif action == "renew":
            result.update(codes=second_factor.new_recovery_codes(dbsession, user))
            audit.record(request, "recovery_codes.renewed", user.principal)
            return result
        else:
            second_factor.remove(dbsession, user)
            audit.record(request, "second_factor.removed", user.principal)
            if required:  # nothing else until a new one is set up
                session.stage = "enrol"
            flash(request, _("Your second factor was removed."))
            return HTTPFound(request.application_url + "/@@second-factor")
    if not user.has_second_factor:
        if pending is None:
            nonce = request.session[PENDING_NONCE] = secrets.token_urlsafe(16)
            pending = second_factor.pending_secret(request, session.digest, nonce)
        uri = second_factor.provisioning_uri(user, pending, second_factor.issuer(dbsession))
        result.update(qr=second_factor.qr_svg(uri), secret=second_factor.grouped(pending))
    else:
        result["codes_left"] = second_factor.recovery_codes_left(dbsession, user)
    return result


def _sessions_of(request: Any, user: User) -> dict[str, Any]:
    now = utcnow()
    sessions = request.dbsession.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.expires > now).order_by(UserSession.last_seen.desc())).all()
    tokens = request.dbsession.scalars(select(AuthToken).where(
        AuthToken.user_id == user.id, AuthToken.expires > now).order_by(AuthToken.created.desc())).all()
    return {"sessions": sessions, "tokens": tokens}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@view_config(context=Portal, name="account", permission="view", renderer=template("account.pt"))
def account_view(context: Portal, request: Any) -> Any:
    """One's own sessions (end one, or all others) and password."""
    user = request.identity
    if user is None:
        raise HTTPForbidden()
    current = current_session(request)
    error = None
    if request.method == "POST":
        session_id, token_id = _int(request.POST.get("end")), _int(request.POST.get("end_token"))
        if session_id is not None or token_id is not None:
            if accounts.end_user_sessions(request, user, session_id=session_id, token_id=token_id):
                flash(request, _("The session was ended."))
            return HTTPFound(request.application_url + "/@@account")
        if "end_others" in request.POST:
            accounts.end_user_sessions(request, user, keep=current)
            flash(request, _("Your other sessions were ended."))
            return HTTPFound(request.application_url + "/@@account")
        if "change_password" in request.POST:
            new = request.POST.get("new_password", "")
            checked, why = authenticate(request, user.login, request.POST.get("password", ""), record_login=False)
            if checked is None:
                error = THROTTLED if why == "throttled" else _("Your current password is wrong.")
                request.response.status = 429 if why == "throttled" else 403
            elif new != request.POST.get("new_password_again", ""):
                error = _("The two new passwords differ.")
                request.response.status = 400
            else:
                try:
                    accounts.change_password(request, user, new, keep=current)
                except AccountError:
                    error = _("The new password must have at least ${count} characters.",
                              mapping={"count": accounts.MIN_PASSWORD_LENGTH})
                    request.response.status = 400
                else:
                    flash(request, _("Your password was changed; your other sessions were ended."))
                    return HTTPFound(request.application_url + "/@@account")
    return {"user": user, "current": current, "error": error, "action_url": request.application_url + "/@@account",
            **_sessions_of(request, user)}


# -- managers --------------------------------------------------------------------------------

@view_config(context=Portal, name="users", permission="manage", renderer=template("users.pt"))
def users_view(context: Portal, request: Any) -> Any:
    """Every account (`@@users`), or one with its sessions and actions (`@@users/<login>`)."""
    if request.subpath:
        return user_view(context, request, request.subpath[0])
    now = utcnow()
    counts = dict(request.dbsession.execute(select(UserSession.user_id, func.count(UserSession.id)).where(
        UserSession.stage == "full", UserSession.expires > now).group_by(UserSession.user_id)).all())
    users = request.dbsession.scalars(select(User).order_by(User.login)).all()
    return {"users": users, "sessions": counts, "required": {u.id: second_factor.required(request, u) for u in users},
            "user": None}


USER_ACTIONS = ("end", "end_token", "end_all", "reset_second_factor", "disable", "enable")


def user_view(context: Portal, request: Any, login: str) -> Any:
    user = request.dbsession.scalar(select(User).where(User.login == login))
    if user is None:
        raise HTTPNotFound()
    request.override_renderer = template("user.pt")
    here = request.resource_url(context, "@@users", user.login)
    if request.method == "POST":
        action = next((a for a in USER_ACTIONS if a in request.POST), None)
        me = request.identity
        if action == "end" and _int(request.POST["end"]) is not None:
            if accounts.end_user_sessions(request, user, session_id=_int(request.POST["end"])):
                flash(request, _("The session was ended."))
        elif action == "end_token" and _int(request.POST["end_token"]) is not None:
            if accounts.end_user_sessions(request, user, token_id=_int(request.POST["end_token"])):
                flash(request, _("The session was ended."))
        elif action == "end_all":
            accounts.end_user_sessions(request, user)
            flash(request, _("Every session of ${login} was ended.", mapping={"login": user.login}))
        elif action == "reset_second_factor":
            accounts.reset_second_factor(request, user)
            flash(request, _("The second factor of ${login} was reset; they set up a new one at their next login.",
                             mapping={"login": user.login}))
        elif action == "disable" and user.id != me.id:
            accounts.disable_user(request, user)
            flash(request, _("${login} can no longer log in.", mapping={"login": user.login}))
        elif action == "enable":
            accounts.enable_user(request, user)
            flash(request, _("${login} can log in again.", mapping={"login": user.login}))
        return HTTPFound(here)
    recent = audit.entries(request.dbsession, actor=user.login, limit=20)[0]
    return {"user": user, "required": second_factor.required(request, user), "me": request.identity,
            "codes_left": second_factor.recovery_codes_left(request.dbsession, user), "recent": recent,
            "actions": audit.ACTIONS, "action_url": here, **_sessions_of(request, user)}

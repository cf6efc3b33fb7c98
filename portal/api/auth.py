"""`@login` hands out Bearer tokens; `@login-renew` exchanges one for a new one (12 hours more, for
up to RENEW_WITHIN after the password was given: then log in again); `@logout` withdraws the one
it is called with.

An account with a second factor sends its code (or a recovery code) with the password, as `otp`;
without it the answer is 401 with a field error on `otp` (and nothing is counted as a failure).
An account that must use a second factor and has none set it up on the web site first (403).
A remembered device does not apply here: every token needs the code.

A failed login answers with a JSON response rather than raising: an exception would abort the
transaction, and with it the LoginFailure row that throttles password guessing and the audit entry.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import delete, select

from .. import audit, second_factor
from ..i18n import _
from ..models import AuthToken, Node
from ..models.node import utcnow
from ..security import TOKEN_LIFETIME, authenticate, bearer_token, check_second_factor, digest, issue_token
from .errors import APIError, error_response, field_error, json_response, unauthorized
from .fields import read_body, refuse_unknown

THROTTLED = _("Too many failed attempts. Please wait 15 minutes and try again.")
RENEW_WITHIN = dt.timedelta(days=7)


def _failed(request: Any, login: str, why: str, step: str, message: Any, errors: list[Any] | None = None) -> Response:
    audit.record(request, "login.failed", f"user:{login[:100]}", {"reason": why, "step": step, "via": "api"},
                 actor="")
    if why == "throttled":
        return error_response(request, 429, THROTTLED, headers={"Retry-After": str(15 * 60)})
    return error_response(request, 401, message, errors)


@view_config(context=Node, name="@login", request_method="POST")
def login(context: Node, request: Any) -> Response:
    body = read_body(request)
    refuse_unknown(request, body, ("login", "password", "otp"))
    errors = [field_error(request, name, _("Required") if body.get(name) in (None, "") else _("Must be text"))
              for name in ("login", "password") if not isinstance(body.get(name), str) or not body[name]]
    if body.get("otp") is not None and not isinstance(body["otp"], str):
        errors.append(field_error(request, "otp", _("Must be text")))
    if errors:
        raise APIError(400, _("Send your login and password"), errors)
    login_name = body["login"].strip()
    user, why = authenticate(request, login_name, body["password"])
    if user is None:
        return _failed(request, login_name, why, "password", _("Wrong user name or password."))
    how = ""
    if user.has_second_factor:
        if not body.get("otp"):
            message = _("Send the code of your authenticator app (or a recovery code) as otp")
            return error_response(request, 401, message, [field_error(request, "otp", _("Required"))])
        how, why = check_second_factor(request, user, body["otp"])
        if how is None:
            wrong = _("Wrong code.")
            return _failed(request, user.login, why, "code", wrong, [field_error(request, "otp", wrong)])
    elif second_factor.required(request, user):
        return error_response(request, 403, _("Your account must use a second factor: set it up on the web site "
                                               "first (@@second-factor), then send its code as otp"))
    token = issue_token(request, user)
    audit.record(request, "login", user.principal, {"second_factor": how or "none", "via": "api"}, actor=user.login)
    return json_response({"token": token, "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                          "user": {"id": user.login, "fullname": user.fullname or user.login}})


@view_config(context=Node, name="@login-renew", request_method="POST")
def renew(context: Node, request: Any) -> Response:
    """plone.restapi's renewal: the token it is called with is withdrawn, a new one answered."""
    token = bearer_token(request)
    row = request.dbsession.scalar(select(AuthToken).where(AuthToken.digest == digest(token))) if token else None
    if row is None or request.identity is None:
        return unauthorized(request)
    if row.created < utcnow() - RENEW_WITHIN:
        return error_response(request, 401, _("Log in again: a token is renewed for 7 days after the password "
                                               "was given"))
    new = issue_token(request, row.user, logged_in=row.created)
    request.dbsession.delete(row)
    audit.record(request, "token.renewed", row.user.principal, {"via": "api"})
    return json_response({"token": new, "expires_in": int(TOKEN_LIFETIME.total_seconds())})


@view_config(context=Node, name="@logout", request_method="POST")
def logout(context: Node, request: Any) -> Response:
    token = bearer_token(request)
    if token is None or request.identity is None:
        return unauthorized(request)
    audit.record(request, "logout", request.identity.principal, {"via": "api"})
    request.dbsession.execute(delete(AuthToken).where(AuthToken.digest == digest(token)))
    return Response(status=204)

"""`@login` hands out Bearer tokens; `@logout` withdraws the one it is called with.

A failed login answers with a JSON response rather than raising: an exception would abort the
transaction, and with it the LoginFailure row that throttles password guessing.
"""
from __future__ import annotations

import hashlib
from typing import Any

from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import delete

from ..i18n import _
from ..models import AuthToken, Node
from ..security import TOKEN_LIFETIME, authenticate, bearer_token, issue_token
from .errors import APIError, error_response, field_error, json_response, unauthorized
from .fields import read_body


@view_config(context=Node, name="@login", request_method="POST")
def login(context: Node, request: Any) -> Response:
    body = read_body(request)
    errors = [field_error(request, name, _("Required") if body.get(name) in (None, "") else _("Must be text"))
              for name in ("login", "password") if not isinstance(body.get(name), str) or not body[name]]
    if errors:
        raise APIError(400, _("Send your login and password"), errors)
    user, why = authenticate(request, body["login"].strip(), body["password"])
    if user is None:
        if why == "throttled":
            return error_response(request, 429, _("Too many failed attempts. Please wait 15 minutes and try again."),
                                  headers={"Retry-After": str(15 * 60)})
        return error_response(request, 401, _("Wrong user name or password."))
    token = issue_token(request, user)
    return json_response({"token": token, "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                          "user": {"id": user.login, "fullname": user.fullname or user.login}})


@view_config(context=Node, name="@logout", request_method="POST")
def logout(context: Node, request: Any) -> Response:
    token = bearer_token(request)
    if token is None or request.identity is None:
        return unauthorized(request)
    digest = hashlib.sha256(token.encode()).hexdigest()
    request.dbsession.execute(delete(AuthToken).where(AuthToken.digest == digest))
    return Response(status=204)

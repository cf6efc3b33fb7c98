"""Log in and out. Failed logins are throttled per account and per address (portal.security)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pyramid.httpexceptions import HTTPFound
from pyramid.security import forget, remember
from pyramid.view import view_config

from ..i18n import _
from ..models import Portal
from ..security import authenticate
from . import flash, template


def safe_came_from(request: Any, url: str | None) -> str:
    """Only ever send people back to this site."""
    if url:
        parts = urlparse(url)
        local_path = not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
        same_site = parts.scheme == request.scheme and parts.netloc == request.host
        if local_path or same_site:
            return url
    return request.application_url + "/"


@view_config(context=Portal, name="login", renderer=template("login.pt"))
def login(context: Portal, request: Any) -> Any:
    came_from = safe_came_from(request, request.params.get("came_from"))
    error = None
    login_name = request.POST.get("login", "").strip()
    if request.method == "POST":
        user, why = authenticate(request, login_name, request.POST.get("password", ""))
        if user is not None:
            headers = remember(request, user.login)
            flash(request, _("Welcome, ${name}.", mapping={"name": user.fullname or user.login}))
            return HTTPFound(came_from, headers=headers)
        error = (_("Too many failed attempts. Please wait 15 minutes and try again.") if why == "throttled"
                 else _("Wrong user name or password."))
        request.response.status = 429 if why == "throttled" else 403
    return {"came_from": came_from, "error": error, "login": login_name}


@view_config(context=Portal, name="logout", request_method="POST")
def logout(context: Portal, request: Any) -> Any:
    headers = forget(request)
    return HTTPFound(request.application_url + "/", headers=headers)

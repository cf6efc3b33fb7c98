"""The visitor's display settings: larger text and high contrast (GB/T 37668, the 适老化 rules).

They work without JavaScript and without a session: a switch is a link to `@@display`, which
keeps the choice in a cookie of its own for a year and sends the visitor back. Pages stay the same
for everyone, so the page cache keeps them: every page links `@@display.css`, the one answer that
differs, which holds the rules of the visitor's settings (and says which switch of each pair to
show). It is revalidated on every page (`no-cache`, an ETag per setting): a 304 of a few bytes.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from ..models import Portal
from ..pagecache import do_not_cache
from .auth import safe_came_from

COOKIE = "portal_display"
SETTINGS = {"text": ("normal", "large"), "contrast": ("normal", "high")}
YEAR = 365 * 24 * 3600


def read_settings(request: Any) -> dict[str, str]:
    """The visitor's settings from the cookie ("text-large.contrast-high"); unknown parts ignored."""
    chosen = dict(part.split("-", 1) for part in request.cookies.get(COOKIE, "").split(".") if "-" in part)
    return {name: chosen[name] if chosen.get(name) in values else values[0] for name, values in SETTINGS.items()}


def cookie_value(settings: dict[str, str]) -> str:
    return ".".join(f"{name}-{value}" for name, value in sorted(settings.items()) if value != SETTINGS[name][0])


@lru_cache(maxsize=None)
def rules(name: str, value: str) -> str:
    """The stylesheet of one setting's value (themes/default/static/display/<name>-<value>.css)."""
    return resources.files("themes").joinpath(f"default/static/display/{name}-{value}.css").read_text("utf-8")


@view_config(context=Portal, name="display", request_method="GET")
def switch(context: Portal, request: Any) -> HTTPFound:
    do_not_cache(request)
    settings = read_settings(request)
    for name, values in SETTINGS.items():
        if request.params.get(name) in values:
            settings[name] = request.params[name]
    response = HTTPFound(safe_came_from(request, request.params.get("came_from")))
    value = cookie_value(settings)
    if value:
        response.set_cookie(COOKIE, value, max_age=YEAR, path="/", httponly=True, samesite="Lax",
                            secure=request.scheme == "https")
    else:
        response.delete_cookie(COOKIE, path="/")
    response.cache_control = "no-store"
    return response


@view_config(context=Portal, name="display.css", request_method="GET")
def stylesheet(context: Portal, request: Any) -> Response:
    do_not_cache(request)
    settings = read_settings(request)
    etag = cookie_value(settings) or "default"
    response = Response(content_type="text/css", charset="utf-8")
    response.etag = etag
    response.cache_control = "private, no-cache"
    response.vary = ("Cookie",)
    if etag in request.if_none_match:
        response.status_int = 304
        return response
    response.text = "".join(rules(name, value) for name, value in sorted(settings.items()))
    return response

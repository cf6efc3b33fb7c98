"""Error pages: not found (with redirects from old URLs), forbidden (log in first), a refused
request, a refusal of portal.content that a view did not show itself, and the page for anything
unexpected (logged, no traceback). JSON errors for API requests are in portal.api.errors, whose
views (`api_request=True`) sort before these."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import transaction
from pyramid.httpexceptions import HTTPBadRequest, HTTPException, HTTPFound, HTTPMovedPermanently
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config, view_config
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..content import Conflict, ContentError, Forbidden, Taken
from ..i18n import _
from ..models import Node, Redirect
from . import template

log = logging.getLogger(__name__)


def find_redirect(request: Any) -> str | None:
    """The current URL of a node that used to live at (a prefix of) the requested path."""
    path = request.path_info if request.path_info.endswith("/") else request.path_info + "/"
    segments = [s for s in path.split("/") if s]
    prefixes = ["/" + "/".join(segments[:i]) + "/" for i in range(len(segments), 0, -1)]
    rows = {r.old_path: r for r in request.dbsession.scalars(select(Redirect).where(Redirect.old_path.in_(prefixes)))}
    for prefix in prefixes:
        if prefix in rows:
            node = request.dbsession.get(Node, rows[prefix].node_id)
            rest = path[len(prefix):]
            url = request.application_url + node.path + rest
            url = url if request.path_info.endswith("/") or not rest else url.rstrip("/")
            return url + (f"?{request.query_string}" if request.query_string else "")
    return None


def doom(request: Any) -> None:
    """The request's changes must not be committed (there may be no transaction any more)."""
    try:
        request.tm.doom()
    except (transaction.interfaces.NoTransaction, AttributeError):
        pass


@notfound_view_config(renderer=template("notfound.pt"))
def notfound(request: Any) -> Any:
    target = find_redirect(request)
    if target is not None:
        return HTTPMovedPermanently(target)
    request.response.status = 404
    return {}


@forbidden_view_config(renderer=template("forbidden.pt"))
def forbidden(request: Any) -> Any:
    if request.identity is None and request.method == "GET":
        return HTTPFound(request.application_url + "/@@login?" + urlencode({"came_from": request.url}))
    request.response.status = 403
    return {}


@exception_view_config(Forbidden, renderer=template("forbidden.pt"))
def content_forbidden(exc: Forbidden, request: Any) -> Any:
    """portal.content refused the acting user: the same page as a view's own permission gives."""
    doom(request)
    return forbidden(request)


@view_config(context=HTTPBadRequest, renderer=template("error.pt"))
def bad_request(exc: HTTPBadRequest, request: Any) -> dict[str, Any]:
    """A refused request shown as a page of the site, with the reason in Chinese."""
    request.response.status = 400
    return {"message": exc.detail or _("The request could not be understood.")}


@exception_view_config(ContentError, renderer=template("error.pt"))
def content_error(exc: ContentError, request: Any) -> dict[str, Any]:
    """A refusal of portal.content that the view did not show in its own page (409 when someone
    else's change came first)."""
    doom(request)
    request.response.status = 409 if isinstance(exc, (Conflict, Taken)) else 400
    return {"message": exc.message}


@exception_view_config(Exception, renderer=template("error.pt"))
def server_error(exc: Exception, request: Any) -> Any:
    """Anything unexpected: logged with its traceback, shown as a page of the site that says
    nothing about it (a traceback tells an attacker about the code and the data)."""
    if isinstance(exc, HTTPException):  # Pyramid's own responses are answers, not failures
        return exc
    log.exception("page request failed: %s %s", request.method, request.path_info, exc_info=exc)
    doom(request)
    session = request.dbsession
    if isinstance(exc, SQLAlchemyError) or not session.is_active:
        # the failed transaction refuses every query, and the page around the message reads the
        # database; it is rolled back anyway (pyramid_tm aborts a request that raised)
        session.rollback()
    request.response.status = 500
    return {"heading": _("Something went wrong"),
            "message": _("Something went wrong on our side and your request was not completed. "
                         "Please try again later; if it keeps happening, tell the site's administrator.")}

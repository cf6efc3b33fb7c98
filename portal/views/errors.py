"""Error pages: not found (with redirects from old URLs), forbidden (log in first), a refused
request, a refusal of portal.content that a view did not show itself, and the page for anything
unexpected (logged, no traceback, drawn without the database). JSON errors for API requests are
in portal.api.errors, whose views (`api_request=True`) sort before these.

An item the request may not view looks missing: a refusal about it is answered by the very views
that answer a missing item (`as_missing`: 404, the same page or JSON, the same redirects), for
anonymous and logged-in users alike -- a 401, a 403 or a redirect to the login form would confirm
that something private lives at that address. Where the request may view the item but lacks the
permission asked for, the answer stays 403 (the API: 401 without a login; pages: the login form
for an anonymous GET)."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import transaction
from pyramid.httpexceptions import HTTPBadRequest, HTTPException, HTTPFound, HTTPMovedPermanently, HTTPNotFound
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config, view_config
from sqlalchemy import inspect, select
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
            if node is None or hidden(request, node):  # the new address of a private item is private
                return None
            rest = path[len(prefix):]
            url = request.application_url + node.path + rest
            url = url if request.path_info.endswith("/") or not rest else url.rstrip("/")
            return url + (f"?{request.query_string}" if request.query_string else "")
    return None


def hidden(request: Any, node: Any) -> bool:
    """Whether `node` must look missing to this request: it is an item the request may not view."""
    return isinstance(node, Node) and not request.has_permission("view", node)


def refused_node(request: Any, exc: Any) -> Any:
    """What a refusal was about: portal.content names its node; a view's permission, the context."""
    return exc.node if isinstance(exc, Forbidden) else getattr(request, "context", None)


def as_missing(request: Any) -> Response:
    """The answer to a request for a missing item, given by the same exception views (pages and
    API pick theirs by the usual predicates), so nothing tells the two apart."""
    doom(request)
    return request.invoke_exception_view((HTTPNotFound, HTTPNotFound(), None))


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
    """Refused: 404 when the request may not even view the item, else log in first or 403."""
    if hidden(request, refused_node(request, request.exception)):
        return as_missing(request)
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


def loaded_site_title(request: Any) -> str | None:
    """The portal's title, if traversal read it: nothing is asked of the database, which may be
    what failed."""
    root = getattr(request, "root", None)
    return inspect(root).dict.get("title") if isinstance(root, Node) else None


@exception_view_config(Exception, renderer=template("server_error.pt"))
def server_error(exc: Exception, request: Any) -> Any:
    """Anything unexpected: logged with its traceback, shown as a page that says nothing about it
    (a traceback tells an attacker about the code and the data). The page reads nothing from the
    database (server_error.pt stands without master.pt): the failure may be the database's."""
    if isinstance(exc, HTTPException):  # Pyramid's own responses are answers, not failures
        return exc
    log.exception("page request failed: %s %s", request.method, request.path_info, exc_info=exc)
    site_title = loaded_site_title(request)
    doom(request)
    try:
        session = request.dbsession
        if isinstance(exc, SQLAlchemyError) or not session.is_active:
            # the failed transaction refuses every query; it is rolled back anyway (pyramid_tm
            # aborts a request that raised)
            session.rollback()
    except Exception:  # noqa: BLE001 - a broken connection may refuse the rollback too
        log.debug("rollback after a failure failed", exc_info=True)
    request.response.status = 500
    translate = request.localizer.translate
    return {"site_title": site_title, "home": translate(_("Go to the home page")),
            "heading": translate(_("Something went wrong")),
            "message": translate(_("Something went wrong on our side and your request was not completed. "
                                   "Please try again later; if it keeps happening, tell the site's administrator."))}

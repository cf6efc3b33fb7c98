"""Not found (with redirects from old URLs) and forbidden (log in first) for pages; JSON errors are in
portal.api."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPBadRequest, HTTPFound, HTTPMovedPermanently
from pyramid.view import forbidden_view_config, notfound_view_config, view_config
from sqlalchemy import select

from ..i18n import _
from ..models import Node, Redirect
from . import template


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


@view_config(context=HTTPBadRequest, renderer=template("error.pt"))
def bad_request(exc: HTTPBadRequest, request: Any) -> dict[str, Any]:
    """A refused request shown as a page of the site, with the reason in Chinese."""
    request.response.status = 400
    return {"message": exc.detail or _("The request could not be understood.")}

"""Traversal in one query, and resource URLs straight from `Node.path` (Kotti's idea)."""
from __future__ import annotations

from typing import Any

from pyramid.events import ContextFound
from pyramid.httpexceptions import HTTPBadRequest
from pyramid.interfaces import ITraverser
from pyramid.traversal import split_path_info
from pyramid.tweens import INGRESS
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value
from zope.interface import implementer

from .i18n import _
from .models import Node, Portal

BAD_URL = _("The address contains characters that are not valid text (invalid UTF-8). Check the address and "
            "try again.")


def root_factory(request: Any) -> Portal:
    root = request.dbsession.scalar(select(Portal).where(Node.path == "/"))
    if root is None:
        raise RuntimeError("The portal has no root yet: run `portal -c <ini> init` first.")
    return root


@implementer(ITraverser)
class NodeTraverser:
    """Loads every prefix of the path at once, then walks the result.

    The first segment that is not a child is the view name (`@@name` or `@name` alike), the rest
    is the subpath.
    """

    def __init__(self, root: Portal) -> None:
        self.root = root

    def __call__(self, request: Any) -> dict[str, Any]:
        matchdict = getattr(request, "matchdict", None)
        if matchdict is not None:  # a route (e.g. static files): traverse only its `traverse` part
            traverse = matchdict.get("traverse", "/")
            path_info = "/".join(traverse) if isinstance(traverse, tuple) else (traverse or "/")
            route_subpath = tuple(matchdict.get("subpath", ()))
        else:
            path_info, route_subpath = request.path_info, ()
        segments = split_path_info(path_info)
        prefixes, path = [], "/"
        for segment in segments:
            if segment.startswith("@"):
                break
            path = f"{path}{segment}/"
            prefixes.append(path)
        found = {}
        if prefixes:
            found = {n.path: n for n in request.dbsession.scalars(select(Node).where(Node.path.in_(prefixes)))}
            # Each node holds its parent: the session keeps loaded objects only while something
            # refers to them, and every permission check walks up the parents (a query per parent
            # otherwise, about 5 ms a page for a logged-in user).
            for node in found.values():
                parent = found.get(node.path[:node.path.rstrip("/").rfind("/") + 1])
                if parent is None and node.parent_id == self.root.id:
                    parent = self.root
                if parent is not None and parent.id == node.parent_id:
                    set_committed_value(node, "parent", parent)
        context: Node = self.root
        traversed: list[str] = []
        view_name, subpath = "", ()
        for i, segment in enumerate(segments):
            child = found.get(f"{context.path}{segment}/") if not segment.startswith("@") else None
            if child is None:
                view_name = segment[2:] if segment.startswith("@@") else segment
                subpath = tuple(segments[i + 1:])
                break
            context = child
            traversed.append(segment)
        return {"context": context, "view_name": view_name, "subpath": subpath + route_subpath,
                "traversed": tuple(traversed),
                "virtual_root": self.root, "virtual_root_path": (), "root": self.root}


class NodeURL:
    """Resource URLs from the stored path, without walking the parents."""

    def __init__(self, resource: Node, request: Any) -> None:
        path = resource.path
        self.physical_path = self.virtual_path = path
        parts = tuple(p for p in path.split("/") if p)
        self.physical_path_tuple = self.virtual_path_tuple = ("",) + parts + ("",)


# Set in the environ by `valid_url_tween` when the URL was not UTF-8.
BAD_URL_KEY = "portal.bad_url"


def valid_url_tween(handler: Any, registry: Any) -> Any:
    """Make a URL whose path or query is not UTF-8 (`/%FF/`, `?q=%FF`) readable, and mark it.

    WebOb decodes both lazily and raises UnicodeDecodeError wherever they are first read (routing,
    traversal, the page's login link, the search box), which was a bare 500. Here, before anything
    reads them, the path's invalid bytes become U+FFFD and the query is dropped; `refuse_bad_url`
    then answers 400 once traversal has found the context and view name, so an API URL
    (`/@search?...`) gets the API's JSON error and a page the site's 400 page.
    """
    def tween(request: Any) -> Any:
        environ = request.environ
        try:
            request.path_info  # noqa: B018 - decoding is the check
        except UnicodeDecodeError:
            raw = environ.get("PATH_INFO", "").encode("latin-1")
            environ["PATH_INFO"] = raw.decode("utf-8", "replace").encode("utf-8").decode("latin-1")
            environ[BAD_URL_KEY] = True
        try:
            request.GET  # noqa: B018
        except UnicodeDecodeError:
            environ["QUERY_STRING"] = ""
            environ[BAD_URL_KEY] = True
        return handler(request)
    return tween


def refuse_bad_url(event: ContextFound) -> None:
    if event.request.environ.get(BAD_URL_KEY):
        raise HTTPBadRequest(BAD_URL)


def includeme(config: Any) -> None:
    config.add_tween("portal.traversal.valid_url_tween", under=INGRESS)
    config.add_subscriber(refuse_bad_url, ContextFound)
    config.set_root_factory(root_factory)
    config.add_traverser(NodeTraverser, Portal)
    config.add_resource_url_adapter(NodeURL, Node)

"""Traversal in one query, and resource URLs straight from `Node.path` (Kotti's idea)."""
from __future__ import annotations

from typing import Any

from pyramid.interfaces import ITraverser
from pyramid.traversal import split_path_info
from sqlalchemy import select
from zope.interface import implementer

from .models import Node, Portal


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


def includeme(config: Any) -> None:
    config.set_root_factory(root_factory)
    config.add_traverser(NodeTraverser, Portal)
    config.add_resource_url_adapter(NodeURL, Node)

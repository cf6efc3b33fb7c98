"""Public pages of the core: the portal home, a unit's home, and the generic item page."""
from __future__ import annotations

from typing import Any

from pyramid.view import view_config
from sqlalchemy import select

from ..models import Node, Portal, Unit
from ..registry import content_types, info_for
from ..visibility import public_now
from ..security import prefetch_local_roles
from . import template

PAGE_SIZE = 20


def visible(request: Any, nodes: list[Node]) -> list[Node]:
    """The nodes the request may view (local roles for all of them in one query)."""
    prefetch_local_roles(request, nodes)
    return [n for n in nodes if request.has_permission("view", n)]


def latest(request: Any, container: Node, limit: int = 8) -> list[Node]:
    """Newest published-and-visible items anywhere below `container`."""
    dated = [info.name for info in content_types(request.registry).values() if info.dated]
    rows = request.dbsession.scalars(
        select(Node).where(Node.path.like(f"{container.path}_%"), *public_now(), Node.type.in_(dated))
        .order_by(Node.published.desc()).limit(limit * 3)).all()
    return visible(request, list(rows))[:limit]


def paged(request: Any, nodes: list[Node]) -> dict[str, Any]:
    try:
        page = max(1, int(request.params.get("page", 1)))
    except ValueError:
        page = 1
    pages = max(1, (len(nodes) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(page, pages)
    return {"items": nodes[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "page": page, "pages": pages}


@view_config(context=Portal, permission="view", renderer=template("portal.pt"))
def portal_home(context: Portal, request: Any) -> dict[str, Any]:
    return {"latest": latest(request, context, 10)}


@view_config(context=Unit, permission="view", renderer=template("unit.pt"))
def unit_home(context: Unit, request: Any) -> dict[str, Any]:
    children = visible(request, context.values())
    columns = [(c, latest(request, c, 5)) for c in children if c.folderish]
    others = [c for c in children if not c.folderish]
    return {"columns": columns, "others": others, "latest": latest(request, context, 8)}


@view_config(context=Node, permission="view", renderer=template("item.pt"))
def item_view(context: Node, request: Any) -> dict[str, Any]:
    """Any item without a view of its own; folderish ones list their children."""
    result: dict[str, Any] = {"children": None, "info": info_for(request.registry, context)}
    if context.folderish:
        children = visible(request, context.values())
        children.sort(key=lambda n: (n.published or n.modified), reverse=True)
        result.update(paged(request, children), children=True)
    return result

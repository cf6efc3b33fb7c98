"""Public pages of the core: the portal home, a unit's home, and the generic item page."""
from __future__ import annotations

from typing import Any

from pyramid.authorization import Everyone
from pyramid.interfaces import ISecurityPolicy
from pyramid.view import view_config
from sqlalchemy import func, select

from ..home import home_blocks
from ..batching import PAGE_SIZE, batch, page_number
from ..models import Node, Portal, Unit
from ..pagecache.memo import versioned
from ..registry import content_types, info_for
from ..visibility import public_children_now, public_now
from ..security import prefetch_local_roles
from ..workflow import ROLES, STATES
from . import template

# The roles that view an item in every state (the Owner only their own).
EVERY_STATE_VIEWERS = frozenset.intersection(*(
    frozenset(ROLES if Everyone in s.permissions["view"] else s.permissions["view"]) for s in STATES.values())) - {"Owner"}


def visible(request: Any, nodes: list[Node]) -> list[Node]:
    """The nodes the request may view (local roles for all of them in one query)."""
    prefetch_local_roles(request, nodes)
    return [n for n in nodes if request.has_permission("view", n)]


# The names of a unit's 信息公开指南 and annual-report column (made with every unit by
# content_types.disclosure_catalogue), which its home shows as its 信息公开 entry points.
DISCLOSURE_GUIDE, ANNUAL_REPORTS = "xxgkzn", "ndbg"


# What a listing line shows (themes' listing_macros.pt): read as columns, so that no item and none
# of its type's own table is loaded for it.
LISTED = (Node.id, Node.type, Node.title, Node.path, Node.published, Node.modified, Node.state)


def latest(request: Any, container: Node, limit: int = 8, children_only: bool = False) -> list[Any]:
    """Newest public items below `container` (`children_only`: its own items, as its page lists
    them), as rows of `LISTED`. `public_now` is what everyone may view, so no row needs a
    permission check of its own. Children come from ix_nodes_parent_published; a subtree from
    ix_nodes_state_published, walked newest first until `limit` rows lie below the container."""
    dated = [info.name for info in content_types(request.registry).values() if info.dated]
    where = (public_children_now(container) if children_only
             else [Node.path.like(f"{container.path}_%"), *public_now()])
    return list(request.dbsession.execute(
        select(*LISTED).where(*where, Node.type.in_(dated)).order_by(Node.published.desc()).limit(limit)).all())


def paged(request: Any, nodes: list[Node]) -> dict[str, Any]:
    page, pages = page_number(request, len(nodes))
    return {"items": nodes[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "page": page, "pages": pages,
            "total": len(nodes)}


def public_children(request: Any, container: Node) -> dict[str, Any]:
    """A visitor's page of a container's children, newest first, counted and cut in SQL: for
    someone without an account `public_now` is exactly what they may view, so no child is loaded
    that the page does not show (ix_nodes_parent_published serves the order)."""
    return batch(request, select(Node), public_children_now(container), Node.published,
                 (f"tree:{container.id}",), ("public children", container.id)).as_dict()


def sees_every_child(request: Any, container: Node) -> bool:
    """Whether the user may view every child of `container` in every state: a role that views
    everything (`EVERY_STATE_VIEWERS`: the unit's editors, reviewers, managers) held here or
    globally, and no child that stops inheriting roles (its viewers are its own)."""
    policy = request.registry.getUtility(ISecurityPolicy)
    roles = {p.removeprefix("role:") for p in policy.base_principals(request) if p.startswith("role:")}
    roles |= policy.local_roles(request).roles_on(container)
    if roles.isdisjoint(EVERY_STATE_VIEWERS):
        return False
    # kept per version of the container's children (a change of sharing below bumps it too)
    return not versioned(request, (f"tree:{container.id}",), ("children with own roles", container.id),
                         lambda: request.dbsession.scalar(select(func.count(Node.id)).where(
                             Node.parent_id == container.id, Node.inherit_roles.is_(False))))


def all_children(request: Any, container: Node) -> dict[str, Any]:
    """A page of every child, newest first (drafts by their last change), cut in SQL; every
    change of a child bumps the container's tree tag, so the count is kept per version."""
    return batch(request, select(Node), [Node.parent_id == container.id],
                 func.coalesce(Node.published, Node.modified), (f"tree:{container.id}",),
                 ("children", container.id)).as_dict()


@view_config(context=Portal, permission="view", renderer=template("portal.pt"), kept_for_users=True)
def portal_home(context: Portal, request: Any) -> dict[str, Any]:
    """The blocks the packages contribute (portal.home); the newest items when there are none."""
    blocks = home_blocks(request, context)
    return {"blocks": blocks, "latest": [] if blocks else latest(request, context, 10)}


@view_config(context=Unit, permission="view", renderer=template("unit.pt"), kept_for_users=True)
def unit_home(context: Unit, request: Any) -> dict[str, Any]:
    children = visible(request, context.values())
    folders = [c for c in children if c.folderish]
    # every column's newest public items, the same for everyone: read once per version of the unit
    newest = versioned(request, (f"tree:{context.id}",), ("column boxes", context.id, tuple(c.id for c in folders)),
                       lambda: [latest(request, c, 6, children_only=True) for c in folders])
    columns = list(zip(folders, newest))
    # the disclosure guide and the annual reports (content_types.disclosure_catalogue) have their
    # place among the unit's 信息公开 entry points
    by_name = {c.name: c for c in children}
    guide, reports = by_name.get(DISCLOSURE_GUIDE), by_name.get(ANNUAL_REPORTS)
    others = [c for c in children if not c.folderish and c is not guide]
    # the unit's own latest items are shown only by a unit without columns
    return {"columns": columns, "others": others, "latest": [] if columns else latest(request, context, 8),
            "guide": guide, "reports": reports}


@view_config(context=Node, permission="view", renderer=template("item.pt"), kept_for_users=True)
def item_view(context: Node, request: Any) -> dict[str, Any]:
    """Any item without a view of its own; folderish ones list their children."""
    result: dict[str, Any] = {"children": None, "info": info_for(request.registry, context)}
    if context.folderish and request.authenticated_userid is None:
        result.update(public_children(request, context), children=True)
    elif context.folderish and sees_every_child(request, context):
        result.update(all_children(request, context), children=True)
    elif context.folderish:  # someone with roles on some children only: asked child by child
        children = visible(request, context.values())
        children.sort(key=lambda n: (n.published or n.modified), reverse=True)
        result.update(paged(request, children), children=True)
    return result

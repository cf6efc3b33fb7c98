"""Workflow screens: run a transition, the reviewers' queue, and an editor's own items."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from .. import content
from ..content import ContentError
from ..i18n import _
from ..models import Node, Portal, WorkflowEvent
from ..models.node import utcnow
from ..security import prefetch_local_roles
from ..workflow import STATES
from . import flash, template

CONTAINER_TYPES = ("Portal", "Unit")


@view_config(context=Node, name="transition", request_method="POST", permission="view")
def transition_view(context: Node, request: Any) -> Any:
    """portal.content.transition decides (its Forbidden is the 403 page); a refusal is flashed."""
    name = request.POST.get("transition", "")
    try:
        content.transition(request, context, name, request.POST.get("comment", ""))
    except ContentError as e:
        request.tm.doom()
        flash(request, e.message)
        return HTTPFound(request.resource_url(context))
    flash(request, _("Done: ${state}.", mapping={"state": request.localizer.translate(STATES[context.state].title)}))
    return HTTPFound(request.resource_url(context))


def waiting_items(request: Any) -> list[SimpleNamespace]:
    """Pending items and published items with a change to review, oldest first."""
    submitted = (select(WorkflowEvent.node_id, func.max(WorkflowEvent.at).label("at"))
                 .where(WorkflowEvent.to_state == "pending").group_by(WorkflowEvent.node_id).subquery())
    rows = request.dbsession.execute(
        select(Node, submitted.c.at).outerjoin(submitted, submitted.c.node_id == Node.id)
        .where(or_(Node.state == "pending", Node.draft.isnot(None)))).all()
    prefetch_local_roles(request, [n for n, _at in rows])
    now = utcnow()
    items = []
    for node, at in rows:
        if not request.has_permission("review", node):
            continue
        since = (node.draft_at if node.state == "published" else at) or node.modified
        items.append(SimpleNamespace(node=node, since=since, waited=now - since, change=node.state == "published"))
    items.sort(key=lambda i: i.since)
    return items


def waited_text(request: Any, delta: Any) -> str:
    days, hours = delta.days, delta.seconds // 3600
    if days:
        return request.localizer.translate(_("${days} days ${hours} hours", mapping={"days": days, "hours": hours}))
    return request.localizer.translate(_("${hours} hours ${minutes} minutes",
                                         mapping={"hours": hours, "minutes": delta.seconds % 3600 // 60}))


@view_config(context=Portal, name="review-queue", permission="review", renderer=template("review_queue.pt"))
def review_queue(context: Portal, request: Any) -> dict[str, Any]:
    items = waiting_items(request)
    for item in items:
        item.waited_text = waited_text(request, item.waited)
    return {"items": items}


@view_config(context=Portal, name="my-items", permission="view", renderer=template("my_items.pt"))
def my_items(context: Portal, request: Any) -> Any:
    user = request.identity
    if user is None:
        raise HTTPForbidden()
    nodes = request.dbsession.scalars(
        select(Node).where(or_(Node.owner == user.login, Node.draft_by == user.login),
                           Node.type.notin_(CONTAINER_TYPES))
        .order_by(Node.modified.desc()).limit(500)).all()
    prefetch_local_roles(request, nodes)
    # an item they may no longer view (their roles there were revoked) is not theirs to list
    items = [n for n in nodes if request.has_permission("view", n)]
    # a rejection is shown where the user may see the item's history (whose comments it quotes)
    rejected = content.rejections(request, [n for n in items if request.has_permission("history", n)])
    names = content.display_names(request, [e.actor for e in rejected.values()])
    return {"items": items, "rejected": rejected, "names": names}

"""Workflow screens: run a transition (with a confirmation step where it takes public content
offline), the reviewers' queue, and an editor's own items."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from .. import content
from ..content import ContentError
from ..i18n import _
from ..models import Node, Portal, WorkflowEvent
from ..models.node import utcnow
from ..security import prefetch_local_roles
from ..registry import type_info
from ..workflow import STATES, Transition, find_transition
from . import flash, template

CONTAINER_TYPES = ("Portal", "Unit")
CONFIRM_TEMPLATE = template("transition_confirm.pt")


def confirmation(request: Any, context: Node, t: Transition, comment: str = "", error: Any = None) -> Any:
    """The confirmation page of a transition that takes public content offline: what becomes
    unreachable (counts per type, a few titles), a required comment and the confirm button."""
    offline = content.goes_offline(request, context, t)
    by_type = []
    if offline is not None:
        for name, n in offline.by_type:
            info = type_info(request.registry, name)
            by_type.append((request.localizer.translate(info.title) if info else name, n))
    return render_to_response(CONFIRM_TEMPLATE, {
        "transition": t, "offline": offline, "by_type": by_type, "comment": comment,
        "error": request.localizer.translate(error) if error is not None else None,
    }, request=request)


def allowed(request: Any, context: Node, name: str) -> Transition | None:
    """The transition `name` if it is available; Forbidden (on GET too) when the user may not run it."""
    t = find_transition(context, name)
    if t is not None and not request.has_permission(t.permission, context):
        raise HTTPForbidden()
    return t


@view_config(context=Node, name="transition", request_method="GET", permission="view")
def confirm_view(context: Node, request: Any) -> Any:
    """`@@transition?transition=retract`: the confirmation page, for those who may run it (others
    get the 403 page on GET, not a form they cannot use)."""
    t = allowed(request, context, request.GET.get("transition", ""))
    if t is None:
        flash(request, content.NOT_AVAILABLE)
        return HTTPFound(request.resource_url(context))
    return confirmation(request, context, t)


@view_config(context=Node, name="transition", request_method="POST", permission="view")
def transition_view(context: Node, request: Any) -> Any:
    """portal.content.transition decides (its Forbidden is the 403 page); a refusal is flashed.

    A transition that takes public content offline (retracting a unit or a column) is only run
    from its confirmation page (`confirmed`); from the toolbar it shows that page instead."""
    name = request.POST.get("transition", "")
    comment = request.POST.get("comment", "")
    t = find_transition(context, name)
    needs_confirmation = (t is not None and request.has_permission(t.permission, context)
                          and content.goes_offline(request, context, t, examples=0) is not None)
    if needs_confirmation and request.POST.get("confirmed") != "1":
        return confirmation(request, context, t, comment)
    try:
        content.transition(request, context, name, comment)
    except ContentError as e:
        request.tm.doom()
        if needs_confirmation:
            return confirmation(request, context, t, comment, e.message)
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

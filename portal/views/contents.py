"""The folder contents screen: list children, reorder, rename, delete with confirmation, bulk submit.

Whether each change is allowed is decided by portal.content (edit on the folder to reorder, delete
on each item, the transition's permission); its Forbidden is the 403 page (portal.views.errors).
Every name a form sends is read through `selected`: a child the user may not view is not there for
them (ignored like a name that does not exist), so no answer, title or count tells that it exists.
"""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.view import view_config

from .. import content
from ..content import ContentError, Forbidden
from ..i18n import _
from ..models import Node
from ..security import prefetch_local_roles
from . import flash, template


def children_of(request: Any, context: Node) -> list[Node]:
    children = list(context.children)
    prefetch_local_roles(request, children)
    return [c for c in children if request.has_permission("view", c)]


# The screen is for the people who can change something in the folder: add to it (a unit's editors:
# a unit itself is the managers' to edit) or edit it (reorder). Anyone else would be shown
# checkboxes and buttons that only lead to a refusal.
CONTENTS_PERMISSIONS = ("add", "edit")


def can_manage_contents(request: Any, context: Node) -> bool:
    """Whether the request may use the contents screen of `context` (see CONTENTS_PERMISSIONS)."""
    return any(request.has_permission(p, context) for p in CONTENTS_PERMISSIONS)


@view_config(context=Node, name="contents", permission="view", renderer=template("contents.pt"))
def contents(context: Node, request: Any) -> Any:
    """`view` first: an item the request may not view is missing (404); then a refusal on any
    method, GET included, answered like any other (the login form for an anonymous GET, else 403)."""
    if not context.folderish:
        return HTTPFound(request.resource_url(context))
    if not can_manage_contents(request, context):
        raise HTTPForbidden()
    if request.method == "POST":
        return contents_action(context, request)
    return {"children": children_of(request, context), "confirm_delete": None}


def selected(request: Any, context: Node, permission: str | None = None) -> list[Node]:
    """The children named in the form that the user may view (and, if given, has `permission` on)."""
    names = set(request.POST.getall("names"))
    nodes = [c for c in context.children if c.name in names]
    prefetch_local_roles(request, nodes)
    return [c for c in nodes if request.has_permission("view", c)
            and (permission is None or request.has_permission(permission, c))]


def move_position(request: Any, context: Node, node: Node, direction: str) -> int:
    """Where `node` goes among all its siblings to pass its visible neighbour: items the user may
    not see are not counted (nor would a step past one of them show)."""
    visible = children_of(request, context)
    at = visible.index(node) + (-1 if direction == "up" else 1)
    if not 0 <= at < len(visible):
        return context.children.index(node)
    others = [c for c in context.children if c is not node]
    return others.index(visible[at]) + (0 if direction == "up" else 1)


def contents_action(context: Node, request: Any) -> Any:
    back = HTTPFound(request.resource_url(context, "@@contents"))
    if "move" in request.POST:
        name, _sep, direction = request.POST["move"].partition(":")
        node = next((c for c in context.children if c.name == name), None)
        if node is None or not request.has_permission("view", node):
            raise HTTPForbidden()  # the same for a name that is not there and one the user may not see
        content.move(request, node, move_position(request, context, node, direction))
        return back
    if "submit" in request.POST:
        done = 0
        for node in selected(request, context):
            try:
                content.transition(request, node, "submit")
                done += 1
            except (ContentError, Forbidden):  # not possible or not allowed for this one
                continue
        flash(request, _("${count} items submitted for review.", mapping={"count": done}))
        return back
    if "delete" in request.POST:
        nodes = selected(request, context, "delete")
        left_out = len(selected(request, context)) - len(nodes)
        if left_out:
            flash(request, _("${count} selected items are not yours to delete and were left out.",
                             mapping={"count": left_out}))
        if not nodes:
            if not left_out:
                flash(request, _("Select the items to delete first."))
            return back
        return {"children": children_of(request, context), "confirm_delete": nodes}
    if "confirm-delete" in request.POST:
        nodes = selected(request, context)
        for node in nodes:  # all or none: a Forbidden for one aborts the request (the 403 page)
            content.delete(request, node)
        flash(request, _("${count} items deleted.", mapping={"count": len(nodes)}))
        return back
    return back


@view_config(context=Node, name="rename", permission="rename", renderer=template("rename.pt"))
def rename(context: Node, request: Any) -> Any:
    error = None
    if request.method == "POST" and context.parent is not None:
        new_name = request.POST.get("name", "").strip()
        try:
            content.rename(request, context, new_name)
        except ContentError as e:
            request.tm.doom()
            error = e.message
        else:
            flash(request, _("Renamed. The old address now redirects here."))
            return HTTPFound(request.resource_url(context))
    return {"error": error}

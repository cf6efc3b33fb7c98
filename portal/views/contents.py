"""The folder contents screen: list children, reorder, rename, delete with confirmation, bulk submit.

Whether each change is allowed is decided by portal.content (edit on the folder to reorder, delete
on each item, the transition's permission); its Forbidden is the 403 page (portal.views.errors).
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


@view_config(context=Node, name="contents", permission="view", renderer=template("contents.pt"))
def contents(context: Node, request: Any) -> Any:
    if not context.folderish:
        return HTTPFound(request.resource_url(context))
    if request.method == "POST":
        return contents_action(context, request)
    return {"children": children_of(request, context), "confirm_delete": None}


def selected(request: Any, context: Node) -> list[Node]:
    names = set(request.POST.getall("names"))
    return [c for c in context.children if c.name in names]


def contents_action(context: Node, request: Any) -> Any:
    back = HTTPFound(request.resource_url(context, "@@contents"))
    if "move" in request.POST:
        name, _sep, direction = request.POST["move"].partition(":")
        node = next((c for c in context.children if c.name == name), None)
        if node is None:
            raise HTTPForbidden()
        siblings = list(context.children)
        content.move(request, node, siblings.index(node) + (-1 if direction == "up" else 1))
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
        nodes = selected(request, context)
        if not nodes:
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


@view_config(context=Node, name="rename", permission="edit", renderer=template("rename.pt"))
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

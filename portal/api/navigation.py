"""`@breadcrumbs`, `@navigation` and `@actions`, in plone.restapi's shapes, each also an
`@components` entry of every item (api.components).

Every list holds only what the request may view, as the pages' menus do.
"""
from __future__ import annotations

from typing import Any

from pyramid.view import view_config

from ..i18n import _
from ..models import Node
from ..security import prefetch_local_roles
from .components import component, expandable
from .errors import json_response
from .serialize import item_url

MAX_DEPTH = 4  # `expand.navigation.depth`: a county's units, their columns, and two levels below

# plone.restapi's action categories; each action is shown when the request holds its permission
# on the item (`folder` ones on containers only). The ids are Plone's; the pages are ours (@@name).
ACTIONS: dict[str, tuple[tuple[str, Any, str, bool], ...]] = {
    "object": (("view", _("View"), "view", False), ("edit", _("Edit"), "edit", False),
               ("folderContents", _("Contents"), "view", True), ("history", _("History"), "history", False),
               ("local_roles", _("Sharing"), "manage", False)),
    "object_buttons": (("rename", _("Rename"), "rename", False), ("delete", _("Delete"), "delete", False)),
}


def viewable(request: Any, nodes: list[Node]) -> list[Node]:
    prefetch_local_roles(request, nodes)
    return [n for n in nodes if request.has_permission("view", n)]


@expandable("breadcrumbs")
def breadcrumbs(request: Any, node: Node) -> dict[str, Any]:
    """The way from the root (`root`) down to the item, the root itself left out."""
    lineage = list(node.lineage())
    root = lineage[-1]
    trail = viewable(request, list(reversed(lineage[:-1])))
    return {"items": [{"@id": item_url(request, n), "title": n.title} for n in trail], "root": item_url(request, root)}


def tree_entry(request: Any, node: Node, depth: int) -> dict[str, Any]:
    children = viewable(request, list(node.children)) if depth > 1 and node.folderish else []
    return {"@id": item_url(request, node), "title": node.title, "description": node.description,
            "review_state": node.state, "items": [tree_entry(request, c, depth - 1) for c in children]}


@expandable("navigation")
def navigation(request: Any, node: Node) -> dict[str, Any]:
    """The site's top level (the root as 首页, then its children), `expand.navigation.depth` deep."""
    try:
        depth = min(max(1, int(request.params.get("expand.navigation.depth", 1))), MAX_DEPTH)
    except ValueError:
        depth = 1
    root = list(node.lineage())[-1]
    home = {"@id": item_url(request, root), "title": request.localizer.translate(_("Home")),
            "description": root.description, "review_state": root.state, "items": []}
    return {"items": [home, *(tree_entry(request, c, depth) for c in viewable(request, list(root.children)))]}


@expandable("actions")
def actions(request: Any, node: Node) -> dict[str, Any]:
    def entry(ident: str, title: Any) -> dict[str, str]:
        return {"id": ident, "title": request.localizer.translate(title), "icon": ""}

    out = {category: [entry(ident, title) for ident, title, permission, folder in listed
                      if (node.folderish or not folder) and request.has_permission(permission, node)]
           for category, listed in ACTIONS.items()}
    out["user"] = [entry("logout", _("Log out"))] if request.identity is not None else [entry("login", _("Log in"))]
    return out


@view_config(context=Node, name="@breadcrumbs", request_method="GET", permission="view")
@view_config(context=Node, name="@navigation", request_method="GET", permission="view")
@view_config(context=Node, name="@actions", request_method="GET", permission="view")
def component_view(context: Node, request: Any) -> Any:
    return json_response(component(request, context, request.view_name[1:]))

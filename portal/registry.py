"""The one type registry: everything the rest of the portal needs to know about a content type.

A type is described in exactly one module: its model, its colander schema and one `TypeInfo`
registered with `config.add_content_type(TypeInfo(...))` from that module's `includeme`. Forms,
the API, revisions and diffs, search and the item pages ask the registry; none of them names a
type or one of its fields (Kotti's `type_info`, Substance D's index views). Packages of types are
found through the `portal.content_types` entry point group, so a new package plugs in without
editing the core.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import colander
    from pyramid.registry import Registry
    from pyramid.request import Request

    from .models import Node

ENTRY_POINT_GROUP = "portal.content_types"
GENERIC_TEMPLATE = "themes:default/templates/item.pt"


@dataclass(frozen=True)
class TypeInfo:
    name: str  # the `@type` of the API and the polymorphic identity
    title: Any  # translation string shown to people
    factory: type[Node]
    schema: Callable[[Request, Node | None], colander.SchemaNode]  # (request, item being edited)
    addable_to: tuple[str, ...] = ()
    add_permission: str = "add"
    description: Any = ""
    # Dated items (news, documents) make up the "latest" listings of the portal and unit homes.
    dated: bool = False
    # The item page: its template and view (a function or dotted name returning the template's
    # values); the generic page, which lists a container's children, by default.
    template: str = GENERIC_TEMPLATE
    view: Callable[[Any, Any], Any] | str | None = None
    # Rich-text fields: sanitised on every write, shown as text in diffs and in search.
    html_fields: tuple[str, ...] = ()
    # Fields whose text is searched besides title and description (HTML fields as text).
    text_fields: tuple[str, ...] = ()
    # Upload fields (a blob reference or a list of them): their file names are searched.
    file_fields: tuple[str, ...] = ()
    # Listed in search results; containers are navigation, not results.
    searchable: bool = True
    # Extra index fields of this type: node -> {index field: value} (Substance D's index views);
    # the fields are the search engine's catalogue fields (search.backend.INDEX_FIELDS).
    index: Callable[[Node], Mapping[str, Any]] | None = None

    @property
    def folderish(self) -> bool:
        return self.factory.folderish

    def addable_in(self, container: Node) -> bool:
        return container.folderish and container.type in self.addable_to


def add_content_type(config: Any, info: TypeInfo) -> None:
    def register() -> None:
        config.registry.setdefault("content_types", {})[info.name] = info
    config.action(("portal-content-type", info.name), register)
    if info.template != GENERIC_TEMPLATE or info.view is not None:
        config.add_view(info.view or "portal.views.pages.item_view", context=info.factory, permission="view",
                        renderer=info.template)


def content_types(registry: Registry) -> dict[str, TypeInfo]:
    return registry.get("content_types", {})


def type_info(registry: Registry, name: str) -> TypeInfo | None:
    return content_types(registry).get(name)


def info_for(registry: Registry, node: Node) -> TypeInfo:
    """The type info of an item (every stored type is registered)."""
    return content_types(registry)[node.type]


def searchable_types(registry: Registry) -> list[str]:
    return [name for name, info in content_types(registry).items() if info.searchable]


def addable_types(request: Request, container: Node) -> list[TypeInfo]:
    if not container.folderish:
        return []
    return [info for info in content_types(request.registry).values()
            if info.addable_in(container) and request.has_permission(info.add_permission, container)]


def type_packages() -> list[str]:
    """The packages of content types installed (entry point group `portal.content_types`)."""
    return [entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)]


def includeme(config: Any) -> None:
    config.add_directive("add_content_type", add_content_type)

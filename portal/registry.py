"""The one type registry: what each content type is, where it may be added, how it is edited.

Types register themselves with `config.add_content_type(TypeInfo(...))` from their package's
`includeme`; the core looks them up by name and never imports a concrete content type.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import colander
    from pyramid.registry import Registry
    from pyramid.request import Request

    from .models import Node


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
    # View names a type adds to its item page (e.g. File's download link); templates read these.
    extra: dict[str, Any] = field(default_factory=dict)

    def addable_in(self, container: Node) -> bool:
        return container.folderish and container.type in self.addable_to


def add_content_type(config: Any, info: TypeInfo) -> None:
    def register() -> None:
        config.registry.setdefault("content_types", {})[info.name] = info
    config.action(("portal-content-type", info.name), register)


def content_types(registry: Registry) -> dict[str, TypeInfo]:
    return registry.get("content_types", {})


def type_info(registry: Registry, name: str) -> TypeInfo | None:
    return content_types(registry).get(name)


def addable_types(request: Request, container: Node) -> list[TypeInfo]:
    if not container.folderish:
        return []
    return [info for info in content_types(request.registry).values()
            if info.addable_in(container) and request.has_permission(info.add_permission, container)]


def includeme(config: Any) -> None:
    config.add_directive("add_content_type", add_content_type)

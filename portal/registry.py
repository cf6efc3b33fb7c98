"""The one type registry: everything the rest of the portal needs to know about a content type.

A type is described in exactly one module: its model, its colander schema and one `TypeInfo`
registered with `config.add_content_type(TypeInfo(...))` from that module's `includeme`. Forms,
the API, revisions and diffs, search and the item pages ask the registry; none of them names a
type or one of its fields (Kotti's `type_info`, Substance D's index views). Packages of types are
found through the `portal.content_types` entry point group, so a new package plugs in without
editing the core.

Where an item should be added (news into a news column, not loose at a unit's root) is decided by
one placement rule, registered by a package with `config.set_placement(rule)`: the add menu and
the API's `addable_types` both ask `add_choices`, so they cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

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
    # The kinds of container (words of the placement rule's package, e.g. column kinds) this
    # type's items belong in, the first being where loose items are filed; empty: anywhere it is
    # addable. The core does not read the words; the placement rule does (see `set_placement`).
    belongs_in: tuple[str, ...] = ()
    # Who may download this type's files, beyond `view`: (request, item) -> bool, asked by the
    # download views (portal.views.files), e.g. data whose files only staff may fetch while its
    # description is public; None: whoever may view the item.
    may_download: Callable[[Any, Node], bool] | None = None
    # Read-only keys this type adds to its item's JSON, beyond its fields and columns:
    # (request, item) -> {key: JSON value}, e.g. where a dataset stands in an outside catalogue.
    api_extra: Callable[[Any, Node], Mapping[str, Any]] | None = None
    # The field naming where an item comes from (来源, 发布机构): the author of its feed entries.
    source_field: str = ""
    # Other names the API accepts for this type (never answers): plone.restapi's names of the
    # same kind of item, e.g. "Document" for Page, so that its clients work unchanged.
    aliases: tuple[str, ...] = ()

    @property
    def folderish(self) -> bool:
        return self.factory.folderish

    def addable_in(self, container: Node) -> bool:
        return container.folderish and container.type in self.addable_to


# Where a type's items belong inside a container that may hold them: None (no opinion: offered
# there), or the containers to add them to instead -- the container itself, some of its children
# (the columns of a unit), or none (not offered there). Addability (`addable_to`) still bounds it.
PlacementRule = Callable[["Node", TypeInfo], "Sequence[Node] | None"]


@dataclass(frozen=True)
class AddChoice:
    """One entry of the add menu: add `info` in `container`, which is the context or one of its
    columns (then the entry leads to that column's add form)."""
    info: TypeInfo
    container: Node
    elsewhere: bool = False


def add_content_type(config: Any, info: TypeInfo) -> None:
    def register() -> None:
        config.registry.setdefault("content_types", {})[info.name] = info
    config.action(("portal-content-type", info.name), register)
    if info.template != GENERIC_TEMPLATE or info.view is not None:
        config.add_view(info.view or "portal.views.pages.item_view", context=info.factory, permission="view",
                        renderer=info.template, kept_for_users=True)  # a public page (portal.pagecache)


def content_types(registry: Registry) -> dict[str, TypeInfo]:
    return registry.get("content_types", {})


def type_info(registry: Registry, name: str) -> TypeInfo | None:
    return content_types(registry).get(name)


def find_type(registry: Registry, name: Any) -> TypeInfo | None:
    """The type called `name` or known by it as an alias (`TypeInfo.aliases`)."""
    if not isinstance(name, str):
        return None
    types = content_types(registry)
    return types.get(name) or next((info for info in types.values() if name in info.aliases), None)


def info_for(registry: Registry, node: Node) -> TypeInfo:
    """The type info of an item (every stored type is registered)."""
    return content_types(registry)[node.type]


def searchable_types(registry: Registry) -> list[str]:
    return [name for name, info in content_types(registry).items() if info.searchable]


def set_placement(config: Any, rule: PlacementRule) -> None:
    """Register the placement rule; a second package registering one is a configuration conflict
    (one place decides where things go)."""
    def register() -> None:
        config.registry["placement_rule"] = rule
    config.action("portal-placement-rule", register)


def placement(registry: Registry, container: Node, info: TypeInfo) -> Sequence[Node] | None:
    rule = registry.get("placement_rule")
    return None if rule is None else rule(container, info)


def add_choices(request: Request, container: Node) -> list[AddChoice]:
    """What the add menu offers in `container`: the types that belong there, then the types that
    belong in one of its columns, each leading to that column -- so a unit's root does not invite
    news or documents loose at the root. The acting user's add permission is asked where the item
    would go."""
    if not container.folderish:
        return []
    here: list[AddChoice] = []
    elsewhere: list[AddChoice] = []
    for info in content_types(request.registry).values():
        if not info.addable_in(container):
            continue
        where = placement(request.registry, container, info)
        for target in ([container] if where is None else where):
            if target is container:
                if request.has_permission(info.add_permission, container):
                    here.append(AddChoice(info, container))
            elif info.addable_in(target) and request.has_permission(info.add_permission, target):
                elsewhere.append(AddChoice(info, target, elsewhere=True))
    return here + elsewhere


def addable_types(request: Request, container: Node) -> list[TypeInfo]:
    """The types offered for adding in `container` itself (the API's `addable_types`)."""
    return [choice.info for choice in add_choices(request, container) if not choice.elsewhere]


def type_packages() -> list[str]:
    """The packages of content types installed (entry point group `portal.content_types`)."""
    return [entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)]


def includeme(config: Any) -> None:
    config.add_directive("add_content_type", add_content_type)
    config.add_directive("set_placement", set_placement)

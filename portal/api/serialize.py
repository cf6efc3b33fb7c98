"""Items as JSON, in plone.restapi's shape.

Dates are ISO 8601 in UTC with the offset (`+00:00`), so a client that sends one back gets the
same moment (a date-time without an offset is read as Beijing time). Files and images are never
inlined: they are links to the download and image-scale views of portal.views.files.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable
from urllib.parse import urlencode

from ..content import load_value
from ..images import SCALES
from ..models import Node
from ..registry import addable_types, type_info
from ..security import prefetch_local_roles
from ..workflow import STATES, allowed_transitions
from .components import components
from .richtext import TEXT, as_rich_text, text_field


BATCH_SIZE = 25
MAX_BATCH_SIZE = 1000
# What an item's JSON holds besides its type's fields (and `text`, see api.richtext). A client may
# send them back with an edit (an item read with GET is a valid PATCH body); they are not written.
ITEM_KEYS = frozenset({
    "@components", "@id", "@type", "type_title", "UID", "id", "node_id", "review_state", "review_state_title", "created", "modified",
    "published", "version", "parent", "is_folderish", "allowed_transitions", "items", "items_total",
    "batching", "addable_types", "has_pending_change", "pending_change", "pending_change_by", "pending_change_at",
})


def iso(value: Any) -> Any:
    """Naive datetimes are UTC (as stored); other values pass through."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def etag(node: Node) -> str:
    return f"{node.id}-{node.version}"


def is_blob(value: Any) -> bool:
    return isinstance(value, dict) and "hash" in value


def scale_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size Pillow's `thumbnail((longest, longest))` gives, as portal.images makes the scales."""
    if width <= longest and height <= longest:
        return width, height

    def round_aspect(number: float, key: Any) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    x = y = longest
    aspect = width / height
    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def blob_url(request: Any, node: Node, path: str) -> str:
    """`path` is the field name, and `<field>/<n>` for an item of a list field."""
    return request.resource_url(node, "@@download", *path.split("/"))


def blob(request: Any, node: Node, ref: dict[str, Any], path: str, links: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"filename": ref.get("filename"), "content-type": ref.get("content_type"),
                           "size": ref.get("size")}
    if "title" in ref:  # an attachment's title (files stored before titles existed have none)
        out["title"] = ref["title"]
    if links:
        out["download"] = blob_url(request, node, path)
    if "width" in ref:
        out.update(width=ref["width"], height=ref["height"])
        if links:
            scales = {}
            for name, longest in SCALES.items():
                width, height = scale_size(ref["width"], ref["height"], longest)
                scales[name] = {"download": request.resource_url(node, "@@images", *path.split("/"), name),
                                "width": width, "height": height}
            out["scales"] = scales
    return out


def field_value(request: Any, node: Node, name: str, value: Any, links: bool = True) -> Any:
    if is_blob(value):
        return blob(request, node, value, name, links)
    if isinstance(value, list) and value and all(is_blob(v) for v in value):
        return [blob(request, node, v, f"{name}/{i}", links) for i, v in enumerate(value)]
    return iso(value)


def read_only(factory: type[Node]) -> list[str]:
    """Columns a type keeps besides its editable fields, e.g. a disclosure's 索引号."""
    names: list[str] = []
    for cls in factory.__mro__:
        table = cls.__dict__.get("__table__")
        if cls is Node or table is None or not (isinstance(cls, type) and issubclass(cls, Node)):
            continue
        names += [c.key for c in table.columns if not c.primary_key and c.key not in factory.fields]
    return names


def fields(request: Any, node: Node) -> dict[str, Any]:
    """The editable fields, plone.restapi's `text` for the rich-text one, then the read-only columns."""
    names = list(node.fields) + read_only(type(node))
    data = {name: field_value(request, node, name, getattr(node, name)) for name in names}
    rich = text_field(type_info(request.registry, node.type))
    if rich is not None:
        data[TEXT] = as_rich_text(getattr(node, rich))
    return data


def pending_change(request: Any, node: Node) -> dict[str, Any]:
    """The draft's fields; its files have no links yet (the download views serve the published ones)."""
    cls = type(node)
    return {name: field_value(request, node, name, load_value(cls, name, value), links=False)
            for name, value in (node.draft or {}).items()}


def item_url(request: Any, node: Node) -> str:
    """plone.restapi's `@id`: the item's URL without a trailing slash (the root's too)."""
    return request.resource_url(node).rstrip("/")


def type_title(request: Any, node: Node) -> str:
    info = type_info(request.registry, node.type)
    return request.localizer.translate(info.title) if info is not None else node.type


# What `metadata_fields` may ask of any item (plone.restapi's catalog metadata columns, as far as
# the portal has them); a type's own fields may be asked for too. `_all` asks for these.
METADATA: dict[str, Callable[[Node], Any]] = {
    "UID": lambda n: n.uid, "Creator": lambda n: n.owner, "created": lambda n: iso(n.created),
    "modified": lambda n: iso(n.modified), "effective": lambda n: iso(n.effective),
    "expires": lambda n: iso(n.expires), "published": lambda n: iso(n.published), "id": lambda n: n.name,
    "getId": lambda n: n.name, "portal_type": lambda n: n.type, "Title": lambda n: n.title,
    "Description": lambda n: n.description, "review_state": lambda n: n.state,
    "is_folderish": lambda n: n.folderish, "getPath": lambda n: n.path.rstrip("/") or "/",
}


def metadata_fields(request: Any) -> list[str]:
    """The `metadata_fields` asked for (repeated, or comma-separated)."""
    names = [name.strip() for value in request.params.getall("metadata_fields") for name in value.split(",")]
    if "_all" in names:
        names = list(METADATA) + [name for name in names if name != "_all"]
    return [name for name in dict.fromkeys(names) if name]


def metadata(request: Any, node: Node, names: list[str]) -> dict[str, Any]:
    """The asked-for metadata of `node`; a name it has not is left out."""
    own = set(node.fields) | set(read_only(type(node)))
    out: dict[str, Any] = {}
    for name in names:
        if name in METADATA:
            out[name] = METADATA[name](node)
        elif name in own:
            out[name] = field_value(request, node, name, getattr(node, name))
    return out


def summary(request: Any, node: Node, names: list[str] = ()) -> dict[str, Any]:
    """What a listing shows of an item: plone.restapi's summary, ours, and the `metadata_fields`."""
    return {"@id": item_url(request, node), "@type": node.type, "type_title": type_title(request, node),
            "title": node.title, "description": node.description, "review_state": node.state,
            "UID": node.uid, "id": node.name, "node_id": node.id, "is_folderish": node.folderish,
            "created": iso(node.created), "modified": iso(node.modified), "effective": iso(node.effective),
            **metadata(request, node, names)}


def visible_children(request: Any, node: Node) -> list[Node]:
    children = list(node.children)
    prefetch_local_roles(request, children)
    return [c for c in children if request.has_permission("view", c)]


def transitions(request: Any, node: Node) -> list[dict[str, Any]]:
    if node.parent is None:
        return []
    return [{"@id": f"{item_url(request, node)}/@workflow/{t.name}", "id": t.name,
             "title": request.localizer.translate(t.title)} for t in allowed_transitions(request, node)]


def item(request: Any, node: Node) -> dict[str, Any]:
    """The full item, as far as this request may see it."""
    parent = node.parent
    data: dict[str, Any] = {
        "@components": components(request, node),
        "@id": item_url(request, node), "@type": node.type, "type_title": type_title(request, node),
        "UID": node.uid, "id": node.name, "node_id": node.id,
        "title": node.title, "description": node.description, "review_state": node.state,
        "review_state_title": request.localizer.translate(STATES[node.state].title) if node.state in STATES else "",
        "created": iso(node.created), "modified": iso(node.modified), "effective": iso(node.effective),
        "expires": iso(node.expires), "published": iso(node.published), "version": node.version,
        "parent": {}, "is_folderish": node.folderish,
    }
    if parent is not None:
        data["parent"] = (summary(request, parent) if request.has_permission("view", parent)
                          else {"@id": item_url(request, parent)})
    data.update(fields(request, node))
    info = type_info(request.registry, node.type)
    if info is not None and info.api_extra is not None:
        data.update(info.api_extra(request, node))
    if request.has_permission("history", node):
        data["has_pending_change"] = node.draft is not None
        data["pending_change"] = pending_change(request, node) if node.draft is not None else None
        data["pending_change_by"] = node.draft_by
        data["pending_change_at"] = iso(node.draft_at)
    data["allowed_transitions"] = transitions(request, node)
    if node.folderish:
        children = visible_children(request, node)
        shown, batching = batch(request, item_url(request, node), children)
        names = metadata_fields(request)
        data["items"] = [summary(request, c, names) for c in shown]
        data["items_total"] = len(children)
        if batching:
            data["batching"] = batching
        data["addable_types"] = [info.name for info in addable_types(request, node)]
    return data


def batch_params(request: Any) -> tuple[int, int]:
    """plone.restapi's `b_start` and `b_size` (25 by default, at most MAX_BATCH_SIZE)."""
    try:
        start = max(0, int(request.params.get("b_start", 0)))
        size = min(max(1, int(request.params.get("b_size", BATCH_SIZE))), MAX_BATCH_SIZE)
    except ValueError:
        start, size = 0, BATCH_SIZE
    return start, size


def batching(request: Any, url: str, total: int, start: int, size: int) -> dict[str, str] | None:
    """plone.restapi's `batching` links for a listing at `url` (None when one batch holds it all);
    each keeps the request's other parameters."""
    if start == 0 and total <= size:
        return None
    kept = [(k, v) for k, v in request.params.items() if k not in ("b_start", "b_size")]

    def link(at: int) -> str:
        return f"{url}?{urlencode([('b_start', at), ('b_size', size), *kept])}"

    last = max(0, (total - 1) // size * size)
    links = {"@id": f"{url}?{request.query_string}" if request.query_string else url,
             "first": link(0), "last": link(last)}
    if start + size < total:
        links["next"] = link(start + size)
    if start > 0:
        links["prev"] = link(max(0, start - size))
    return links


def batch(request: Any, url: str, children: list[Any]) -> tuple[list[Any], dict[str, str] | None]:
    """The batch of `children` (items, entries) the request asks for, and its links."""
    start, size = batch_params(request)
    return children[start:start + size], batching(request, url, len(children), start, size)

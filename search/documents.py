"""What the index holds for a node: its text and catalogue fields, and who may find it.

Indexing lives outside the models (Substance D's idea): the type registry says which fields of a
type are text, which are files and which extra index fields it has (`TypeInfo.index`), and
`portal.visibility` says who may view it; nothing here names a type or one of its fields.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from pyramid.registry import Registry

from portal.models import Node, Unit
from portal.registry import content_types
from portal.sanitize import html_to_text
from portal.schemas import to_local
from portal.visibility import Grants, viewers

from .backend import INDEX_FIELDS


def indexable(registry: Registry, node: Node) -> bool:
    info = content_types(registry).get(node.type)
    return info is not None and info.searchable and node.parent_id is not None


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """The database keeps naive UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


def file_names(node: Node, names: Sequence[str]) -> list[str]:
    found = []
    for name in names:
        value = getattr(node, name, None)
        for ref in (value if isinstance(value, list) else [value]):
            if isinstance(ref, dict) and ref.get("filename"):
                found.append(ref["filename"])
    return found


def document(registry: Registry, dbsession: Any, node: Node, lineage: Sequence[Node] | None = None,
             grants: Grants | None = None) -> dict[str, Any]:
    """The index document of `node`; a bulk caller passes the `lineage` (node first) and the local
    role `grants` it already holds (see `portal.visibility.viewers`)."""
    info = content_types(registry)[node.type]
    texts = []
    for name in info.text_fields:
        value = getattr(node, name, None)
        if value:
            texts.append(html_to_text(value) if name in info.html_fields else value)
    texts += file_names(node, info.file_fields)
    unit = next((n for n in lineage if isinstance(n, Unit)), None) if lineage is not None else node.unit()
    doc: dict[str, Any] = {
        "id": str(node.id),
        "path": node.path,
        "title": node.title or "",
        "description": node.description or "",
        "text": "\n".join(texts),
        "type": node.type,
        "state": node.state,
        "unit": unit.title if unit is not None else "",
        "unit_title": unit.full_name if unit is not None else "",
        "published": aware(node.published),
        "modified": aware(node.modified),
        "effective": aware(node.effective),
        "expires": aware(node.expires),
        "allowed": viewers(dbsession, node, lineage, grants),
    }
    if info.index is not None:
        extra = dict(info.index(node))
        unknown = set(extra) - set(INDEX_FIELDS)
        if unknown:  # a programming error of the type: name it, rather than fail deep in the engine
            raise ValueError(f"{node.type}'s index function returned {sorted(unknown)}; "
                             f"the index has {', '.join(INDEX_FIELDS)}")
        doc.update(extra)
    when = to_local(node.published or node.created)
    if when is not None:
        doc["year"] = str(when.year)  # the year in China, as 发布日期 shows it
    return doc

"""What the index holds for a node: its text and catalogue fields, and who may find it.

Indexing lives outside the models (Substance D's idea): one function reads any node through
its declared fields, so a new content type is searchable without code here.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

from pyramid.authorization import Everyone
from sqlalchemy import select

from portal.models import LocalRole, Node, Unit
from portal.sanitize import html_to_text
from portal.schemas import to_local
from portal.workflow import STAFF_VIEW, STATES

# Containers are navigation, not search results.
NOT_INDEXED = ("Portal", "Unit", "Folder")
TEXT_FIELDS = ("summary", "body")
FILE_FIELDS = ("file", "image", "lead_image", "attachments")
# Catalogue fields copied as they are (when the type has them).
COPIED = {"subject": "subject", "genre": "genre", "doc_number": "doc_number", "index_number": "index_number"}


def indexable(node: Node) -> bool:
    return node.type not in NOT_INDEXED and node.parent_id is not None


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """The database keeps naive UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


def allowed_principals(dbsession: Any, node: Node, lineage: Sequence[Node] | None = None,
                       local_roles: Mapping[int, list[tuple[str, str]]] | None = None) -> list[str]:
    """Principals that may view the node in its state, as the security policy would decide.

    The workflow state names roles; a role becomes the principals holding it: `role:<R>` for
    the groups' global roles, the owner for Owner, and every user or group granted R locally
    on the node or a parent (up to where inheritance is blocked). The effective/expiry window
    is not here: the query applies it at search time, so time passing needs no reindex.
    A bulk caller passes the `lineage` (node first) and every node's `local_roles` it already
    holds, instead of a lookup per node.
    """
    roles = set(STATES[node.state].permissions["view"])
    principals: set[str] = set()
    if Everyone in roles:
        principals.add(Everyone)
        roles |= set(STAFF_VIEW)  # who still sees a public item outside its dates (portal.workflow)
    if "Owner" in roles and node.owner:
        principals.add(f"user:{node.owner}")
    principals |= {f"role:{r}" for r in roles if r not in (Everyone, "Owner")}
    chain = []
    for n in node.lineage() if lineage is None else lineage:
        chain.append(n.id)
        if not n.inherit_roles:
            break
    if local_roles is None:
        granted = dbsession.execute(select(LocalRole.principal, LocalRole.role).where(LocalRole.node_id.in_(chain)))
    else:
        granted = [row for node_id in chain for row in local_roles.get(node_id, ())]
    for principal, role in granted:
        if role in roles:
            principals.add(principal)
    return sorted(principals)


def file_names(node: Node) -> list[str]:
    names = []
    for name in FILE_FIELDS:
        value = getattr(node, name, None) if name in node.fields else None
        for ref in (value if isinstance(value, list) else [value]):
            if isinstance(ref, dict) and ref.get("filename"):
                names.append(ref["filename"])
    return names


def document(dbsession: Any, node: Node, lineage: Sequence[Node] | None = None,
             local_roles: Mapping[int, list[tuple[str, str]]] | None = None) -> dict[str, Any]:
    """The index document of `node` (`lineage` and `local_roles`: see `allowed_principals`)."""
    texts = [html_to_text(getattr(node, f)) if f == "body" else getattr(node, f)
             for f in TEXT_FIELDS if f in node.fields and getattr(node, f, None)]
    texts += file_names(node)
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
        "allowed": allowed_principals(dbsession, node, lineage, local_roles),
    }
    keywords = getattr(node, "keywords", "") if "keywords" in node.fields else ""
    if keywords:
        doc["keywords"] = keywords.replace("，", " ").replace(",", " ").split()
    for attr, key in COPIED.items():
        value = getattr(node, attr, None)
        if isinstance(value, str) and value:
            doc[key] = value
    when = to_local(node.published or node.created)
    if when is not None:
        doc["year"] = str(when.year)  # the year in China, as 发布日期 shows it
    return doc

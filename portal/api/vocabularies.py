"""`@vocabularies` and `@vocabularies/<name>`: the lists a client offers to choose from.

Two kinds, so that no list is written twice:

- every field of a type's schema that takes one of a fixed list of values (a colander `OneOf`,
  e.g. a disclosure's 主题分类 and 体裁, a column's kind) is the vocabulary `<Type>.<field>`
  (`Disclosure.subject`), read from the schema itself; the type's JSON schema (api.types) links
  its fields to them;
- the portal's own lists: `portal.types`, `portal.units` (what the `unit` filter of `@search`
  takes), `portal.review_states` and `portal.roles` (the roles of `@sharing`).

An entry is `{"token", "title"}`; `?title=` keeps the entries whose title holds the text,
`?token=` the ones with that token (repeat it for several); `b_start`/`b_size` batch them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import colander
from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select

from ..models import Node, Unit
from ..registry import TypeInfo, content_types
from ..sharing import SHARING_ROLES
from ..workflow import STATES
from .errors import json_response
from .serialize import batch, item_url

Entries = list[tuple[str, Any]]  # (token, title: text or translation string)


def one_of(node: colander.SchemaNode) -> tuple[Any, ...] | None:
    """The values a field must take, when its validator (or one in an `All`) is a `OneOf`."""
    pending = [node.validator]
    while pending:
        validator = pending.pop()
        if isinstance(validator, colander.OneOf):
            return tuple(validator.choices)
        if isinstance(validator, colander.All):
            pending += list(validator.validators)
    return None


def field_vocabularies(request: Any) -> Iterator[tuple[str, TypeInfo, colander.SchemaNode]]:
    for info in content_types(request.registry).values():
        for child in info.schema(request, None).children:
            if one_of(child) is not None:
                yield f"{info.name}.{child.name}", info, child


def portal_vocabularies() -> dict[str, Callable[[Any], Entries]]:
    return {
        "portal.types": lambda request: [(name, info.title) for name, info in content_types(request.registry).items()],
        "portal.units": lambda request: [(u.title, u.full_name or u.title) for u in request.dbsession.scalars(
            select(Unit).order_by(Node.path)) if request.has_permission("view", u)],
        "portal.review_states": lambda request: [(name, state.title) for name, state in STATES.items()],
        "portal.roles": lambda request: list(SHARING_ROLES),
    }


def vocabulary_url(request: Any, name: str) -> str:
    return f"{item_url(request, request.context)}/@vocabularies/{name}"


def entries(request: Any, name: str) -> Entries | None:
    own = portal_vocabularies().get(name)
    if own is not None:
        return own(request)
    type_name, _sep, field = name.partition(".")
    info = content_types(request.registry).get(type_name)
    if info is None or not field:
        return None
    schema = info.schema(request, None)
    values = one_of(schema[field]) if field in schema else None
    return None if values is None else [(str(v), str(v)) for v in values]


@view_config(context=Node, name="@vocabularies", request_method="GET", permission="view")
def vocabularies(context: Node, request: Any) -> Any:
    if len(request.subpath) > 1:
        raise HTTPNotFound()
    if request.subpath:
        return one_vocabulary(request, request.subpath[0])
    names = list(portal_vocabularies()) + [name for name, _info, _node in field_vocabularies(request)]
    return json_response([{"@id": vocabulary_url(request, name), "title": name} for name in names])


def one_vocabulary(request: Any, name: str) -> Any:
    found = entries(request, name)
    if found is None:
        raise HTTPNotFound()
    translate = request.localizer.translate
    items = [{"token": token, "title": translate(title)} for token, title in found]
    text = request.params.get("title", "").strip()
    tokens = set(request.params.getall("token"))
    items = [i for i in items if (not text or text in i["title"]) and (not tokens or i["token"] in tokens)]
    url = vocabulary_url(request, name)
    shown, links = batch(request, url, items)
    body: dict[str, Any] = {"@id": url, "items": shown, "items_total": len(items)}
    if links:
        body["batching"] = links
    return json_response(body)

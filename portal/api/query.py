"""The catalog query of `@search`: items chosen, sorted and batched in SQL, as Plone's catalog does.

`@search` (search.api) runs it for every query without `SearchableText`, and for a text query
that asks for more than the full-text engine does (another order, `path.depth`, a field of a
type): then the engine's matches narrow it (`ids`). Parameters, after plone.restapi:

    portal_type, review_state, UID, id|getId   any of the values (repeat the parameter)
    path.query (or path), path.depth           the subtrees searched (the context's by default,
                                               itself included); depth 0 is the item alone,
                                               n the items 1..n levels below it
    unit                                       below the units of these names (ours)
    year                                       published (else created) in that year, Beijing time
    <field of a type>                          e.g. subject=综合政务: items whose type has the field
    sort_on, sort_order                        SORTS below, one or several; ascending, or
                                               descending|reverse (one for all, or one each)

Who may see what is the security policy's answer, computed for many items at once: everything
for a user whose global roles let them view every item (reviewers, managers); for others what is
public now (portal.visibility.public_now, the SQL of every public listing) plus the items that
their local roles or ownership let them view -- taken from the items the query matches that are
owned by them or lie below a node where they hold a role, each then asked of the policy.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pyramid.authorization import Authenticated
from sqlalchemy import String, and_, case, func, literal, or_, select, true

from ..i18n import _
from ..models import LocalRole, Node, Unit
from ..registry import content_types, find_type
from ..schemas import LOCAL_TZ
from ..security import prefetch_local_roles
from ..visibility import public_now
from ..workflow import STAFF_VIEW
from .errors import APIError, field_error

# sort_on -> the column (or expression) it orders by; `relevance` is the full-text engine's order.
SORTS: dict[str, Any] = {
    "effective": func.coalesce(Node.effective, Node.published),  # Plone's: the publication date
    "modified": Node.modified, "created": Node.created, "expires": Node.expires, "published": Node.published,
    "sortable_title": Node.title, "path": Node.path, "portal_type": Node.type, "review_state": Node.state,
    "id": Node.name, "getId": Node.name, "getObjPositionInParent": Node.position,
}
LIST_PARAMS = ("portal_type", "review_state", "UID", "id", "getId", "unit", "year")
# What @search reads besides the filters (search.api); plone.restapi's options it has no use for
# here are accepted too.
OPTIONS = ("SearchableText", "sort_on", "sort_order", "b_start", "b_size", "metadata_fields", "fullobjects",
           "path", "path.query", "path.depth", "use_site_search_settings")


@dataclass
class CatalogQuery:
    paths: list[str]
    depth: int | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)  # LIST_PARAMS
    fields: dict[str, list[str]] = field(default_factory=dict)  # fields of types
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (sort_on, descending)


def node_path(value: str) -> str:
    """A path as the nodes store it: `/a/b/` (a path.query may come without the slashes)."""
    parts = [p for p in value.strip().split("/") if p]
    return "/" + "".join(f"{p}/" for p in parts)


def type_fields(request: Any) -> dict[str, list[Any]]:
    """field name -> the columns of every type that has it (text columns only: they are filtered
    by equality), for the fields that are a type's own (not the common node columns)."""
    columns: dict[str, list[Any]] = {}
    for info in content_types(request.registry).values():
        for name in info.factory.fields:
            column = getattr(info.factory, name, None)
            mapped = getattr(getattr(column, "property", None), "columns", [None])[0]
            if name not in Node.__table__.c and mapped is not None and isinstance(mapped.type, String):
                columns.setdefault(name, []).append((info.factory, column))
    return columns


def bad(request: Any, name: str, message: Any) -> APIError:
    return APIError(400, _("The search has parameters that are not valid"), [field_error(request, name, message)])


def parse(request: Any) -> CatalogQuery:
    """The catalog query of the request's parameters; an unknown parameter is a 400 naming it."""
    params = request.params
    known_fields = type_fields(request)
    for name in params:
        if name not in OPTIONS and name not in LIST_PARAMS and name not in known_fields:
            raise bad(request, name, _("Unknown search parameter"))
    paths = [node_path(v) for v in params.getall("path.query") + params.getall("path") if v.strip()]
    query = CatalogQuery(paths=paths or [request.context.path])
    if params.get("path.depth", "").strip() not in ("", "-1"):
        try:
            query.depth = max(0, int(params["path.depth"]))
        except ValueError:
            raise bad(request, "path.depth", _("Must be a whole number")) from None
    for name in LIST_PARAMS:
        values = [v for v in params.getall(name) if v.strip()]
        if values:
            query.filters[name] = values
    if "portal_type" in query.filters:
        query.filters["portal_type"] = [getattr(find_type(request.registry, v), "name", v)
                                        for v in query.filters["portal_type"]]
    query.fields = {name: params.getall(name) for name in known_fields if name in params}
    keys = [v for v in params.getall("sort_on") if v.strip()]
    orders = [v.strip().lower() for v in params.getall("sort_order")]
    for i, key in enumerate(keys):
        if key not in SORTS and key != "relevance":
            raise bad(request, "sort_on", _("Cannot sort on ${key}", mapping={"key": key}))
        order = orders[i] if i < len(orders) else (orders[0] if orders else "ascending")
        if order not in ("ascending", "descending", "reverse"):
            raise bad(request, "sort_order", _("Must be ascending, descending or reverse"))
        query.sort.append((key, order != "ascending"))
    return query


def year_range(year: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The naive UTC bounds of a year in Beijing time."""
    if not (year.isdigit() and 1900 <= int(year) <= 2200):
        return None
    start = dt.datetime(int(year), 1, 1, tzinfo=LOCAL_TZ)
    end = dt.datetime(int(year) + 1, 1, 1, tzinfo=LOCAL_TZ)
    return tuple(t.astimezone(dt.timezone.utc).replace(tzinfo=None) for t in (start, end))  # type: ignore[return-value]


def slashes(expression: Any) -> Any:
    return func.length(expression) - func.length(func.replace(expression, "/", ""))


def conditions(request: Any, query: CatalogQuery) -> list[Any]:
    """The query's conditions on the nodes (who may see them aside)."""
    where: list[Any] = []
    under = []
    for path in query.paths:
        if query.depth is None:
            under.append(Node.path.like(f"{path}%"))
        elif query.depth == 0:
            under.append(Node.path == path)
        else:
            under.append(and_(Node.path.like(f"{path}_%"), slashes(Node.path) <= path.count("/") + query.depth))
    where.append(or_(*under))
    f = query.filters
    for name, column in (("portal_type", Node.type), ("review_state", Node.state), ("UID", Node.uid),
                         ("id", Node.name), ("getId", Node.name)):
        if name in f:
            where.append(column.in_(f[name]))
    if "unit" in f:
        units = request.dbsession.scalars(select(Unit.path).where(Unit.title.in_(f["unit"]))).all()
        where.append(or_(literal(False), *(Node.path.like(f"{p}%") for p in units)))
    if "year" in f:
        when = func.coalesce(Node.published, Node.created)
        ranges = [r for r in map(year_range, f["year"]) if r is not None]
        where.append(or_(literal(False), *(and_(when >= start, when < end) for start, end in ranges)))
    columns = type_fields(request)
    for name, values in query.fields.items():
        where.append(or_(*(Node.id.in_(select(cls.id).where(column.in_(values))) for cls, column in columns[name])))
    return where


def sees_everything(request: Any) -> bool:
    """A global role that views every item in every state (the workflow's STAFF_VIEW)."""
    return any(p in {f"role:{r}" for r in STAFF_VIEW} for p in request.principals)


def visible(request: Any, where: list[Any]) -> Any:
    """The condition of the nodes among `where` that the request may view (see the module)."""
    if sees_everything(request):
        return true()
    public = and_(*public_now())
    user = request.identity
    if user is None:
        return public
    principals = [p for p in request.principals if p.startswith(("user:", "group:")) or p == Authenticated]
    granted = request.dbsession.scalars(select(Node.path).join(LocalRole, LocalRole.node_id == Node.id)
                                        .where(LocalRole.principal.in_(principals)).distinct()).all()
    mine = or_(Node.owner == user.login, *(Node.path.like(f"{p}%") for p in granted))
    candidates = list(request.dbsession.scalars(select(Node).where(*where, mine, ~public)))
    prefetch_local_roles(request, candidates)
    allowed = [n.id for n in candidates if request.has_permission("view", n)]
    return or_(public, Node.id.in_(allowed)) if allowed else public


def order_by(query: CatalogQuery, ids: list[int] | None = None) -> list[Any]:
    """The SQL order: the sorts asked for (empty values last), the engine's order for
    `relevance` when there are `ids`, then the path."""
    order: list[Any] = []
    for key, descending in query.sort:
        if key == "relevance":
            if ids:
                rank = case({node_id: i for i, node_id in enumerate(ids)}, value=Node.id, else_=len(ids))
                order.append(rank.desc() if descending else rank)
            continue
        column = SORTS[key]
        order += [column.is_(None), column.desc() if descending else column]
    if not query.sort and ids:
        order.append(case({node_id: i for i, node_id in enumerate(ids)}, value=Node.id, else_=len(ids)))
    return order + [Node.path]


def run(request: Any, query: CatalogQuery, start: int, size: int,
        ids: list[int] | None = None) -> tuple[list[Node], int]:
    """One batch of the matching items the request may view, and how many there are."""
    where = conditions(request, query)
    if ids is not None:
        where.append(Node.id.in_(ids) if ids else literal(False))
    where.append(visible(request, where))
    total = request.dbsession.scalar(select(func.count()).select_from(Node).where(*where))
    rows = request.dbsession.scalars(select(Node).where(*where).order_by(*order_by(query, ids))
                                     .offset(start).limit(size)).all()
    return list(rows), total

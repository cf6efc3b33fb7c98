"""The site's maps: `sitemap.xml` for search engines (sitemaps.org 0.9) and the structure the
HTML 网站地图 shows.

sitemap.xml lists every public item (`public_now`: published, within its dates, below no
container that is not public) with its address and last change. Past `LIMIT` addresses (the
protocol's 50,000) it becomes a sitemap index of `sitemap-1.xml`, `sitemap-2.xml`, ... of `LIMIT`
each, in id order so that an item stays in its part. The rows are read as three columns, streamed
from the database `PARTITION` at a time, and written with lxml's incremental writer: a part of
50,000 costs no ORM object and one small element at a time (about 0.4 s). The page cache keeps the
result until something changes (every change bumps the root's tree tag).
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Iterable

from lxml import etree
from sqlalchemy import func, select

from .models import Node, Unit
from .models.node import utcnow
from .registry import content_types
from .schemas import to_local
from .visibility import public_in_itself, public_now

LIMIT = 50_000  # addresses per sitemap file (tests lower it)
PARTITION = 2_000  # rows fetched at a time
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def lastmod(modified: dt.datetime, published: dt.datetime | None) -> str:
    """The last public change: an item first published after it was written changed then."""
    moment = max(modified, published) if published is not None else modified
    return to_local(moment).isoformat(timespec="seconds")


def count(dbsession: Any) -> int:
    return dbsession.scalar(select(func.count(Node.id)).where(*public_now()))


def parts_of(total: int) -> int:
    """How many sitemap files `total` addresses take (at least one, even when empty)."""
    return max(1, -(-total // LIMIT))


def _write(elements: Iterable[etree._Element], root: str) -> bytes:
    """An XML document of `root` in the sitemap namespace holding `elements`, written as they
    come. The children are written without a namespace of their own, so they inherit the root's
    default namespace instead of repeating its declaration on every one."""
    out = io.BytesIO()
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{NS}}}{root}", nsmap={None: NS}):
            for element in elements:
                xf.write(element)
    return out.getvalue()


def _entry(tag: str, loc: str, modified: str | None) -> etree._Element:
    element = etree.Element(tag)
    etree.SubElement(element, "loc").text = loc
    if modified:
        etree.SubElement(element, "lastmod").text = modified
    return element


def urlset(dbsession: Any, base: str, part: int = 1) -> bytes:
    """The `part`-th `LIMIT` public items (from 1) as a `<urlset>`."""
    rows = dbsession.execute(
        select(Node.path, Node.modified, Node.published).where(*public_now()).order_by(Node.id)
        .offset((part - 1) * LIMIT).limit(LIMIT).execution_options(yield_per=PARTITION))
    return _write((_entry("url", base + path, lastmod(modified, published)) for path, modified, published in rows),
                  "urlset")


def index(dbsession: Any, base: str) -> bytes:
    """A `<sitemapindex>` of every part, each with the last change among its items (one pass)."""
    number = func.row_number().over(order_by=Node.id).label("number")
    numbered = select(Node.modified, Node.published, number).where(*public_now()).subquery()
    part = ((numbered.c.number - 1) // LIMIT).label("part")  # (PostgreSQL: floor(), a numeric)
    rows = dbsession.execute(select(part, func.max(numbered.c.modified), func.max(numbered.c.published))
                             .group_by(part).order_by(part))
    return _write((_entry("sitemap", f"{base}/sitemap-{int(n) + 1}.xml", lastmod(modified, published))
                   for n, modified, published in rows), "sitemapindex")


# --- the HTML 网站地图 -------------------------------------------------------------------------------

@dataclass
class Place:
    """A unit or a page of the map, with its columns and pages."""
    title: str
    url: str
    children: list[Place] = field(default_factory=list)


def structure(request: Any, root: Node) -> dict[str, Any]:
    """The portal's own columns and pages, then every public unit by kind (in `Unit.KINDS`'
    order, units in the plan's order: their place in the tree) with its columns and pages. Two
    queries, however many units: the units, then what lies directly in the root and in them.
    Articles and documents (dated types) are the columns' contents, not the structure."""
    base = request.application_url
    unit_type = Unit.__mapper__.polymorphic_identity
    units = request.dbsession.execute(  # (the type named: read through (type, state, published))
        select(Node.id, Node.parent_id, Node.position, Node.title, Node.path, Unit.kind)
        .select_from(Unit).where(Node.type == unit_type, *public_now())).all()
    by_id = {u.id: u for u in units}

    def order(unit: Any) -> tuple[int, ...]:
        parent = by_id.get(unit.parent_id)  # a 便民服务中心 follows the order of its town
        return (*order(parent), unit.position) if parent is not None else (unit.position,)

    places = {u.id: Place(u.title, base + u.path) for u in units}
    site = Place(root.title, base + root.path)
    places[root.id] = site
    dated = [info.name for info in content_types(request.registry).values() if info.dated]
    # read by their parents (public, as is everything above them), public ones kept here: see
    # portal.visibility.public_in_itself
    now = utcnow()
    children = request.dbsession.execute(
        select(Node.parent_id, Node.title, Node.path, Node.state, Node.effective, Node.expires)
        .where(Node.parent_id.in_([root.id, *by_id]), Node.type.not_in([*dated, unit_type]))
        .order_by(Node.parent_id, Node.position)).all()
    for parent_id, title, path, state, effective, expires in children:
        if public_in_itself(state, effective, expires, now):
            places[parent_id].children.append(Place(title, base + path))
    groups: dict[str, list[Any]] = {}
    for unit in sorted(units, key=order):
        groups.setdefault(unit.kind, []).append(places[unit.id])
    kinds = [*Unit.KINDS, *sorted(k for k in groups if k not in Unit.KINDS)]
    return {"site": site, "groups": [(kind, groups[kind]) for kind in kinds if kind in groups]}

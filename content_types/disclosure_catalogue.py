"""The government information disclosure catalogue (政府信息公开目录), county-wide and per unit,
and the standard disclosure pages every unit gets: its 信息公开指南 and the column for its annual
reports (政府信息公开年度报告).

The catalogue lists what the public may see (published, in force), straight from the database,
so counts are exact; full-text finding is the search page's job.
"""
from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any
from urllib.parse import urlencode

from pyramid.view import view_config
from sqlalchemy import func, select

from portal import content
from portal.events import ObjectAdded
from portal.batching import batch
from portal.facets import Chosen, Entry, Facet, bounded, in_sequence, unit_order
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.models.node import utcnow
from portal.pagecache.memo import versioned
from portal.schemas import LOCAL_TZ, to_local
from portal.visibility import public_now

from .disclosure import GENRES, SUBJECTS, Disclosure

PAGE_SIZE = 20
GUIDE_NAME = "xxgkzn"
REPORTS_NAME = "ndbg"
FILTERS = ("subject", "genre", "year", "unit")
FILTER_TITLES = {"unit": _("Unit"), "subject": _("Subject class"), "genre": _("Genre"), "year": _("Year")}


def guide_html(unit: Unit) -> str:
    """The guide's first text; the unit's name and contact are data, escaped like any other."""
    name = escape(unit.full_name or unit.title)
    return (f"<h2>一、信息公开的范围</h2><p>{name}主动公开本单位的机构职能、政策文件、规划计划、工作动态、"
            "财政预决算等政府信息，公开的信息可在本站“政府信息公开目录”中按主题分类、体裁、年度浏览和检索。</p>"
            "<h2>二、信息公开的方式</h2><p>主动公开的政府信息通过本网站发布，并在政府信息公开目录中编制索引号。</p>"
            f"<h2>三、依申请公开</h2><p>公民、法人或者其他组织可以向{name}申请获取相关政府信息，"
            "本单位自收到申请之日起20个工作日内予以答复。</p>"
            f"<h2>四、联系方式</h2><p>{escape(unit.contact or '联系方式由本单位补充。')}</p>")


def create_standard_pages(event: ObjectAdded) -> None:
    """A new unit gets its 信息公开指南 (a page it edits) and its annual report column, published.

    They come with the unit, whoever adds it (`portal init` loads the units with no user at all),
    so they are made `unrestricted`: the decision to add the unit was the one checked.
    """
    unit, request = event.node, event.request
    if not isinstance(unit, Unit) or request is None or GUIDE_NAME in unit.keys():
        return
    guide = content.create(request, unit, "Page", {"title": "政府信息公开指南", "body": guide_html(unit)},
                           name=GUIDE_NAME, unrestricted=True)
    reports = content.create(request, unit, "Folder", {"title": "政府信息公开年度报告", "column_kind": "信息公开",
                                                       "update_interval": 366}, name=REPORTS_NAME,
                             unrestricted=True)
    for node in (guide, reports):
        content.set_state(request, node, "published", "publish", "随单位子站创建")


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """A year in China as naive UTC bounds (the database keeps UTC; 发布日期 shows China time)."""
    def utc(y: int) -> dt.datetime:
        return dt.datetime(y, 1, 1, tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)
    return utc(year), utc(year + 1)


def years(request: Any, conditions: list[Any]) -> list[tuple[int, int]]:
    """(year, count), newest first; one small count per year between the oldest and newest."""
    low, high = request.dbsession.execute(select(func.min(Node.published), func.max(Node.published))
                                          .select_from(Disclosure).where(*conditions)).one()
    if low is None:
        return []
    out = []
    for year in range(to_local(high).year, to_local(low).year - 1, -1):
        start, end = year_bounds(year)
        n = request.dbsession.scalar(select(func.count(Disclosure.id)).where(
            *conditions, Node.published >= start, Node.published < end))
        if n:
            out.append((year, n))
    return out


def units_of(request: Any, conditions: list[Any]) -> list[tuple[str, int]]:
    """(unit title, count), most first: counted per container in SQL (a few hundred rows, not one
    per document), then added up per unit, the first step of each container's path."""
    by_parent = request.dbsession.execute(select(Node.parent_id, func.count(Disclosure.id))
                                          .select_from(Disclosure).where(*conditions).group_by(Node.parent_id)).all()
    parents = dict(request.dbsession.execute(select(Node.id, Node.path).where(
        Node.id.in_([p for p, _n in by_parent]))).all()) if by_parent else {}
    by_unit: dict[str, int] = {}
    for parent_id, n in by_parent:
        path = parents.get(parent_id, "/")
        top = "/" + path.strip("/").split("/")[0] + "/"
        by_unit[top] = by_unit.get(top, 0) + n
    titles = dict(request.dbsession.execute(select(Unit.path, Unit.title).where(Unit.path.in_(list(by_unit)))).all())
    return sorted(((titles[p], n) for p, n in by_unit.items() if p in titles), key=lambda x: -x[1])


def superseding_documents(request: Any, numbers: list[str], now: dt.datetime) -> dict[str, Disclosure]:
    """The public documents that replace these (by 索引号). Found by their numbers first: asked
    together with "public now", the database would walk every public document (100 ms at 100,000)."""
    if not numbers:
        return {}
    ids = list(request.dbsession.scalars(select(Disclosure.id).where(Disclosure.index_number.in_(numbers))))
    if not ids:
        return {}
    return {d.index_number: d for d in request.dbsession.scalars(
        select(Disclosure).where(Node.id.in_(ids), *public_now(now)))}


def catalogue(request: Any, context: Node) -> dict[str, Any]:
    now = utcnow()
    # the type named, so the database walks the disclosures through (type, state, published)
    conditions = [Node.type == Disclosure.__mapper__.polymorphic_identity, *public_now(now)]
    if isinstance(context, Unit):
        conditions.append(Node.path.like(f"{context.path}%"))
    chosen = {k: request.params.get(k, "").strip()[:100] for k in FILTERS if request.params.get(k, "").strip()}

    def filtered(skip: str | None = None) -> list[Any]:
        out = list(conditions)
        for key, value in chosen.items():
            if key == skip:
                continue
            if key == "subject":
                out.append(Disclosure.subject == value)
            elif key == "genre":
                out.append(Disclosure.genre == value)
            elif key == "year" and value.isdigit() and 1900 < int(value) < 3000:  # else: ignored
                start, end = year_bounds(int(value))
                out.append(Node.published >= start)
                out.append(Node.published < end)
            elif key == "unit":
                path = request.dbsession.scalar(select(Unit.path).where(Unit.title == value))
                out.append(Node.path.like(f"{path}%") if path else Node.id.is_(None))
        return out

    def counts(column: Any, key: str) -> list[tuple[Any, int]]:
        rows = request.dbsession.execute(select(column, func.count(Disclosure.id)).where(*filtered(key))
                                         .group_by(column)).all()
        return [(v, n) for v, n in rows if v is not None]

    def count_facets() -> dict[str, Any]:
        unit_counts: list[tuple[str, int]] = []
        if not isinstance(context, Unit):
            unit_counts = units_of(request, filtered("unit"))
        return {"total": request.dbsession.scalar(select(func.count(Disclosure.id)).where(*filtered())),
                "subjects": dict(counts(Disclosure.subject, "subject")),
                "genres": dict(counts(Disclosure.genre, "genre")),
                "years": years(request, filtered("year")), "units": unit_counts}

    # once per version of the catalogue's subtree (and minute), not per request and page
    tags, filters = (f"tree:{context.id}",), tuple(sorted(chosen.items()))
    counted = versioned(request, tags, ("xxgk facets", context.id, filters), count_facets)
    listed = batch(request, select(Disclosure), filtered(), Node.published, tags, ("xxgk", context.id, filters),
                   PAGE_SIZE, total=counted["total"])
    docs, total, page, pages = listed.items, listed.total, listed.page, listed.pages
    subject_counts, genre_counts = counted["subjects"], counted["genres"]
    year_counts, unit_counts = counted["years"], counted["units"]
    superseding = superseding_documents(request, [d.superseded_by for d in docs if d.superseded_by], now)

    def link(**change: Any) -> str:
        params = {**chosen, **change}
        params = {k: v for k, v in params.items() if v not in (None, "")}
        return request.resource_url(context, "@@xxgk") + ("?" + urlencode(params) if params else "")

    translate = request.localizer.translate

    def facet(key: str, values: list[tuple[Any, int]], order: Any = None) -> Facet:
        entries = [Entry(str(v), link(**{key: str(v), "page": None}), n, chosen.get(key) == str(v)) for v, n in values]
        return bounded(key, translate(FILTER_TITLES[key]), entries, order)

    facets = [facet("unit", unit_counts, unit_order(request))] if unit_counts else []
    facets += [facet("subject", [(s, subject_counts.get(s, 0)) for s in SUBJECTS], in_sequence(SUBJECTS)),
               facet("genre", [(g, genre_counts[g]) for g in GENRES if g in genre_counts], in_sequence(GENRES)),
               facet("year", year_counts)]
    return {"docs": docs, "total": total, "page": page, "pages": pages, "chosen": chosen, "link": link,
            "facets": [f for f in facets if f.entries],
            "applied": [Chosen(translate(FILTER_TITLES[k]), v, link(**{k: None, "page": None})) for k, v in chosen.items()],
            "clear": link(**{k: None for k in FILTERS}, page=None),
            "superseding": superseding,
            "guide": context.get(GUIDE_NAME) if isinstance(context, Unit) else None,
            "reports": context.get(REPORTS_NAME) if isinstance(context, Unit) else None}


@view_config(context=Portal, name="xxgk", permission="view", renderer="themes:default/templates/xxgk.pt",
             kept_for_users=True)
@view_config(context=Unit, name="xxgk", permission="view", renderer="themes:default/templates/xxgk.pt",
             kept_for_users=True)
def catalogue_view(context: Node, request: Any) -> dict[str, Any]:
    return catalogue(request, context)


def includeme(config: Any) -> None:
    config.add_subscriber(create_standard_pages, ObjectAdded)
    config.add_filtered_listing("xxgk")  # robots.txt: its pages, not every combination of filters
    config.include("content_types.disclosure_feeds")  # its RSS and Atom feeds
    config.scan(__name__)

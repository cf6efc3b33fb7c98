"""The catalogue listing, `/@@datasets` (county-wide) and `/<unit>/@@datasets`: what the public may
see, filtered and counted in SQL (facets unit, theme, format, open class), newest change first.

Like the 信息公开目录 it lists the published datasets for everyone, from the database, so counts
are exact; staff find their drafts in their unit's contents and in search.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import aliased

from portal.batching import batch
from portal.facets import Chosen, Entry, Facet, bounded, unit_order
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.models.node import utcnow
from portal.visibility import public_now
from portal.workflow import PUBLIC_STATES

from . import vocabularies as v
from .dataset import Dataset
from .resource import Resource

PAGE_SIZE = 20
FILTERS = ("unit", "theme", "format", "open_class")
FILTER_TITLES = {"unit": _("Unit"), "theme": _("Data domain"), "format": _("Format"), "open_class": _("Open class")}


def public_formats(now: Any) -> Any:
    """Subquery (dataset id, format) of the resources the public may see now (their dataset's own
    visibility is the listing's condition)."""
    r = aliased(Resource, flat=True)
    return (select(r.parent_id.label("dataset_id"), r.format.label("format"))
            .where(r.type == Resource.__mapper__.polymorphic_identity, r.state.in_(PUBLIC_STATES), r.format != "",
                   or_(r.effective.is_(None), r.effective <= now), or_(r.expires.is_(None), r.expires > now))
            .subquery())


def unit_of_path(path: str) -> str:
    return "/" + path.strip("/").split("/")[0] + "/"


def catalogue(request: Any, context: Node) -> dict[str, Any]:
    now = utcnow()
    db = request.dbsession
    formats = public_formats(now)
    # the type named, so the database reads the datasets through (type, state), not every published item
    conditions = [Node.type == Dataset.__mapper__.polymorphic_identity, *public_now(now)]
    if isinstance(context, Unit):
        conditions.append(Node.path.like(f"{context.path}%"))
    chosen = {k: request.params.get(k, "").strip()[:100] for k in FILTERS if request.params.get(k, "").strip()}

    def filtered(skip: str | None = None) -> list[Any]:
        out = list(conditions)
        for key, value in chosen.items():
            if key == skip:
                continue
            if key == "theme":
                out.append(Dataset.theme == value)
            elif key == "open_class":
                out.append(Dataset.open_class == value)
            elif key == "format":
                out.append(Dataset.id.in_(select(formats.c.dataset_id).where(formats.c.format == value.upper())))
            elif key == "unit":
                path = db.scalar(select(Unit.path).where(Unit.title == value))
                out.append(Node.path.like(f"{path}%") if path else Node.id.is_(None))
        return out

    def counts(column: Any, key: str) -> dict[Any, int]:
        rows = db.execute(select(column, func.count(Dataset.id)).where(*filtered(key)).group_by(column)).all()
        return {value: n for value, n in rows if value is not None}

    listed = batch(request, select(Dataset), filtered(), Node.modified, (f"tree:{context.id}",),
                   ("datasets", context.id, tuple(sorted(chosen.items()))), PAGE_SIZE)
    datasets, total, page, pages = listed.items, listed.total, listed.page, listed.pages
    shown_formats: dict[int, list[str]] = {}
    for dataset_id, fmt in db.execute(select(formats.c.dataset_id, formats.c.format).distinct()
                                      .where(formats.c.dataset_id.in_([d.id for d in datasets]))
                                      .order_by(formats.c.format)):
        shown_formats.setdefault(dataset_id, []).append(fmt)
    format_counts = db.execute(
        select(formats.c.format, func.count(distinct(Dataset.id)))
        .join(formats, formats.c.dataset_id == Dataset.id).where(*filtered("format"))
        .group_by(formats.c.format).order_by(func.count(distinct(Dataset.id)).desc(), formats.c.format)).all()
    theme_counts = counts(Dataset.theme, "theme")
    class_counts = counts(Dataset.open_class, "open_class")
    units: list[tuple[str, int]] = []
    if not isinstance(context, Unit):
        by_unit: dict[str, int] = {}
        for path, in db.execute(select(Node.path).select_from(Dataset).where(*filtered("unit"))):
            by_unit[unit_of_path(path)] = by_unit.get(unit_of_path(path), 0) + 1
        titles = dict(db.execute(select(Unit.path, Unit.title).where(Unit.path.in_(list(by_unit)))).all())
        units = sorted(((titles[p], n) for p, n in by_unit.items() if p in titles), key=lambda u: (-u[1], u[0]))
    unit_titles = dict(db.execute(select(Unit.path, Unit.title).where(
        Unit.path.in_({unit_of_path(d.path) for d in datasets}))).all()) if datasets else {}

    def link(**change: Any) -> str:
        params = {k: val for k, val in {**chosen, **change}.items() if val not in (None, "")}
        return request.resource_url(context, "@@datasets") + ("?" + urlencode(params) if params else "")

    translate = request.localizer.translate

    def facet(key: str, values: list[tuple[str, int]], order: Any = None) -> Facet:
        active = chosen.get(key, "").upper() if key == "format" else chosen.get(key)
        entries = [Entry(value, link(**{key: value, "page": None}), n, value == active) for value, n in values]
        return bounded(key, translate(FILTER_TITLES[key]), entries, order)

    facets = [facet("unit", units, unit_order(request)),
              facet("theme", [(t, theme_counts[t]) for t in v.THEMES if t in theme_counts]),
              facet("format", [(f, n) for f, n in format_counts]),
              facet("open_class", [(c, class_counts[c]) for c in v.OPEN_CLASSES if c in class_counts])]
    return {"datasets": datasets, "total": total, "page": page, "pages": pages, "chosen": chosen, "link": link,
            "formats": shown_formats, "unit_titles": unit_titles, "unit_of_path": unit_of_path,
            "facets": [f for f in facets if f.entries],
            "applied": [Chosen(translate(FILTER_TITLES[k]), val, link(**{k: None, "page": None}))
                        for k, val in chosen.items()],
            "clear": link(**{k: None for k in FILTERS}, page=None), "county_wide": not isinstance(context, Unit)}


def catalogue_view(context: Node, request: Any) -> dict[str, Any]:
    return catalogue(request, context)


def includeme(config: Any) -> None:
    for context in (Portal, Unit):
        config.add_view(catalogue_view, context=context, name="datasets", permission="view",
                        renderer="themes:default/templates/datasets.pt", kept_for_users=True)
    config.add_filtered_listing("datasets")  # robots.txt: its pages, not every combination of filters

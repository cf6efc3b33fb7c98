"""Units (sub-sites) and the portal root: their schemas, and loading the unit list of the county plan.

The list is data (`portal/data/units.csv`: title, short name, full name, kind, parent, org code),
kept in the plan's order; a unit listed twice is loaded once and reported.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import colander
from sqlalchemy import select

from . import events
from .i18n import _
from .models import Node, Portal, Unit
from .models.node import utcnow
from .registry import TypeInfo
from .schemas import base_schema, choice, text_line
from .uploads import upload_node
from .slugs import slugify, unique_name


def unit_schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(text_line(_("Full name"), name="full_name", missing=colander.required))
    s.add(text_line(_("Short name"), name="short_name", missing=colander.required))
    s.add(choice(_("Kind"), Unit.KINDS, name="kind"))
    s.add(text_line(_("Organisation code (used in 索引号)"), name="org_code", missing=colander.required,
                    max_length=50, validator=colander.Regex(r"^[0-9A-Za-z-]+$", _("Letters, digits and - only"))))
    s.add(text_line(_("Contact"), name="contact", max_length=500))
    s.add(upload_node(request, "banner", _("Banner picture"), image=True, required=False, existing=node))
    return s


def portal_schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(text_line(_("Website identification code (网站标识码)"), name="site_code", max_length=50))
    s.add(text_line(_("Sponsor (主办单位)"), name="sponsor"))
    s.add(text_line(_("ICP record number (ICP备案)"), name="icp", max_length=100))
    s.add(text_line(_("Public security record number (公安备案)"), name="police_record", max_length=100))
    s.add(text_line(_("Contact"), name="contact", max_length=500))
    s.add(text_line(_("Government website mark number (党政机关网站标识)"), name="conac_code", max_length=50,
                    validator=colander.Regex(r"^[0-9A-Za-z]*$", _("Letters and digits only"))))
    return s


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what packages did on `SiteSetUp`, for the operator


def read_unit_list(path: Path | None = None) -> list[dict[str, str]]:
    if path is None:
        text = resources.files("portal.data").joinpath("units.csv").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


# What the footer of every page shows until a manager enters the real values in the portal's edit
# form. DEMO VALUES, in the form the national rules give them: the 网站标识码 is the county's
# division code (421127) and a serial, the ICP and 公安备案 numbers look like the ones the MIIT and
# the public security bureau issue, but none of them was issued to this site. The 主办单位 is the
# full name of the unit 县政府办, whose columns are the county's own.
SITE_DEFAULTS = {
    "title": "黄梅县人民政府",
    "sponsor": "黄梅县人民政府办公室",
    "site_code": "4211270001",
    "icp": "鄂ICP备12004127号",
    "police_record": "鄂公网安备42112702000127号",
    "contact": "地址：黄梅县黄梅镇人民大道1号　邮编：435500　电话：0713-3321214　电子邮箱：hmxzfb@huangmei.example",
}


def ensure_root(dbsession: Any) -> Portal:
    root = dbsession.scalar(select(Portal).where(Node.path == "/"))
    if root is None:
        root = Portal(name="", path="/", state="published", created=utcnow(), modified=utcnow(), published=utcnow(),
                      **SITE_DEFAULTS)
        dbsession.add(root)
        dbsession.flush()
    return root


def load_units(dbsession: Any, root: Portal, rows: list[dict[str, str]], request: Any = None) -> LoadReport:
    """Create missing units under their parents; existing ones (by org code) are left as they are.

    With a request, each new unit is announced (ObjectAdded), so the packages that give a unit
    its standard pages (e.g. the 信息公开指南) do so.
    """
    report = LoadReport()
    by_title: dict[str, Node] = {}
    existing = {u.org_code: u for u in dbsession.scalars(select(Unit))}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row["title"], row["parent"])
        if key in seen:
            report.duplicates.append(row["title"])
            continue
        seen.add(key)
        unit = existing.get(row["org_code"])
        if unit is not None:
            report.existing.append(row["title"])
            by_title[row["title"]] = unit
            continue
        parent = by_title[row["parent"]] if row["parent"] else root
        now = utcnow()
        unit = Unit(title=row["title"], short_name=row["short_name"], full_name=row["full_name"],
                    kind=row["kind"], org_code=row["org_code"], state="published", created=now, modified=now,
                    published=now)
        parent.add(unit, unique_name(parent, slugify(row["short_name"] if row["parent"] else row["title"])))
        dbsession.flush()
        by_title[row["title"]] = unit
        report.created.append(row["title"])
        if request is not None:
            events.notify(request, events.ObjectAdded(unit, request))
    return report


def set_up_site(request: Any) -> LoadReport:
    """The portal root, the staff groups and the units of the county plan (what `portal init`
    loads; idempotent). Then `SiteSetUp` is announced, so packages bring existing units up to date
    (e.g. give units made before a release what new units get) without the core naming them."""
    from .accounts import ensure_groups  # accounts sits above units

    root = ensure_root(request.dbsession)
    ensure_groups(request.dbsession)
    report = load_units(request.dbsession, root, read_unit_list(), request=request)
    event = events.SiteSetUp(root, request, notes=[])
    events.notify(request, event)
    report.notes.extend(event.notes)
    return report


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Unit", _("Unit site"), Unit, unit_schema, addable_to=("Portal",),
                                     add_permission="manage", searchable=False, file_fields=("banner",)))
    config.add_content_type(TypeInfo("Portal", _("Portal"), Portal, portal_schema, addable_to=(),
                                     searchable=False))

"""The home page's blocks this package knows how to fill (portal.home), and the two county-wide
news listings they lead to: 部门动态 (`/@@bmdt`) and 乡镇动态 (`/@@xzdt`).

要闻, 通知公告, 政策文件 and 政策解读 are the columns of the unit that runs the portal
(`portal.home.host_unit`: 县政府办); 部门动态 and 乡镇动态 gather the 动态 columns of the county's
departments and towns; the 信息公开目录's block is its newest documents county-wide.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import aliased

from portal.batching import batch
from portal.home import Block, Entry, HomeBlock, host_unit
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.views import template
from portal.visibility import public_now

from .columns import STANDARD_COLUMNS, find_column
from .disclosure import Disclosure
from .folder import Folder
from .news import News

BLOCK_SIZE = 8
READING_NAME = "zcjd"  # the host unit's 政策解读 column (made by the demo; any unit may have one)
READING_TITLE = "政策解读"
LISTED = (Node.id, Node.title, Node.path, Node.published)


def url(request: Any, path: str, *elements: str) -> str:
    return request.application_url + path + "".join(elements)


def entries(request: Any, rows: list[Any], notes: dict[int, str] | None = None) -> list[Entry]:
    return [Entry(r.title, url(request, r.path), r.published, (notes or {}).get(r.id, "")) for r in rows]


def newest(request: Any, conditions: list[Any], columns: tuple[Any, ...] = LISTED, limit: int = BLOCK_SIZE) -> list[Any]:
    return list(request.dbsession.execute(select(*columns).where(*conditions, *public_now())
                                          .order_by(Node.published.desc(), Node.id.desc()).limit(limit)).all())


def host_column(request: Any, portal: Portal, kind: str) -> Node | None:
    """The host unit's standard column of `kind` (None when the portal has no host or it none)."""
    host = host_unit(request, portal)
    spec = next(s for s in STANDARD_COLUMNS if s.kind == kind)
    return find_column(host, spec) if host is not None else None


def column_block(name: str, title: Any, kind: str) -> Callable[[Any, Portal], Block | None]:
    """A block of the newest items of one of the host unit's standard columns."""
    def build(request: Any, portal: Portal) -> Block | None:
        column = host_column(request, portal, kind)
        if column is None:
            return None
        rows = newest(request, [Node.parent_id == column.id])
        return Block(name, request.localizer.translate(title), entries(request, rows), url(request, column.path))
    return build


def headlines(request: Any, portal: Portal) -> Block | None:
    """要闻: the host's news, the newest one with a picture shown large."""
    column = host_column(request, portal, "动态")
    if column is None:
        return None
    rows = newest(request, [Node.parent_id == column.id])
    lead = request.dbsession.execute(select(*LISTED).select_from(News).where(
        Node.parent_id == column.id, News.lead_image.is_not(None), *public_now())
        .order_by(Node.published.desc(), Node.id.desc()).limit(1)).first()
    lead_entry = None
    if lead is not None:
        lead_entry = Entry(lead.title, url(request, lead.path), lead.published,
                           picture=url(request, lead.path, "@@images/lead_image/preview"))
        rows = [r for r in rows if r.id != lead.id]
    return Block("yw", request.localizer.translate(_("Headlines")), entries(request, rows[:BLOCK_SIZE - 2]),
                 url(request, column.path), lead=lead_entry)


def policy_readings(request: Any, portal: Portal) -> Block | None:
    """政策解读: the host's column of that name (or title)."""
    host = host_unit(request, portal)
    if host is None:
        return None
    column = request.dbsession.scalar(select(Folder).where(
        Folder.parent_id == host.id, (Node.name == READING_NAME) | (Node.title == READING_TITLE)).limit(1))
    if column is None:
        return None
    rows = newest(request, [Node.parent_id == column.id])
    return Block("zcjd", request.localizer.translate(_("Policy interpretation")), entries(request, rows),
                 url(request, column.path))


# -- 部门动态 and 乡镇动态 ---------------------------------------------------------------------------

# (view name, block order, title, unit kind)
UNIT_NEWS = (("bmdt", 20, _("Department news"), "县直部门"), ("xzdt", 30, _("Township news"), "乡镇"))


def unit_news_conditions(request: Any, portal: Portal, kind: str) -> list[Any]:
    """Items of the 动态 columns of the units of `kind` (the host's own news is 要闻, not here)."""
    unit = aliased(Unit)
    host = host_unit(request, portal)
    columns = (select(Folder.id).join(unit, Folder.parent_id == unit.id)
               .where(Folder.column_kind == "动态", unit.kind == kind))
    if host is not None:
        columns = columns.where(unit.id != host.id)
    return [Node.parent_id.in_(columns)]


def unit_names(request: Any, rows: list[Any]) -> dict[int, str]:
    """Each row's unit title, from the first segment of its path (one query for the page)."""
    tops = {r.id: "/" + r.path.strip("/").split("/")[0] + "/" for r in rows}
    names = dict(request.dbsession.execute(select(Node.path, Node.title).where(Node.path.in_(set(tops.values())))).all())
    return {i: names.get(p, "") for i, p in tops.items()}


def unit_news_block(name: str, title: Any, kind: str) -> Callable[[Any, Portal], Block | None]:
    def build(request: Any, portal: Portal) -> Block | None:
        rows = newest(request, unit_news_conditions(request, portal, kind))
        return Block(name, request.localizer.translate(title), entries(request, rows, unit_names(request, rows)),
                     url(request, portal.path, f"@@{name}"))
    return build


def unit_news_view(name: str, title: Any, kind: str) -> Callable[[Portal, Any], dict[str, Any]]:
    def view(context: Portal, request: Any) -> dict[str, Any]:
        conditions = [*unit_news_conditions(request, context, kind), *public_now()]
        page = batch(request, select(*LISTED), conditions, Node.published, (f"tree:{context.id}",), ("unit news", kind))
        return {"title": request.localizer.translate(title), **page.as_dict(),
                "entries": entries(request, page.items, unit_names(request, page.items))}
    return view


# -- the 信息公开目录 -----------------------------------------------------------------------------

def disclosures(request: Any, portal: Portal) -> Block | None:
    """The newest documents of the 信息公开目录, with their 文号 or 索引号."""
    rows = newest(request, [Node.type == "Disclosure"],
                  (*LISTED, Disclosure.doc_number, Disclosure.index_number), limit=BLOCK_SIZE)
    notes = {r.id: r.doc_number or r.index_number or "" for r in rows}
    return Block("xxgk", request.localizer.translate(_("Government information disclosure")),
                 entries(request, rows, notes), url(request, portal.path, "@@xxgk"), wide=True)


def includeme(config: Any) -> None:
    config.add_home_block(HomeBlock("yw", 10, headlines))
    config.add_home_block(HomeBlock("tzgg", 40, column_block("tzgg", _("Notices"), "通知公告")))
    config.add_home_block(HomeBlock("zcwj", 50, column_block("zcwj", _("Policy documents"), "政策文件")))
    config.add_home_block(HomeBlock("zcjd", 60, policy_readings))
    config.add_home_block(HomeBlock("xxgk", 70, disclosures))
    for name, order, title, kind in UNIT_NEWS:
        config.add_home_block(HomeBlock(name, order, unit_news_block(name, title, kind)))
        config.add_view(unit_news_view(name, title, kind), context=Portal, name=name, permission="view",
                        renderer=template("unit_news.pt"), kept_for_users=True)

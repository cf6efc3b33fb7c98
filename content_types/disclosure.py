"""Disclosure: a 政府信息公开 document with the catalogue fields of DESIGN.md §5.

The 索引号 is `<unit org code>/<year>-<5-digit serial>`, assigned when the document is created,
from a per-unit, per-year counter that only ever goes up: a number is never reused, even after a
delete. The year is the year the information was made (信息生成年份, as the catalogue rules of the
provinces define it): the 成文日期's when the document has one, else the year of its creation. A
document of 2011 entered today is numbered in 2011 (`<code>/2011-00001`), beside the documents of
that year; the number never changes afterwards, even if the date is corrected.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import colander
import deform
from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from portal.content import ContentError
from portal.events import ObjectAdded
from portal.i18n import _
from portal.models import Base, Node
from portal.registry import TypeInfo
from portal.schemas import LOCAL_TZ, add_dates, base_schema, check_dates, choice, rich_text, text_line
from portal.uploads import file_list_node
from portal.views.pages import item_view

from .folder import CONTAINERS

# The 22 subject classes of the national government information catalogue (国务院公文主题分类).
SUBJECTS = (
    "国务院组织机构", "综合政务", "国民经济管理、国有资产监管", "财政、金融、审计", "国土资源、能源",
    "农业、林业、水利", "工业、交通", "商贸、海关、旅游", "市场监管、安全生产监管", "城乡建设、环境保护",
    "科技、教育", "文化、广电、新闻出版", "卫生、体育", "人口与计划生育、妇女儿童工作", "劳动、人事、监察",
    "公安、安全、司法", "民政、扶贫、救灾", "民族、宗教", "对外事务", "港澳台侨工作", "国防", "其他",
)
# 体裁: the document kinds of GB/T 9704 and the 党政机关公文处理工作条例, plus 其他.
GENRES = ("决议", "决定", "命令（令）", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示",
          "批复", "议案", "函", "纪要", "规划", "其他")
MODES = ("主动公开", "依申请公开")
IN_FORCE = "有效"
VALIDITY = (IN_FORCE, "已修订", "已废止", "失效")
REPEALED = ("已废止", "失效")


class DisclosureSerial(Base):
    """The last serial handed out per unit code and year."""

    __tablename__ = "disclosure_serials"
    org_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Disclosure(Node):
    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    index_number: Mapped[str | None] = mapped_column(String(80), unique=True)  # 索引号
    publisher: Mapped[str] = mapped_column(String(200), default="")  # 发布机构
    doc_number: Mapped[str] = mapped_column(String(100), default="", index=True)  # 文号
    written_date: Mapped[dt.date | None] = mapped_column(Date)  # 成文日期
    subject: Mapped[str] = mapped_column(String(50), default="综合政务")  # 主题分类
    genre: Mapped[str] = mapped_column(String(20), default="其他")  # 体裁
    disclosure_mode: Mapped[str] = mapped_column(String(20), default="主动公开")  # 公开方式
    validity: Mapped[str] = mapped_column(String(10), default=IN_FORCE)  # 有效性
    superseded_by: Mapped[str] = mapped_column(String(80), default="")  # 索引号 of the replacement
    keywords: Mapped[str] = mapped_column(String(300), default="")  # 关键词
    summary: Mapped[str] = mapped_column(Text, default="")  # 内容概述
    body: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    __mapper_args__ = {"polymorphic_identity": "Disclosure", "polymorphic_load": "selectin"}
    fields = Node.fields + ("publisher", "doc_number", "written_date", "subject", "genre", "disclosure_mode",
                            "validity", "superseded_by", "keywords", "summary", "body", "attachments")

    @property
    def in_force(self) -> bool:
        return self.validity == IN_FORCE

    @property
    def repealed(self) -> bool:
        """已废止 or 失效: its page carries a banner saying so (已修订 is amended, still in force in part)."""
        return self.validity in REPEALED


def next_index_number(dbsession: Any, org_code: str, year: int) -> str:
    """Take the next serial of the unit's year: gap-free and never reused.

    The counter row is made if missing with INSERT .. ON CONFLICT DO NOTHING (two first documents
    of a year made at once would otherwise both insert it, and one would fail as a taken value),
    then bumped with UPDATE .. RETURNING, which locks the row until the transaction ends: concurrent
    takers queue on it (PostgreSQL's row lock; SQLite's writers already hold the database's write
    lock, see portal.models), and a rolled-back creation gives its serial back with it.
    """
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dbsession.get_bind().dialect.name)
    key = (DisclosureSerial.org_code == org_code, DisclosureSerial.year == year)
    if insert is not None:
        dbsession.execute(insert(DisclosureSerial).values(org_code=org_code, year=year, last=0)
                          .on_conflict_do_nothing(index_elements=["org_code", "year"]))
    elif dbsession.scalar(select(DisclosureSerial.last).where(*key)) is None:
        dbsession.add(DisclosureSerial(org_code=org_code, year=year, last=0))
        dbsession.flush()
    last = dbsession.execute(update(DisclosureSerial).where(*key).values(last=DisclosureSerial.last + 1)
                             .returning(DisclosureSerial.last)).scalar_one()
    return f"{org_code}/{year}-{last:05d}"


def index_year(node: Disclosure) -> int:
    """The year of the 索引号: the 成文日期's, else this year in China."""
    return node.written_date.year if node.written_date else dt.datetime.now(LOCAL_TZ).year


def assign_index_number(event: ObjectAdded) -> None:
    node = event.node
    if not isinstance(node, Disclosure) or node.index_number:
        return
    unit = node.unit()
    if unit is None:
        raise ContentError(_("A disclosure document must be created inside a unit's site"))
    year = index_year(node)
    node.index_number = next_index_number(event.request.dbsession, unit.org_code, year)
    if not node.publisher:
        node.publisher = unit.full_name or unit.title


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(text_line(_("Publishing body (发布机构)"), name="publisher",
                    description=_("Defaults to the unit's full name")))
    s.add(text_line(_("Document number (文号)"), name="doc_number", max_length=100,
                    description=_("For example 梅政办发〔2011〕108号")))
    s.add(colander.SchemaNode(colander.Date(), name="written_date", title=_("Date written (成文日期)"),
                              missing=None, widget=deform.widget.DateInputWidget()))
    s.add(choice(_("Subject class (主题分类)"), SUBJECTS, name="subject"))
    s.add(choice(_("Genre (体裁)"), GENRES, name="genre"))
    s.add(choice(_("Disclosure mode (公开方式)"), MODES, name="disclosure_mode", missing="主动公开", default="主动公开"))
    s.add(choice(_("Validity (有效性)"), VALIDITY, name="validity", missing=IN_FORCE, default=IN_FORCE))
    s.add(text_line(_("Superseded by (索引号)"), name="superseded_by", max_length=80,
                    validator=superseding_exists(request),
                    description=_("The index number of the document that replaces this one")))
    s.add(text_line(_("Keywords (关键词)"), name="keywords", max_length=300))
    s.add(colander.SchemaNode(colander.String(), name="summary", title=_("Summary of content (内容概述)"),
                              missing="", widget=deform.widget.TextAreaWidget(rows=4)))
    s.add(rich_text(name="body", title=_("Body")))
    s.add(file_list_node(request, "attachments", _("Attachments"), node))
    s.validator = check_dates
    return add_dates(s)


def superseding_exists(request: Any) -> Any:
    """The superseding document must be one the user may view: another unit's private document is
    answered as if there were none, so the field cannot be used to probe private 索引号."""
    def validate(node: colander.SchemaNode, value: str) -> None:
        if not value:
            return
        doc = request.dbsession.scalar(select(Disclosure).where(Disclosure.index_number == value.strip()))
        if doc is None or not request.has_permission("view", doc):
            raise colander.Invalid(node, _("No document has the index number ${value}", mapping={"value": value}))
    return validate


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo(
        "Disclosure", _("Disclosure document"), Disclosure, schema, addable_to=CONTAINERS, dated=True,
        belongs_in=("信息公开", "政策文件"),
        template="themes:default/templates/disclosure.pt", view=disclosure_view, html_fields=("body",),
        text_fields=("summary", "body"), file_fields=("attachments",), index=index_fields,
        source_field="publisher"))
    config.add_subscriber(assign_index_number, ObjectAdded)


def index_fields(node: Disclosure) -> dict[str, Any]:
    """The catalogue fields search filters and boosts on."""
    fields: dict[str, Any] = {key: getattr(node, key) for key in ("subject", "genre", "doc_number", "index_number")
                              if getattr(node, key)}
    keywords = (node.keywords or "").replace("，", " ").replace(",", " ").split()
    if keywords:
        fields["keywords"] = keywords
    return fields


def disclosure_view(context: Disclosure, request: Any) -> dict[str, Any]:
    return {**item_view(context, request), "superseding": superseding_document(request, context)}


def superseding_document(request: Any, node: Disclosure) -> Disclosure | None:
    if not node.superseded_by:
        return None
    doc = request.dbsession.scalar(select(Disclosure).where(Disclosure.index_number == node.superseded_by))
    return doc if doc is not None and request.has_permission("view", doc) else None

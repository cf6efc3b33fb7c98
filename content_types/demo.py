"""Demo content for `make run`: a few items of these types in several units, and demo accounts.
Idempotent. `portal -c INI demo` runs it (registered through the `portal.commands` entry point
group, like search's commands, since the core knows no content type).

Everything goes through portal.content as the people of the demo would do it -- the manager
publishes into the units' standard columns (content_types.columns), the editor of 黄梅镇 adds and
submits -- so the demo is checked and sanitised like any other change. The county plan
(梅政办发〔2011〕108号) is content_types/data/. Other packages add their part through the entry
point group `portal.demo` (contributed_demos), e.g. the catalogue's datasets.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
from html import escape
from importlib import resources
from importlib.metadata import entry_points
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal import content
from portal.accounts import add_user, ensure_groups, find_unit
from portal.cli import script_request, server_urls
from portal.models import Node, User
from portal.security import act_as

from .columns import create_columns, standard_column
from .disclosure import IN_FORCE

ACCOUNTS = (
    # login, password, full name, groups, editor of
    ("admin", "admin-demo-2026", "网站管理员", ["managers"], []),
    ("shenhe", "shenhe-demo-2026", "县政府办审核员", ["reviewers"], []),
    ("hmz-editor", "editor-demo-2026", "黄梅镇信息员", [], ["黄梅镇"]),
)
DEMO_GROUP = "portal.demo"


def contributed_demos() -> list[Callable[[Any], list[str]]]:
    """The demo parts of other packages (entry point group `portal.demo`: functions `(request) ->
    lines to print`), which this package cannot name. The one place that orders them: after this
    package's own part, whose accounts they act as, then by entry point name."""
    return [entry.load() for entry in sorted(entry_points(group=DEMO_GROUP), key=lambda entry: entry.name)]


def plan_html() -> str:
    """The plan as paragraphs: the source lost its punctuation to '.', so start a paragraph at each
    numbered section (一. 二. ...) and read the other dots as commas."""
    text = resources.files("content_types.data").joinpath("county_plan.txt").read_text(encoding="utf-8")
    body = text.split("\n", 1)[-1].strip()
    sections = re.split(r"(?=[一二三四五六七八九十]\.(?=[\u4e00-\u9fff]))", body)
    paragraphs = []
    for section in sections:
        section = re.sub(r"^([一二三四五六七八九十])\.", r"\1、", section.strip(".")).replace(".", "，")
        if section:
            paragraphs.append(f"<p>{escape(section)}。</p>")
    return "".join(paragraphs)


def existing(parent: Node, type_name: str, title: str) -> Node | None:
    """The demo's item of that type and title anywhere in `parent`'s unit: a demo loaded by an
    earlier release kept its news in a column of its own (政务动态), not in 新闻动态."""
    site = parent.unit() or parent
    return object_session(parent).scalar(select(Node).where(
        Node.path.like(f"{site.path}%"), Node.type == type_name, Node.title == title).limit(1))


def make(request: Any, parent: Node, type_name: str, data: dict[str, Any], publish: bool = False,
         submit: bool = False) -> Node:
    """The item titled `data["title"]` in `parent`'s unit, made in `parent` (and submitted or
    published) if missing."""
    node = existing(parent, type_name, data["title"])
    if node is None:
        node = content.create(request, parent, type_name, data)
        if submit or publish:
            content.transition(request, node, "submit")
        if publish:
            content.transition(request, node, "publish", "演示数据")
    return node


def load_demo(request: Any) -> list[str]:
    """Make what is missing of the demo, then the other packages' parts (contributed_demos);
    returns the lines to print (the accounts, then the parts' lines)."""
    dbsession = request.dbsession
    ensure_groups(dbsession)
    for login, password, fullname, groups, editor_of in ACCOUNTS:
        if dbsession.scalar(select(User).where(User.login == login)) is None:
            add_user(dbsession, login, password, groups, editor_of, fullname=fullname, request=request)
    admin = dbsession.scalar(select(User).where(User.login == "admin"))
    editor = dbsession.scalar(select(User).where(User.login == "hmz-editor"))
    act_as(request, admin)

    office, town = find_unit(dbsession, "县政府办"), find_unit(dbsession, "黄梅镇")
    for unit in (office, town):  # `portal init` gave them their columns; a database not yet upgraded gets them now
        create_columns(request, unit)
    disclosure = standard_column(office, "信息公开")
    make(request, disclosure, "Disclosure", {
        "title": "县人民政府办公室关于印发黄梅县电子政务专网建设实施方案的通知",
        "doc_number": "梅政办发〔2011〕108号", "written_date": dt.date(2011, 10, 28), "subject": "综合政务",
        "genre": "通知", "disclosure_mode": "主动公开", "validity": IN_FORCE,
        "keywords": "电子政务 专网 方案 通知",
        "summary": "印发黄梅县电子政务专网建设实施方案，明确专网建设的指导思想、目标、主要任务、步骤安排和保障措施。",
        "body": plan_html()}, publish=True)
    news = standard_column(office, "动态")
    make(request, news, "News", {"title": "县电子政务专网首批接入单位完成联网调试", "source": "县政府办",
                                 "body": "<p>按照专网建设实施方案的安排，首批接入单位已完成联网调试。</p>"},
         publish=True)
    make(request, news, "News", {"title": "县政府办召开政府网站集约化工作推进会", "source": "县政府办",
                                 "body": "<p>会议要求各乡镇、各部门通过县政府门户网站子站发布信息。</p>"},
         publish=True)

    notices = standard_column(town, "通知公告")
    make(request, notices, "Page", {"title": "黄梅镇便民服务中心办事指南",
                                    "body": "<p>便民服务中心工作日上午8:30至12:00、下午14:30至17:30对外办公。</p>"},
         publish=True)
    act_as(request, editor)
    make(request, notices, "News", {"title": "黄梅镇开展电子政务培训（待审核）", "source": "黄梅镇",
                                    "body": "<p>镇政府组织各村（社区）信息员开展培训。</p>"}, submit=True)
    make(request, notices, "Page", {"title": "黄梅镇2026年冬季防火通知（草稿）",
                                    "body": "<p>草稿，尚未提交审核。</p>"})
    act_as(request, None)
    lines = ["demo accounts:"]
    for login, password, fullname, groups, editor_of in ACCOUNTS:
        what = "manager" if "managers" in groups else "county reviewer" if "reviewers" in groups else \
            f"editor of {', '.join(editor_of)}"
        lines.append(f"  {login:<12} password {password:<18} {fullname} ({what})")
    for part in contributed_demos():
        lines.extend(part(request))
        act_as(request, None)
    return lines


def cmd_demo(args: argparse.Namespace) -> None:
    with script_request(args.config) as request:
        lines = load_demo(request)
    lines[0] = f"demo accounts (log in at {server_urls(args.config)[0]}/@@login):"
    print("\n".join(lines))


def register(sub: Any) -> None:
    """Entry point of the `portal.commands` group: adds `portal -c INI demo`."""
    sub.add_parser("demo", help="load the demo content and accounts (idempotent)").set_defaults(func=cmd_demo)

"""Demo content for `make run`: enough of what a county portal publishes that the home page, the
county office's columns and a few unit homes read as a working site, and the demo accounts.
Idempotent: items are found by title (pages by name), so a second run adds nothing. `portal -c INI
demo` runs it (registered through the `portal.commands` entry point group, like search's
commands, since the core knows no content type).

Everything goes through the API's checks (portal.api.fields.deserialize: vocabularies, dates,
pictures through the upload path) and portal.content's actions, as the people of the demo would
do it: the manager writes and publishes for the county office and the departments, the editor of
黄梅镇 writes and submits, the county reviewer publishes. Publication dates are the real ones
(`content.transition(..., published_at=...)`): the county plan 梅政办发〔2011〕108号 of
content_types/data/ was published in 2011, the articles of content_types.demo_content in the weeks
before the run. Other packages add their part through the entry point group `portal.demo`
(contributed_demos), e.g. the catalogue's datasets.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import re
from collections import Counter
from html import escape
from importlib import resources
from importlib.metadata import entry_points
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal import content
from portal.accounts import add_user, ensure_groups, find_unit
from portal.api.fields import deserialize
from portal.cli import script_request, server_urls
from portal.models import Node, Portal, Unit, User
from portal.registry import type_info
from portal.sanitize import sanitize_html
from portal.schemas import LOCAL_TZ
from portal.security import act_as
from portal.units import SITE_DEFAULTS

from . import demo_content as text
from .columns import create_columns, standard_column
from .demo_pictures import picture
from .disclosure import IN_FORCE

ACCOUNTS = (
    # login, password, full name, groups, editor of
    ("admin", "admin-demo-2026", "网站管理员", ["managers"], []),
    ("shenhe", "shenhe-demo-2026", "县政府办审核员", ["reviewers"], []),
    ("hmz-editor", "editor-demo-2026", "黄梅镇信息员", [], ["黄梅镇"]),
)
REVIEWER = "shenhe"
DEMO_GROUP = "portal.demo"
COMMENT = "演示数据"

PLAN_TITLE = "县人民政府办公室关于印发黄梅县电子政务专网建设实施方案的通知"
PLAN_NUMBER = "梅政办发〔2011〕108号"
PLAN_WRITTEN = dt.date(2011, 10, 28)  # 成文日期 (and 印发)
PLAN_PUBLISHED = dt.datetime(2011, 10, 31, 9, 30, tzinfo=LOCAL_TZ)

# The county office's column for the explanations of its policies (the home page's 政策解读).
EXPLAINED = {"name": "zcjd", "title": "政策解读", "column_kind": "政策文件", "update_interval": 183}
# The pages the main navigation links to (走进黄梅, 政务服务, 互动交流), at the root.
ROOT_PAGES = (("zjhm", "走进黄梅", "黄梅县的地理、人口、历史文化和经济概况"),
              ("zwfw", "政务服务", "县政务服务中心和各乡镇便民服务中心的办事时间、地点和办事指引"),
              ("hdjl", "互动交流", "联系县人民政府办公室，12345热线和信访渠道"))
# Placeholders of the portal's footer set by earlier releases (all zeros), which the demo replaces.
ZEROS = re.compile(r"0{8,}")


def contributed_demos() -> list[Callable[[Any], list[str]]]:
    """The demo parts of other packages (entry point group `portal.demo`: functions `(request) ->
    lines to print`), which this package cannot name. The one place that orders them: after this
    package's own part, whose accounts they act as, then by entry point name."""
    return [entry.load() for entry in sorted(entry_points(group=DEMO_GROUP), key=lambda entry: entry.name)]


def plan_html() -> str:
    """The plan's text, punctuated and in paragraphs (content_types/data/county_plan.html).

    county_plan.txt is the plan as it was found: its punctuation turned into '.', and what stood in
    brackets (〔2011〕 of its 文号, the numbers （一）（二） of its items, the 《》 title the notice
    sends) lost with them. county_plan.html restores those and nothing else: every word of the
    text is kept, in order (tests/functional/test_demo.py compares them), and its header (title
    and 文号) is the document's fields, not its body."""
    return resources.files("content_types.data").joinpath("county_plan.html").read_text(encoding="utf-8")


def existing(parent: Node, type_name: str, title: str) -> Node | None:
    """The demo's item of that type and title anywhere in `parent`'s unit: a demo loaded by an
    earlier release kept its news in a column of its own (政务动态), not in 新闻动态."""
    site = parent.unit() or parent
    return object_session(parent).scalar(select(Node).where(
        Node.path.like(f"{site.path}%"), Node.type == type_name, Node.title == title).limit(1))


class Demo:
    """One run: who acts, what was added, the pictures drawn so far."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.users = {u.login: u for u in request.dbsession.scalars(select(User))}
        self.added: Counter[str] = Counter()
        self.pictures: dict[str, str] = {}
        self.today = dt.datetime.now(LOCAL_TZ).date()

    def as_(self, login: str | None) -> None:
        act_as(self.request, self.users[login] if login else None)

    def add(self, parent: Node, type_name: str, body: dict[str, Any], *, author: str = "admin",
            name: str | None = None, published_at: dt.datetime | None = None) -> Node:
        """Made by `author` as an API POST would be, submitted, and published by the manager (its
        own items) or the county reviewer (an editor's), on `published_at` if given."""
        self.as_(author)
        node = content.create(self.request, parent, type_name,
                              deserialize(self.request, type_info(self.request.registry, type_name), body), name=name)
        content.transition(self.request, node, "submit")
        self.as_(author if author == "admin" else REVIEWER)
        content.transition(self.request, node, "publish", COMMENT, published_at=published_at)
        self.as_("admin")
        self.added[type_name] += 1
        return node

    def change(self, node: Node, body: dict[str, Any]) -> None:
        """An edit checked as an API PATCH would be (the manager's: saved at once, even if published)."""
        info = type_info(self.request.registry, node.type)
        content.save(self.request, node, deserialize(self.request, info, body, node))

    def upload(self, scene: str) -> dict[str, str]:
        if scene not in self.pictures:
            self.pictures[scene] = base64.b64encode(picture(scene)).decode("ascii")
        return {"data": self.pictures[scene], "encoding": "base64", "filename": f"{scene}.jpg"}

    def moment(self, days_ago: int, index: int) -> dt.datetime:
        """A working hour of the day `days_ago` days before today, Beijing time (`index` spreads the
        items of one day between 9:00 and 16:00)."""
        day = self.today - dt.timedelta(days=days_ago)
        return dt.datetime.combine(day, dt.time(9, 0), LOCAL_TZ) + dt.timedelta(minutes=(index * 37) % 420)


def load_demo(request: Any) -> list[str]:
    """Make what is missing of the demo, then the other packages' parts (contributed_demos);
    returns the lines to print (the accounts, what was added, then the parts' lines)."""
    dbsession = request.dbsession
    ensure_groups(dbsession)
    for login, password, fullname, groups, editor_of in ACCOUNTS:
        if dbsession.scalar(select(User).where(User.login == login)) is None:
            add_user(dbsession, login, password, groups, editor_of, fullname=fullname, request=request)
    demo = Demo(request)
    demo.as_("admin")
    office, town = find_unit(dbsession, text.OFFICE), find_unit(dbsession, text.TOWN)
    for unit in (office, town):  # `portal init` gave them their columns; a database not yet upgraded gets them now
        create_columns(request, unit)
    site_settings(demo)
    county_plan(demo, office)
    explained_column(demo, office)
    articles(demo)
    contacts(demo)
    root_pages(demo, office)
    town_drafts(demo, town)

    act_as(request, None)
    lines = ["demo accounts:"]
    for login, password, fullname, groups, editor_of in ACCOUNTS:
        what = "manager" if "managers" in groups else "county reviewer" if "reviewers" in groups else \
            f"editor of {', '.join(editor_of)}"
        lines.append(f"  {login:<12} password {password:<18} {fullname} ({what})")
    total = sum(demo.added.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(demo.added.items()))
    lines.append(f"demo content: {total} items added" + (f" ({kinds}; {len(demo.pictures)} pictures)" if total else ""))
    for part in contributed_demos():
        lines.extend(part(request))
        act_as(request, None)
    return lines


def site_settings(demo: Demo) -> None:
    """The footer's values where an earlier release left placeholders of zeros (or nothing)."""
    root = demo.request.dbsession.scalar(select(Portal).where(Node.path == "/"))
    missing = {key: value for key, value in SITE_DEFAULTS.items()
               if not getattr(root, key) or ZEROS.search(getattr(root, key))}
    if missing:
        demo.change(root, missing)


def county_plan(demo: Demo, office: Unit) -> None:
    """梅政办发〔2011〕108号 in the county office's 政府信息公开, published in 2011 (so its 索引号 and
    the 信息公开目录's year are 2011). A plan loaded by an earlier release gets the punctuated text."""
    column = standard_column(office, "信息公开")
    plan = existing(column, "Disclosure", PLAN_TITLE)
    if plan is None:
        demo.add(column, "Disclosure", {
            "title": PLAN_TITLE, "doc_number": PLAN_NUMBER, "written_date": PLAN_WRITTEN.isoformat(),
            "subject": "综合政务", "genre": "通知", "disclosure_mode": "主动公开", "validity": IN_FORCE,
            "keywords": "电子政务 专网 方案 通知",
            "summary": "印发黄梅县电子政务专网建设实施方案，明确专网建设的指导思想、目标、主要任务、步骤安排和保障措施。",
            "body": plan_html()}, published_at=PLAN_PUBLISHED)
    elif plan.body != sanitize_html(plan_html()):
        demo.change(plan, {"body": plan_html()})


def explained_column(demo: Demo, office: Unit) -> None:
    """县政府办's 政策解读 column, right after its 政策文件."""
    if office.get(EXPLAINED["name"]) is not None:
        return
    fields = {key: value for key, value in EXPLAINED.items() if key != "name"}
    column = demo.add(office, "Folder", fields, name=EXPLAINED["name"])
    policies = standard_column(office, "政策文件")
    names = office.keys()
    content.move(demo.request, column, names.index(policies.name) + 1 if policies is not None else len(names))


def articles(demo: Demo) -> None:
    """The news, notices, documents and 解读 of content_types.demo_content, then the document that
    was replaced is marked 已废止, naming its successor's 索引号."""
    units: dict[str, Unit] = {}
    # oldest first, as they were written: the 索引号 of a unit's year count up with the dates
    for index, item in enumerate(sorted(text.items(demo.today), key=lambda item: -item.days_ago)):
        unit = units.setdefault(item.unit, find_unit(demo.request.dbsession, item.unit))
        column = unit.get(item.column)
        if existing(column, item.type, item.title) is not None:
            continue
        published = demo.moment(item.days_ago, index)
        demo.add(column, item.type, fields(demo, item, published), author=item.author, published_at=published)
    news = text.NETWORK_NEWS  # of 2011, with the plan
    column = find_unit(demo.request.dbsession, news.unit).get(news.column)
    if existing(column, news.type, news.title) is None:
        demo.add(column, news.type, {"title": news.title, "body": text.html(news.paragraphs), **news.fields},
                 published_at=text.NETWORK_NEWS_PUBLISHED.replace(tzinfo=LOCAL_TZ))
    for item in text.items(demo.today):
        if item.superseded_by:
            old = existing(units[item.unit], item.type, item.title)
            new = existing(units[item.unit], item.type, item.superseded_by)
            if old.validity == IN_FORCE:
                demo.change(old, {"validity": "已废止", "superseded_by": new.index_number})


def fields(demo: Demo, item: text.DemoItem, published: dt.datetime) -> dict[str, Any]:
    """The item's JSON as the API takes it; dates in its text are its publication's."""
    day = published.date()
    values = {"date": f"{day.month}月{day.day}日", "year": str(day.year), "next_year": str(day.year + 1)}
    body: dict[str, Any] = {"title": item.title, "body": text.html(item.paragraphs, **values), **item.fields}
    if item.type == "Disclosure":
        written = day - dt.timedelta(days=item.written_days_before)
        body.update(written_date=written.isoformat(), doc_number=item.fields["doc_number"].format(year=written.year))
    if item.picture:
        body["lead_image"] = demo.upload(item.picture)
    return body


def contacts(demo: Demo) -> None:
    """The contact of the units the demo writes for, and in their 信息公开指南 the placeholder the
    guide was made with (the unit had no contact then)."""
    for title, contact in text.CONTACTS.items():
        unit = find_unit(demo.request.dbsession, title)
        if unit.contact:
            continue
        demo.change(unit, {"contact": contact})
        guide = unit.get("xxgkzn")
        placeholder = "联系方式由本单位补充。"
        if guide is not None and placeholder in guide.body:
            demo.change(guide, {"body": guide.body.replace(placeholder, escape(contact, quote=False))})


def root_pages(demo: Demo, office: Unit) -> None:
    """走进黄梅, 政务服务 and 互动交流 at the root, where the main navigation links."""
    dbsession = demo.request.dbsession
    root = dbsession.scalar(select(Portal).where(Node.path == "/"))
    centres = [(u.title, u.path) for u in dbsession.scalars(
        select(Unit).where(Unit.kind == "便民服务中心").order_by(Unit.org_code))]
    notice = existing(office, "News", text.SERVICE_CENTRE_NOTICE)
    policies = standard_column(office, "政策文件")
    guide = office.get("xxgkzn")
    bodies = {
        "zjhm": text.county_profile,
        "zwfw": lambda: text.government_services(centres, notice.path, policies.path, guide.path),
        "hdjl": lambda: text.contact_us(find_unit(dbsession, "县信访局").path, guide.path),
    }
    for name, title, description in ROOT_PAGES:
        if root.get(name) is None:
            demo.add(root, "Page", {"title": title, "description": description, "body": bodies[name]()}, name=name)


def town_drafts(demo: Demo, town: Unit) -> None:
    """What waits in 黄梅镇: a page of the manager's, an item submitted by the editor, a draft."""
    notices = standard_column(town, "通知公告")
    if existing(notices, "Page", "黄梅镇便民服务中心办事指南") is None:
        demo.add(notices, "Page", {"title": "黄梅镇便民服务中心办事指南",
                                   "body": "<p>便民服务中心工作日上午8:30至12:00、下午14:30至17:30对外办公。</p>"})
    demo.as_("hmz-editor")
    if existing(notices, "News", "黄梅镇开展电子政务培训（待审核）") is None:
        node = content.create(demo.request, notices, "News", {
            "title": "黄梅镇开展电子政务培训（待审核）", "source": "黄梅镇",
            "body": "<p>镇政府组织各村（社区）信息员开展培训。</p>"})
        content.transition(demo.request, node, "submit")
        demo.added["News"] += 1
    if existing(notices, "Page", "黄梅镇2026年冬季防火通知（草稿）") is None:
        content.create(demo.request, notices, "Page", {"title": "黄梅镇2026年冬季防火通知（草稿）",
                                                       "body": "<p>草稿，尚未提交审核。</p>"})
        demo.added["Page"] += 1
    demo.as_(None)


def cmd_demo(args: argparse.Namespace) -> None:
    with script_request(args.config) as request:
        lines = load_demo(request)
    lines[0] = f"demo accounts (log in at {server_urls(args.config)[0]}/@@login):"
    print("\n".join(lines))


def register(sub: Any) -> None:
    """Entry point of the `portal.commands` group: adds `portal -c INI demo`."""
    sub.add_parser("demo", help="load the demo content and accounts (idempotent)").set_defaults(func=cmd_demo)

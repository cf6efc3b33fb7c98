"""`portal demo` (content_types.demo): demo data that reads true. The county plan keeps its
punctuation, paragraphs and every word, its 文号 and its dates of 2011 (so its 索引号 and the
信息公开目录's year say 2011); every source of the home page (the county office's 新闻动态 with
pictures, 通知公告, 政策文件, 政策解读, the departments' and the towns' news) and a few unit homes
have real-looking content, published over the past weeks; the main navigation's pages exist; a
second run adds nothing."""
from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from importlib import resources
from typing import Any

import lxml.html
import pytest
from PIL import Image
from sqlalchemy import func, select

from content_types import demo_content
from content_types.demo import PLAN_NUMBER, PLAN_TITLE, load_demo, plan_html
from content_types.demo_pictures import SCENES, picture
from content_types.disclosure import IN_FORCE, Disclosure
from content_types.folder import Folder
from content_types.news import News
from content_types.page import Page
from portal.cli import make_request
from portal.models import Node, Portal, Unit
from portal.models.node import utcnow
from portal.schemas import LOCAL_TZ, to_local
from tests.conftest import unit

DEPARTMENTS = ("县教育局", "县卫生局", "县交通运输局", "县农业局")
TOWNS = ("黄梅镇", "小池镇", "孔垄镇", "五祖镇")


@pytest.fixture
def demo(app, tm, dbsession) -> list[str]:
    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    lines = load_demo(request)
    dbsession.flush()
    return lines


def plan(dbsession) -> Disclosure:
    return dbsession.scalar(select(Disclosure).where(Disclosure.doc_number == PLAN_NUMBER))


def text_of(html: str) -> str:
    return lxml.html.fromstring(f"<div>{html}</div>").text_content()


def paragraphs(html: str) -> list[str]:
    return [" ".join(el.text_content().split()) for el in lxml.html.fromstring(f"<div>{html}</div>")]


def public(dbsession, container: Node, type_name: str | None = None) -> list[Node]:
    """The published items of a column (or of a type in it)."""
    return [n for n in dbsession.scalars(select(Node).where(Node.parent_id == container.id, Node.state == "published"))
            if type_name is None or n.type == type_name]


# -- the county plan ----------------------------------------------------------------------------------

def words(text: str) -> str:
    """The letters and digits of a text, lower case (the source lost its capitals), 〇 read as the o
    the source has."""
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", text.lower().replace("〇", "o"))


def test_the_plan_keeps_every_word_of_the_source_in_order():
    source = resources.files("content_types.data").joinpath("county_plan.txt").read_text(encoding="utf-8")
    body = source.split("\n", 1)[1]
    header, body = body[:body.index("各乡")], body[body.index("各乡"):]
    # the header is the document's fields: its title and 文号 (whose 〔2011〕 went with its brackets)
    assert PLAN_TITLE in header and "梅政办发108号" in header
    # what stood in brackets was lost with them, and the source read the dashes of two dates as 一
    restored = re.sub(r"〔[^〕]*〕|（[^）]*）|《[^》]*》", "", text_of(plan_html()))
    assert words(restored) == words(body.replace("月一2011", "月2011").replace("日一2011", "日2011"))


def test_the_plan_is_punctuated_in_paragraphs():
    html = plan_html()
    texts = paragraphs(html)
    assert texts[0] == "各乡、镇人民政府，县政府各部门，黄梅经济开发区管委会："
    assert "二〇一一年十月二十八日" in texts
    assert [t for t in texts if re.match(r"^[一二三四五六七八九十]、", t)] == [
        "一、指导思想和目标要求", "二、主要任务和步骤安排", "三、建设模式和资金投入", "四、保障措施"]
    assert [t[:3] for t in texts if t.startswith("（")] == ["（一）", "（二）", "（三）"] * 3 + [
        "（四）", "（五）", "（六）"]
    assert sum(1 for t in texts if re.match(r"^\d\.", t)) == 13  # the targets of the three steps
    assert "实现90%以上的政府部门连专网、50%以上的政府职能上专网。" in texts[texts.index("（三）完善与提升") + 6]
    assert "电子邮箱：435279335@qq.com" in html and "“211”" in html and "“一站式”" in html
    units = next(t for t in texts if t.startswith("黄梅镇、孔垄镇、"))
    listed = units.rstrip("。").split("、")  # as in the source: 县物价局 twice
    assert len(listed) == 68 and listed[-1] == "县信访局" and listed.count("县物价局") == 2
    # no '.' left of the source's: only the 1. 2. of items, 6.0 and the e-mail address keep one
    text = text_of(html)
    for match in re.finditer(r"\.", text):
        around = text[match.start() - 1: match.end() + 1]
        assert re.fullmatch(r"\d\.[\u4e00-\u9fff]|\d\.\d|q\.c", around), around
    # every sentence ends as a sentence; the rest are headings, dates and the document's footer
    assert [t for t in texts if t[-1] not in "。："] == [
        "二〇一一年十月二十八日", "黄梅县电子政务专网建设实施方案", "一、指导思想和目标要求", "二、主要任务和步骤安排",
        "（一）启动", "（二）试运行", "（三）完善与提升", "三、建设模式和资金投入", "四、保障措施",
        "附件：黄梅县电子政务专网第一期接入单位名单", "主题词：行政事务 电子政务 方案 通知",
        "黄梅县人民政府办公室 2011年10月28日印发"]


def test_the_plan_is_dated_2011_with_its_index_number_and_catalogue_year(demo, dbsession, testapp):
    doc = plan(dbsession)
    assert (doc.title, doc.state, doc.owner) == (PLAN_TITLE, "published", "admin")
    assert doc.written_date == dt.date(2011, 10, 28)
    assert to_local(doc.published).date() == dt.date(2011, 10, 31)
    assert doc.index_number == f"{unit(dbsession, '县政府办').org_code}/2011-00001"
    assert doc.modified > doc.published  # loaded today, published in 2011
    catalogue = testapp.get("/@@xxgk")
    assert "year=2011" in catalogue.text  # the year facet offers 2011
    of_2011 = testapp.get("/@@xxgk", {"year": "2011"})
    listed = lxml.html.fromstring(of_2011.text).text_content()  # (the 索引号 breaks after its "/": <wbr>)
    assert PLAN_TITLE in listed and doc.index_number in listed and "2011-10-31" in listed
    page = testapp.get(doc.path)
    assert PLAN_NUMBER in page.text and "2011-10-28" in page.text and "二〇一一年十月二十八日" in page.text


# -- what the home page and the unit homes show ------------------------------------------------------------

def test_every_source_of_the_home_page_has_content(demo, dbsession):
    office = unit(dbsession, "县政府办")
    news = public(dbsession, office.get("xwdt"), "News")
    assert len(news) >= 6
    pictured = [n for n in news if n.lead_image]
    assert len(pictured) >= 4
    for item in pictured:
        assert item.lead_image["content_type"] == "image/jpeg" and item.lead_image["size"] <= 60 * 1024
        assert (item.lead_image["width"], item.lead_image["height"]) == (800, 450)
    assert len(public(dbsession, office.get("tzgg"), "News")) >= 5

    policies = public(dbsession, office.get("zcwj"), "Disclosure")
    assert len(policies) >= 5
    assert all(re.fullmatch(r"梅政(办)?发〔\d{4}〕\d+号", d.doc_number) for d in policies)
    assert all(d.index_number.split("/")[1][:4] == str(d.written_date.year) for d in policies)
    assert len({d.subject for d in policies}) >= 4 and len({d.genre for d in policies}) >= 3
    (repealed,) = [d for d in policies if d.validity == "已废止"]
    successor = dbsession.scalar(select(Disclosure).where(Disclosure.index_number == repealed.superseded_by))
    assert successor.validity == IN_FORCE and successor.published > repealed.published

    explained = office.get("zcjd")
    assert isinstance(explained, Folder) and explained.state == "published"
    assert (explained.title, explained.column_kind) == ("政策解读", "政策文件")
    assert office.keys().index("zcjd") == office.keys().index("zcwj") + 1
    assert len(public(dbsession, explained, "Disclosure")) >= 3

    for title in DEPARTMENTS:
        assert public(dbsession, unit(dbsession, title).get("xwdt"), "News"), title
    town_news = [n for title in TOWNS for n in public(dbsession, unit(dbsession, title).get("xwdt"), "News")]
    assert {n.unit().title for n in town_news} == set(TOWNS)
    assert any(n.lead_image for n in town_news)


def test_the_town_home_is_full_and_written_by_its_editor(demo, dbsession, testapp):
    town = unit(dbsession, "黄梅镇")
    for column in (c for c in town.values() if isinstance(c, Folder)):
        assert public(dbsession, column), column.title
    assert public(dbsession, town.get("xxgk"), "Disclosure")
    assert town.contact.startswith("黄梅镇人民政府党政综合办公室") and "0713-" in town.contact
    assert town.contact in town.get("xxgkzn").body and "联系方式由本单位补充" not in town.get("xxgkzn").body
    article = dbsession.scalar(select(News).where(Node.title == "黄梅镇召开秋冬季农业生产现场推进会"))
    assert article.owner == "hmz-editor" and article.lead_image
    home = testapp.get(town.path)
    assert "黄梅镇召开秋冬季农业生产现场推进会" in home.text and "东正街66号" in home.text
    page = lxml.html.fromstring(testapp.get(article.path).text)
    assert page.xpath('//img[contains(@src, "@@images/lead_image")]/@alt') == [article.title]


def test_articles_are_published_over_the_past_weeks_and_read_as_written(demo, dbsession):
    items = list(dbsession.scalars(select(Node).where(Node.type.in_(("News", "Disclosure")),
                                                      Node.state == "published")))
    now = utcnow()
    assert all(n.published < now for n in items)
    recent = sorted({to_local(n.published).date() for n in items if now - n.published < dt.timedelta(days=120)})
    assert len(recent) >= 30 and (recent[-1] - recent[0]).days >= 60
    for node in items:
        body = node.body
        assert "{" not in body and "}" not in body, node.title  # every date filled in
        if node.title in ("县电子政务专网首批接入单位完成联网调试",):
            continue
        if node.type == "News" and node.unit().title == "县政府办" and node.parent.name == "xwdt":
            assert len(paragraphs(body)) >= 2, node.title
    meeting = dbsession.scalar(select(News).where(Node.title == "全县秋冬季农业生产工作会议召开"))
    day = to_local(meeting.published).date()
    assert meeting.body.startswith(f"<p>{day.month}月{day.day}日，")  # the day it was published
    network = dbsession.scalar(select(News).where(Node.title == "县电子政务专网首批接入单位完成联网调试"))
    assert to_local(network.published).date() == dt.date(2011, 11, 10)


def test_the_pictures_are_small_deterministic_jpegs():
    for scene in SCENES:
        data = picture(scene)
        assert data == picture(scene) and len(data) <= 60 * 1024, scene
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == ("JPEG", (800, 450))


# -- the main navigation's pages and the footer -----------------------------------------------------------

def test_the_navigation_pages_are_at_the_root(demo, dbsession, testapp):
    root = dbsession.scalar(select(Portal))
    pages = {name: root.get(name) for name in ("zjhm", "zwfw", "hdjl")}
    assert {name: (type(p), p.title, p.state) for name, p in pages.items()} == {
        "zjhm": (Page, "走进黄梅", "published"), "zwfw": (Page, "政务服务", "published"),
        "hdjl": (Page, "互动交流", "published")}
    assert all(word in pages["zjhm"].body for word in ("地理位置", "人口", "禅宗", "五祖", "黄梅戏", "经济"))
    services = lxml.html.fromstring(testapp.get("/zwfw/").text)
    links = set(services.xpath("//a/@href"))
    centres = list(dbsession.scalars(select(Unit).where(Unit.kind == "便民服务中心")))
    assert len(centres) == 16 and all(any(link.endswith(c.path) for link in links) for c in centres)
    notice = dbsession.scalar(select(News).where(Node.title == demo_content.SERVICE_CENTRE_NOTICE))
    assert any(link.endswith(notice.path) for link in links) and "8:30" in pages["zwfw"].body
    contact = pages["hdjl"].body
    assert all(word in contact for word in ("地址", "电话", "电子邮箱", "信访", "12345"))
    assert unit(dbsession, "县信访局").path in contact


def test_init_gives_the_footer_demo_registration_numbers(dbsession):
    root = dbsession.scalar(select(Portal))  # as `portal init` made it (tests/conftest.py: set_up_site)
    assert root.sponsor == unit(dbsession, "县政府办").full_name == "黄梅县人民政府办公室"
    assert re.fullmatch(r"421127\d{4}", root.site_code)
    assert re.fullmatch(r"鄂ICP备\d{8}号", root.icp) and re.fullmatch(r"鄂公网安备421127\d{8}号", root.police_record)
    assert "0713-3321214" in root.contact


def test_the_demo_replaces_the_zeros_an_earlier_release_left(app, tm, dbsession):
    root = dbsession.scalar(select(Portal))
    root.icp, root.police_record, root.sponsor = "鄂ICP备00000000号", "鄂公网安备00000000000000号", "本县自己的主办单位"
    dbsession.flush()
    load_demo(make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession}))
    assert root.icp != "鄂ICP备00000000号" and "0000000" not in root.police_record
    assert root.sponsor == "本县自己的主办单位"  # a value someone entered is kept


# -- a second run -----------------------------------------------------------------------------------------

def test_a_second_run_adds_nothing(app, tm, dbsession, demo):
    total = demo[4]
    assert re.fullmatch(r"demo content: \d+ items added \(.*6 pictures\)", total)
    count = dbsession.scalar(select(func.count(Node.id)))
    bodies = {n.id: (n.version, n.published) for n in dbsession.scalars(select(Node))}
    again = load_demo(make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession}))
    assert again[4] == "demo content: 0 items added"
    assert dbsession.scalar(select(func.count(Node.id))) == count
    assert {n.id: (n.version, n.published) for n in dbsession.scalars(select(Node))} == bodies


def test_a_plan_loaded_by_an_earlier_release_gets_the_punctuated_text(app, tm, dbsession, demo):
    doc = plan(dbsession)
    doc.body = "<p>各乡，镇人民政府，县政府各部门。</p>"
    dbsession.flush()
    load_demo(make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession}))
    assert "各乡、镇人民政府，县政府各部门，黄梅经济开发区管委会：" in doc.body
    assert Counter(p for p in paragraphs(doc.body))["二〇一一年十月二十八日"] == 1

"""Issue 12 as a visitor meets it: the county portal's home page and navigation, a unit's sub-site,
item pages (上一篇/下一篇, the superseded banner), the footer's conventions, the national meta
tags, and the larger-text and high-contrast modes that work without JavaScript or a session."""
from __future__ import annotations

import base64
import io
from typing import Any
from urllib.parse import parse_qs, urlparse

import lxml.html
import pytest
from PIL import Image
from sqlalchemy import select

from portal.models import Portal, Unit
from tests.conftest import api_token, unit

HOST = "http://example.com"
JSON = {"Accept": "application/json"}


def picture(width: int = 800, height: int = 450) -> dict[str, str]:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 60)).save(out, "JPEG")
    return {"data": base64.b64encode(out.getvalue()).decode(), "encoding": "base64", "filename": "江堤.jpg",
            "content-type": "image/jpeg"}


@pytest.fixture
def manager(testapp: Any, users: Any) -> dict[str, str]:
    return {**api_token(testapp, "manager"), **JSON}


def publish(testapp: Any, headers: dict[str, str], path: str, type_name: str, title: str, **fields: Any) -> str:
    """Add and publish an item through the API; its path."""
    if type_name == "Disclosure":
        fields = {"subject": "综合政务", "genre": "通知", **fields}
    item = testapp.post_json(path, {"@type": type_name, "title": title, **fields}, headers=headers, status=201).json
    item_path = urlparse(item["@id"]).path + "/"
    testapp.post_json(item_path + "@workflow/submit", {}, headers=headers)
    testapp.post_json(item_path + "@workflow/publish", {}, headers=headers)
    return item_path


def page(testapp: Any, path: str) -> Any:
    return lxml.html.fromstring(testapp.get(path).text)


def texts(doc: Any, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in doc.xpath(xpath)]


@pytest.fixture
def office(dbsession: Any) -> Unit:
    """县政府办: its full name is the portal's 主办单位, so its columns are the county's."""
    return unit(dbsession, "县政府办")


# -- the home page ---------------------------------------------------------------------------------

def test_the_home_page_has_the_blocks_of_a_county_portal_in_order(testapp, manager, office):
    publish(testapp, manager, f"{office.path}xwdt/", "News", "县政府召开常务会议", lead_image=picture())
    publish(testapp, manager, f"{office.path}xwdt/", "News", "全县秋冬季农业生产现场会召开")
    publish(testapp, manager, f"{office.path}tzgg/", "News", "关于2027年元旦放假安排的通知")
    publish(testapp, manager, f"{office.path}zcwj/", "Disclosure", "黄梅县城区道路改造实施办法",
            doc_number="梅政发〔2026〕3号")
    publish(testapp, manager, f"{unit_path(testapp, '县教育局')}xwdt/", "News",
            "县教育局部署义务教育招生工作")
    publish(testapp, manager, "/huangmeizhen/xwdt/", "News", "黄梅镇开展冬季防火宣传")

    doc = page(testapp, "/")
    assert texts(doc, '//div[@class="home-grid"]/section/h2') == [
        "要闻", "部门动态", "乡镇动态", "通知公告", "政策文件", "开放数据", "政府信息公开"]
    lead = doc.xpath('//section[@id="block-yw"]//figure[@class="lead"]')[0]
    assert lead.xpath(".//img/@src")[0].endswith("@@images/lead_image/preview")
    assert lead.xpath(".//img/@alt") == ["县政府召开常务会议"]
    assert texts(doc, '//section[@id="block-yw"]//ul/li/a') == ["全县秋冬季农业生产现场会召开"]
    assert texts(doc, '//section[@id="block-bmdt"]//li/a') == ["县教育局部署义务教育招生工作"]
    assert texts(doc, '//section[@id="block-bmdt"]//li/span[@class="note"]') == ["县教育局"]
    assert texts(doc, '//section[@id="block-xzdt"]//li/a') == ["黄梅镇开展冬季防火宣传"]
    assert texts(doc, '//section[@id="block-zcwj"]//li/a') == ["黄梅县城区道路改造实施办法"]
    assert "梅政发〔2026〕3号" in texts(doc, '//section[@id="block-xxgk"]//span[@class="note"]')
    # the news of departments and towns is not 要闻: the office's own is
    assert "黄梅镇开展冬季防火宣传" not in texts(doc, '//section[@id="block-yw"]//a')


def unit_path(testapp: Any, title: str) -> str:
    dbsession = testapp.extra_environ["app.dbsession"]
    return dbsession.scalar(select(Unit).where(Unit.title == title)).path


def test_a_block_without_items_says_so_instead_of_an_empty_heading(testapp, office):
    doc = page(testapp, "/")
    assert texts(doc, '//section[@id="block-tzgg"]/p[@class="empty"]') == ["暂无信息"]


def test_department_and_township_news_have_their_own_paged_lists(testapp, manager):
    publish(testapp, manager, f"{unit_path(testapp, '县卫生局')}xwdt/", "News", "县卫生局开展义诊活动")
    publish(testapp, manager, "/huangmeizhen/xwdt/", "News", "黄梅镇召开村级换届工作会")
    doc = page(testapp, "/@@bmdt")
    assert texts(doc, "//h1") == ["部门动态"]
    assert texts(doc, '//ul[@class="items"]/li/a') == ["县卫生局开展义诊活动"]
    assert texts(doc, '//ul[@class="items"]/li/span[@class="note"]') == ["县卫生局"]
    assert texts(page(testapp, "/@@xzdt"), '//ul[@class="items"]/li/a') == ["黄梅镇召开村级换届工作会"]


def test_the_units_are_grouped_by_kind_in_the_plans_order_with_short_names(testapp):
    doc = page(testapp, "/")
    groups = doc.xpath('//section[@class="home-units"]/details')
    assert [g.xpath("summary/text()")[0].strip() for g in groups][:2] == ["乡镇", "县直部门"]
    towns = [a.text_content() for a in groups[0].xpath(".//a")]
    assert towns[:3] == ["黄梅镇", "孔垄镇", "小池镇"]
    assert groups[0].get("open") == "open" and groups[-1].get("open") is None  # the long tail folded


def test_the_main_navigation_leads_to_the_county_sections_that_exist(testapp, manager):
    publish(testapp, manager, "/", "Page", "走进黄梅", id="zjhm", text={"data": "<p>黄梅县位于湖北省东部。</p>",
                                                                     "content-type": "text/html"})
    doc = page(testapp, "/")
    nav = doc.xpath('//nav[@class="main-nav"]/div/ul/li/a')
    assert [a.text_content() for a in nav] == ["首页", "走进黄梅", "政务公开"]  # 政务服务, 互动交流: not written yet
    assert nav[0].get("aria-current") == "page"
    assert nav[1].get("href") == f"{HOST}/zjhm" or nav[1].get("href").startswith(f"{HOST}/zjhm")
    assert nav[2].get("href") == f"{HOST}/@@xxgk"
    about = page(testapp, "/zjhm/")
    assert [a.text_content() for a in about.xpath('//nav[@class="main-nav"]//a[@aria-current]')] == ["走进黄梅"]


# -- a unit's sub-site -------------------------------------------------------------------------------

def test_a_unit_site_carries_its_own_name_columns_and_disclosure_entry_points(testapp, manager, town):
    publish(testapp, manager, f"{town.path}xwdt/", "News", "黄梅镇召开安全生产会议")
    doc = page(testapp, town.path)
    assert texts(doc, '//a[@class="site-title"]') == ["黄梅县黄梅镇人民政府"]
    assert texts(doc, '//div[@class="topbar"]//a[@class="portal-link"]') == ["黄梅县人民政府"]
    nav = texts(doc, '//nav[@class="main-nav"]/div/ul/li/a')
    assert nav[0] == "本站首页" and nav[-1] == "信息公开目录"
    assert nav[1:5] == ["新闻动态", "通知公告", "政策文件", "政府信息公开"]
    assert texts(doc, '//section[@class="disclosure-entry"]//a') == ["信息公开指南", "信息公开目录", "政府信息公开年报"]
    assert texts(doc, '//section[@class="block column"][h2/a="新闻动态"]//li/a') == ["黄梅镇召开安全生产会议"]
    assert "暂无信息" in texts(doc, '//section[@class="block column"][h2/a="通知公告"]/p')
    assert doc.xpath("//title/text()") == ["黄梅镇 - 黄梅县人民政府"]
    # an item of the unit keeps the unit's header
    item = page(testapp, f"{town.path}xwdt/")
    assert texts(item, '//a[@class="site-title"]') == ["黄梅县黄梅镇人民政府"]


def test_a_unit_may_set_a_banner_picture_for_its_header(testapp, manager, town):
    testapp.patch_json(town.path.rstrip("/"), {"banner": picture(1200, 200)}, headers=manager, status=204)
    doc = page(testapp, town.path)
    style = doc.xpath('//div[@class="masthead"]/@style')[0]
    assert "@@images/banner/large" in style
    banner = testapp.get(f"{town.path}@@images/banner/large")
    assert banner.content_type == "image/jpeg"
    assert not page(testapp, "/").xpath('//div[@class="masthead"]/@style')  # the county's has none


# -- item pages --------------------------------------------------------------------------------------

def test_an_item_links_the_newer_and_older_items_of_its_column(testapp, manager, town):
    first = publish(testapp, manager, f"{town.path}tzgg/", "News", "第一则通知")
    second = publish(testapp, manager, f"{town.path}tzgg/", "News", "第二则通知")
    doc = page(testapp, second)
    assert texts(doc, '//nav[@class="neighbours"]/p') == ["下一篇： 第一则通知"]
    assert doc.xpath('//nav[@class="neighbours"]//a/@rel') == ["next"]
    third = publish(testapp, manager, f"{town.path}tzgg/", "News", "第三则通知")
    assert texts(page(testapp, second), '//nav[@class="neighbours"]/p') == ["上一篇： 第三则通知", "下一篇： 第一则通知"]
    assert texts(page(testapp, first), '//nav[@class="neighbours"]/p') == ["上一篇： 第二则通知"]
    assert third


def test_a_repealed_document_carries_a_banner_naming_what_replaced_it(testapp, manager, town):
    new = publish(testapp, manager, f"{town.path}xxgk/", "Disclosure", "黄梅镇村庄规划管理办法（2026年修订）")
    new_number = testapp.get(new.rstrip("/"), headers=manager).json["index_number"]
    old = publish(testapp, manager, f"{town.path}xxgk/", "Disclosure", "黄梅镇村庄规划管理办法")
    testapp.patch_json(old.rstrip("/"), {"validity": "已废止", "superseded_by": new_number}, headers=manager)
    doc = page(testapp, old)
    banner = texts(doc, '//div[@class="superseded"]')
    assert banner and "本文件已不再有效" in banner[0] and "已废止" in banner[0]
    assert texts(doc, '//div[@class="superseded"]/a') == ["黄梅镇村庄规划管理办法（2026年修订）"]
    assert not page(testapp, new).xpath('//div[@class="superseded"]')


def test_item_pages_print_cleanly(testapp):
    css = testapp.get(static_path(testapp, "portal.css")).text
    assert "@media print" in css and ".site-header" in css.split("@media print", 1)[1]


def static_path(testapp: Any, name: str) -> str:
    doc = page(testapp, "/")
    return next(urlparse(h).path for h in doc.xpath("//link[@rel='stylesheet']/@href") if h.endswith(name))


# -- conventions: footer and meta tags ---------------------------------------------------------------

def test_the_footer_carries_the_conventions_of_a_government_site(testapp, dbsession):
    root = dbsession.scalar(select(Portal))
    root.conac_code = "4211270001123"
    dbsession.flush()
    doc = page(testapp, "/huangmeizhen/")
    footer = doc.xpath("//footer")[0]
    links = {a.text_content().strip(): a.get("href") for a in footer.xpath(".//a")}
    assert links["网站地图"] == f"{HOST}/@@sitemap"
    report = urlparse(links["我为政府网站找错"])
    assert report.netloc == "zfwzgl.www.gov.cn"
    assert parse_qs(report.query) == {"site_code": [root.site_code], "url": [f"{HOST}/huangmeizhen/"]}
    assert links[root.icp] == "https://beian.miit.gov.cn/"
    assert links[root.police_record].startswith("https://beian.mps.gov.cn/")
    assert links["党政机关网站标识"].endswith("id=4211270001123")
    text = " ".join(footer.text_content().split())
    assert f"主办单位： {root.sponsor}" in text or f"主办单位：{root.sponsor}" in text
    assert root.site_code in text and "黄梅县黄梅镇人民政府" in text  # the unit maintains its sub-site


def meta(doc: Any) -> dict[str, str]:
    return {m.get("name"): m.get("content") for m in doc.xpath("//meta[@name]") if m.get("name")[0].isupper()}


def test_pages_carry_the_meta_tags_of_the_national_template(testapp, manager, town):
    path = publish(testapp, manager, f"{town.path}xwdt/", "News", "黄梅镇召开防汛会议", source="黄梅镇党政办",
                   description="部署今冬明春水利建设", lead_image=picture())
    home = meta(page(testapp, "/"))
    assert set(home) == {"SiteName", "SiteDomain", "SiteIDCode"}
    column = meta(page(testapp, f"{town.path}xwdt/"))
    assert column["ColumnName"] == "新闻动态" and column["ColumnType"] == "动态"
    assert "ArticleTitle" not in column
    item = meta(page(testapp, path))
    assert item["SiteName"] == "黄梅县人民政府" and item["ColumnName"] == "新闻动态"
    assert item["ArticleTitle"] == "黄梅镇召开防汛会议"
    assert item["ContentSource"] == "黄梅镇党政办" and item["Description"] == "部署今冬明春水利建设"
    assert item["PubDate"][:4].isdigit() and item["Image"].endswith("@@images/lead_image/preview")
    assert item["Url"] == HOST + path.rstrip("/") or item["Url"] == HOST + path
    assert {"ColumnDescription", "ColumnKeywords", "Keywords", "Author"} <= set(item)


# -- larger text and high contrast --------------------------------------------------------------------

def test_display_modes_work_without_javascript_or_a_session_and_pages_stay_shared(testapp):
    doc = page(testapp, "/huangmeizhen/")
    switches = {a.text_content(): a.get("href") for a in doc.xpath('//nav[@class="display-nav"]/a')}
    assert set(switches) == {"大字模式", "标准字号", "高对比度", "标准配色"}
    plain = testapp.get("/@@display.css")
    assert ".display-text-normal" in plain.text and "font-size: 125%" not in plain.text
    assert plain.headers["Cache-Control"] == "private, no-cache"

    res = testapp.get(urlparse(switches["大字模式"]).path + "?" + urlparse(switches["大字模式"]).query, status=302)
    assert res.location == f"{HOST}/huangmeizhen/"
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith("portal_display=text-large;") and "Max-Age=31536000" in cookie
    assert "portal_session" not in cookie
    large = testapp.get("/@@display.css")
    assert "font-size: 125%" in large.text and ".display-text-large" in large.text
    testapp.get("/@@display?contrast=high&came_from=/", status=302)
    both = testapp.get("/@@display.css")
    assert "#ff0" in both.text and "125%" in both.text
    assert testapp.get("/@@display.css", headers={"If-None-Match": both.headers["ETag"]}, status=304)
    # the page itself is the same for every visitor, whatever their settings
    assert page(testapp, "/huangmeizhen/").xpath('//nav[@class="display-nav"]/a/@href') == list(switches.values())


def test_the_display_switch_only_sends_people_back_to_this_site(testapp):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        res = testapp.get("/@@display", {"text": "large", "came_from": target}, status=302)
        assert res.location == f"{HOST}/"

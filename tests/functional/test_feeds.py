"""Feeds: RSS 2.0 and Atom 1.0 of a column (its own public children), of a unit and of the portal
(the newest public dated items below), and of the 信息公开目录 (the newest public disclosure
documents, county-wide and per unit); only what the public may see, whoever asks; announced in
the head of the pages with `<link rel="alternate">`. That a publication reaches a kept feed at once
is in tests/integration/test_site_files_cache.py."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
import webtest
from lxml import etree, html
from sqlalchemy import select

from portal.models import Node
from tests.conftest import login
from tests.functional.test_private_items import make

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
RFC822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0800$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
START = dt.datetime(2026, 3, 1, 2, 0)  # naive UTC: 10:00 in China


def node_at(dbsession: Any, path: str) -> Node:
    return dbsession.scalar(select(Node).where(Node.path == path))


def rss(testapp: webtest.TestApp, url: str) -> etree._Element:
    res = testapp.get(url)
    assert res.headers["Content-Type"] == RSS_TYPE
    root = etree.fromstring(res.body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    return root.find("channel")


def atom(testapp: webtest.TestApp, url: str) -> etree._Element:
    res = testapp.get(url)
    assert res.headers["Content-Type"] == ATOM_TYPE
    root = etree.fromstring(res.body)
    assert root.tag == f"{ATOM}feed"
    return root


def rss_titles(channel: etree._Element) -> list[str]:
    return [item.findtext("title") for item in channel.findall("item")]


def atom_titles(feed: etree._Element) -> list[str]:
    return [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]


@pytest.fixture
def column(request_as: Any, town: Any) -> Node:
    """黄梅镇's 新闻动态 with three public news (one a day), a private one, an expired one, one not
    yet in effect and a public page; its newest item has a description, the others only a body."""
    manager = request_as("manager")
    column = node_at(manager.dbsession, f"{town.path}xwdt/")
    for i in range(1, 4):
        news = make(manager, column, "News", "published", title=f"第{i}条新闻", source="县政府办",
                    body=f"<p>第{i}条新闻的<strong>正文</strong>，" + "很长的内容" * 60 + "</p>",
                    description="本条新闻的摘要" if i == 3 else "")
        news.published = START + dt.timedelta(days=i)
    make(manager, column, "News", "private", title="尚未发布的新闻")
    expired = make(manager, column, "News", "published", title="已过期的新闻")
    expired.expires = dt.datetime(2020, 1, 1)
    future = make(manager, column, "News", "published", title="尚未生效的新闻")
    future.effective = dt.datetime(2999, 1, 1)
    page = make(manager, column, "Page", "published", title="栏目说明")
    page.published = START
    manager.dbsession.flush()
    return column


def test_a_columns_rss_lists_its_public_children_newest_first(testapp: webtest.TestApp, column: Node) -> None:
    channel = rss(testapp, f"{column.path}@@rss.xml")
    assert channel.findtext("title") == "新闻动态 - 黄梅镇 - 黄梅县人民政府"
    assert channel.findtext("link") == f"http://example.com{column.path}"
    assert channel.findtext("language") == "zh-cn"
    assert channel.findtext("description") == "新闻动态最新信息"  # (the column has no description)
    assert channel.find("{http://www.w3.org/2005/Atom}link").get("href") == f"http://example.com{column.path}@@rss.xml"
    assert rss_titles(channel) == ["第3条新闻", "第2条新闻", "第1条新闻", "栏目说明"]
    newest, second = channel.findall("item")[:2]
    news = node_at(testapp.extra_environ["app.dbsession"], f"{column.path}di3tiaoxinwen/")
    assert newest.findtext("link") == f"http://example.com{news.path}"
    assert newest.findtext("guid") == f"urn:uuid:{uuid.UUID(hex=news.uid)}"
    assert newest.find("guid").get("isPermaLink") == "false"
    assert newest.findtext("pubDate") == "Wed, 04 Mar 2026 10:00:00 +0800" and RFC822.match(channel.findtext("lastBuildDate"))
    assert newest.findtext("description") == "本条新闻的摘要"  # the description, when there is one
    assert newest.findtext(f"{DC}creator") == "县政府办"
    assert [c.text for c in newest.findall("category")] == ["新闻动态"]
    excerpt = second.findtext("description")  # else the start of the body, as plain text
    assert excerpt.startswith("第2条新闻的正文，很长的内容") and "<" not in excerpt
    assert excerpt.endswith("…") and len(excerpt) <= 201


def test_a_columns_atom_feed_says_the_same(testapp: webtest.TestApp, column: Node) -> None:
    feed = atom(testapp, f"{column.path}@@atom.xml")
    assert feed.findtext(f"{ATOM}title") == "新闻动态 - 黄梅镇 - 黄梅县人民政府"
    assert feed.findtext(f"{ATOM}id") == f"http://example.com{column.path}@@atom.xml"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links == {"alternate": f"http://example.com{column.path}", "self": f"http://example.com{column.path}@@atom.xml"}
    assert feed.findtext(f"{ATOM}author/{ATOM}name")  # the site speaks for entries without a source
    assert RFC3339.match(feed.findtext(f"{ATOM}updated"))
    assert atom_titles(feed) == ["第3条新闻", "第2条新闻", "第1条新闻", "栏目说明"]
    entry = feed.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id").startswith("urn:uuid:")
    assert entry.findtext(f"{ATOM}published") == "2026-03-04T10:00:00+08:00"
    assert RFC3339.match(entry.findtext(f"{ATOM}updated"))
    assert entry.find(f"{ATOM}summary").get("type") == "text" and entry.findtext(f"{ATOM}summary") == "本条新闻的摘要"
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "县政府办"
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["新闻动态"]


def test_an_entry_keeps_its_id_when_the_item_is_renamed(testapp: webtest.TestApp, column: Node,
                                                       request_as: Any) -> None:
    from portal import content

    before = rss(testapp, f"{column.path}@@rss.xml").find("item")
    news = node_at(testapp.extra_environ["app.dbsession"], f"{column.path}di3tiaoxinwen/")
    content.rename(request_as("manager"), news, "renamed")
    after = rss(testapp, f"{column.path}@@rss.xml").find("item")
    assert after.findtext("guid") == before.findtext("guid")
    assert after.findtext("link") == f"http://example.com{column.path}renamed/"


def test_the_feeds_of_a_unit_and_of_the_portal_list_the_newest_dated_items_below(
        testapp: webtest.TestApp, request_as: Any, town: Any, other_town: Any, column: Node) -> None:
    manager = request_as("manager")
    elsewhere = make(manager, node_at(manager.dbsession, f"{other_town.path}xwdt/"), "News", "published",
                     title="孔垄镇的新闻")
    elsewhere.published = START + dt.timedelta(days=10)
    doc = make(manager, node_at(manager.dbsession, f"{town.path}zcwj/"), "Disclosure", "published",
               title="黄梅镇的政策文件")
    doc.published = START + dt.timedelta(days=5)
    manager.dbsession.flush()
    unit_titles = rss_titles(rss(testapp, f"{town.path}@@rss.xml"))
    assert unit_titles[:4] == ["黄梅镇的政策文件", "第3条新闻", "第2条新闻", "第1条新闻"]
    assert "孔垄镇的新闻" not in unit_titles
    assert "栏目说明" not in unit_titles and "新闻动态" not in unit_titles  # pages and columns are no news
    assert atom_titles(atom(testapp, f"{town.path}@@atom.xml")) == unit_titles
    site = rss_titles(rss(testapp, "/@@rss.xml"))
    assert site[:2] == ["孔垄镇的新闻", "黄梅镇的政策文件"]
    assert atom_titles(atom(testapp, "/@@atom.xml")) == site


def test_a_feed_holds_the_twenty_newest(testapp: webtest.TestApp, request_as: Any, town: Any) -> None:
    manager = request_as("manager")
    column = node_at(manager.dbsession, f"{town.path}tzgg/")
    for i in range(25):
        make(manager, column, "News", "published", title=f"通知{i:02d}").published = START + dt.timedelta(hours=i)
    manager.dbsession.flush()
    assert rss_titles(rss(testapp, f"{column.path}@@rss.xml")) == [f"通知{i:02d}" for i in range(24, 4, -1)]


def test_the_catalogue_feeds_list_public_disclosure_documents(testapp: webtest.TestApp, request_as: Any,
                                                             town: Any, other_town: Any) -> None:
    manager = request_as("manager")
    mine = make(manager, node_at(manager.dbsession, f"{town.path}xxgk/"), "Disclosure", "published",
                title="黄梅镇财政预算公开", subject="财政、金融、审计", summary="2026年度部门预算。")
    mine.published = START + dt.timedelta(days=2)
    theirs = make(manager, node_at(manager.dbsession, f"{other_town.path}zcwj/"), "Disclosure", "published",
                  title="孔垄镇政策文件")
    theirs.published = START + dt.timedelta(days=1)
    make(manager, node_at(manager.dbsession, f"{town.path}xxgk/"), "Disclosure", "private", title="未公开的文件")
    make(manager, node_at(manager.dbsession, f"{town.path}xwdt/"), "News", "published", title="一条新闻")
    manager.dbsession.flush()
    county = rss(testapp, "/@@xxgk-rss.xml")
    assert county.findtext("title") == "政府信息公开目录 - 黄梅县人民政府"
    assert county.findtext("link") == "http://example.com/@@xxgk"
    assert county.findtext("description") == "黄梅县人民政府政府信息公开目录最新公开文件"
    assert rss_titles(county)[:2] == ["黄梅镇财政预算公开", "孔垄镇政策文件"]
    assert "未公开的文件" not in rss_titles(county) and "一条新闻" not in rss_titles(county)
    item = county.find("item")
    assert [c.text for c in item.findall("category")] == ["政府信息公开", "财政、金融、审计"]
    assert item.findtext(f"{DC}creator") == "黄梅县黄梅镇人民政府"  # the 发布机构
    assert item.findtext("description") == "2026年度部门预算。"  # its 内容概述
    unit = atom(testapp, f"{town.path}@@xxgk-atom.xml")
    assert unit.findtext(f"{ATOM}title") == "政府信息公开目录 - 黄梅镇 - 黄梅县人民政府"
    assert "孔垄镇政策文件" not in atom_titles(unit) and atom_titles(unit)[0] == "黄梅镇财政预算公开"
    assert atom_titles(atom(testapp, "/@@xxgk-atom.xml")) == rss_titles(county)
    assert rss_titles(rss(testapp, f"{town.path}@@xxgk-rss.xml")) == atom_titles(unit)


def test_feeds_are_public_whoever_asks(testapp: webtest.TestApp, column: Node) -> None:
    """A logged-in editor's feed reader gets the public feed, not the drafts they may open."""
    login(testapp, "manager")
    assert "尚未发布的新闻" not in rss_titles(rss(testapp, f"{column.path}@@rss.xml"))
    assert "尚未发布的新闻" not in atom_titles(atom(testapp, "/@@atom.xml"))


def test_only_containers_that_are_public_have_feeds(testapp: webtest.TestApp, request_as: Any, town: Any,
                                                   column: Node) -> None:
    manager = request_as("manager")
    private = make(manager, town, "Folder", "private", title="内部栏目")
    make(manager, private, "News", "published", title="内部栏目里的新闻")
    testapp.get(f"{private.path}@@rss.xml", status=404)  # like its page: missing to the public
    testapp.get(f"{column.path}di3tiaoxinwen/@@rss.xml", status=404)  # an article has no feed
    assert "内部栏目里的新闻" not in rss_titles(rss(testapp, f"{town.path}@@rss.xml"))


def alternates(res: webtest.TestResponse) -> list[tuple[str, str, str]]:
    head = html.fromstring(res.body).find("head")
    return [(link.get("type"), link.get("title"), link.get("href").removeprefix("http://example.com"))
            for link in head.findall("link") if link.get("rel") == "alternate"]


def test_pages_announce_their_feeds_in_the_head(testapp: webtest.TestApp, town: Any, column: Node) -> None:
    rss_type, atom_type = "application/rss+xml", "application/atom+xml"
    assert alternates(testapp.get(column.path)) == [
        (rss_type, "新闻动态 - 黄梅镇 - 黄梅县人民政府 (RSS)", f"{column.path}@@rss.xml"),
        (atom_type, "新闻动态 - 黄梅镇 - 黄梅县人民政府 (Atom)", f"{column.path}@@atom.xml")]
    assert alternates(testapp.get(f"{column.path}di3tiaoxinwen/")) == alternates(testapp.get(column.path))
    assert [href for _t, _n, href in alternates(testapp.get(town.path))] == [
        f"{town.path}@@rss.xml", f"{town.path}@@atom.xml"]
    assert [href for _t, _n, href in alternates(testapp.get(f"{town.path}@@xxgk"))] == [
        f"{town.path}@@rss.xml", f"{town.path}@@atom.xml", f"{town.path}@@xxgk-rss.xml", f"{town.path}@@xxgk-atom.xml"]
    home = alternates(testapp.get("/"))
    assert [href for _t, _n, href in home] == ["/@@rss.xml", "/@@atom.xml", "/@@xxgk-rss.xml", "/@@xxgk-atom.xml"]
    assert home[2] == (rss_type, "政府信息公开目录 - 黄梅县人民政府 (RSS)", "/@@xxgk-rss.xml")
    for _type, _title, href in home:  # every announced feed is there
        testapp.get(href)

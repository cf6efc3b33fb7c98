"""The files at the site's root and its maps: sitemap.xml (every public item; an index of parts
past `portal.sitemaps.LIMIT`), robots.txt, favicon.ico, and the HTML 网站地图 at /@@sitemap
(the portal's own columns, then every unit by kind with its columns, in two queries)."""
from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
import webtest
from lxml import etree, html
from PIL import Image
from sqlalchemy import event, func, select

from portal import sitemaps
from portal.models import Node, Unit
from portal.visibility import public_now
from tests.functional.test_private_items import make

NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
HOST = "http://example.com"
W3C_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


def node_at(dbsession: Any, path: str) -> Node:
    return dbsession.scalar(select(Node).where(Node.path == path))


def xml(testapp: webtest.TestApp, url: str) -> etree._Element:
    res = testapp.get(url)
    assert res.headers["Content-Type"] == "application/xml; charset=utf-8"
    return etree.fromstring(res.body)


def locs(root: etree._Element, tag: str = "url") -> list[str]:
    return [e.findtext(f"{NS}loc") for e in root.findall(f"{NS}{tag}")]


@pytest.fixture
def items(request_as: Any, town: Any) -> dict[str, Node]:
    """A public news item first published long after it was written, and what the public may not see."""
    manager = request_as("manager")
    column = node_at(manager.dbsession, f"{town.path}xwdt/")
    public = make(manager, column, "News", "published", title="公开的新闻")
    public.modified = dt.datetime(2026, 1, 1, 0, 0)
    public.published = dt.datetime(2026, 2, 1, 4, 30)
    hidden_column = make(manager, town, "Folder", "private", title="内部栏目")
    expired = make(manager, column, "News", "published", title="过期的新闻")
    expired.expires = dt.datetime(2020, 1, 1)
    found = {"public": public, "private": make(manager, column, "News", "private", title="草稿"),
             "expired": expired, "hidden_column": hidden_column,
             "below_hidden": make(manager, hidden_column, "News", "published", title="内部栏目里的新闻")}
    manager.dbsession.flush()
    return found


def test_the_sitemap_lists_every_public_item_with_its_last_change(testapp: webtest.TestApp, dbsession: Any,
                                                                 items: dict[str, Node]) -> None:
    root = xml(testapp, "/sitemap.xml")
    assert root.tag == f"{NS}urlset"
    listed = locs(root)
    assert f"{HOST}/" in listed and f"{HOST}{items['public'].path}" in listed
    for name in ("private", "expired", "hidden_column", "below_hidden"):
        assert f"{HOST}{items[name].path}" not in listed, name
    public_count = dbsession.scalar(select(func.count(Node.id)).where(*public_now()))
    assert len(listed) == len(set(listed)) == public_count
    entry = next(e for e in root.findall(f"{NS}url") if e.findtext(f"{NS}loc") == f"{HOST}{items['public'].path}")
    assert entry.findtext(f"{NS}lastmod") == "2026-02-01T12:30:00+08:00"  # its publication, in China time
    assert all(W3C_DATETIME.match(e.findtext(f"{NS}lastmod")) for e in root.findall(f"{NS}url"))


def test_past_the_limit_the_sitemap_is_an_index_of_parts(testapp: webtest.TestApp, items: dict[str, Node],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    whole = locs(xml(testapp, "/sitemap.xml"))
    limit = 100
    assert len(whole) > 2 * limit  # the units and their columns: at least three parts
    monkeypatch.setattr(sitemaps, "LIMIT", limit)
    index = xml(testapp, "/sitemap.xml")
    assert index.tag == f"{NS}sitemapindex"
    parts = -(-len(whole) // limit)
    assert locs(index, "sitemap") == [f"{HOST}/sitemap-{n}.xml" for n in range(1, parts + 1)]
    assert all(W3C_DATETIME.match(e.findtext(f"{NS}lastmod")) for e in index.findall(f"{NS}sitemap"))
    pieces = [locs(xml(testapp, f"/sitemap-{n}.xml")) for n in range(1, parts + 1)]
    assert all(len(piece) == limit for piece in pieces[:-1]) and 0 < len(pieces[-1]) <= limit
    assert [loc for piece in pieces for loc in piece] == whole  # the same items, each once, in order
    testapp.get(f"/sitemap-{parts + 1}.xml", status=404)
    testapp.get("/sitemap-0.xml", status=404)


def test_a_sitemap_under_the_limit_is_also_its_own_first_part(testapp: webtest.TestApp) -> None:
    assert locs(xml(testapp, "/sitemap-1.xml")) == locs(xml(testapp, "/sitemap.xml"))
    testapp.get("/sitemap-2.xml", status=404)


# --- robots.txt ---------------------------------------------------------------------------------

def allowed(rules: list[tuple[str, str]], url: str) -> bool:
    """Google's and Baidu's reading: the longest matching rule decides, `*` matches anything."""
    matching = [(len(pattern), kind == "allow") for kind, pattern in rules
                if re.match(re.escape(pattern).replace(r"\*", ".*"), url)]
    return max(matching, default=(0, True))[1]


def test_robots_lets_engines_read_the_public_site_and_not_the_staff_screens(testapp: webtest.TestApp) -> None:
    res = testapp.get("/robots.txt")
    assert res.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = res.text.splitlines()
    assert lines[0] == "User-agent: *" and f"Sitemap: {HOST}/sitemap.xml" in lines
    rules = [(k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:] if line)
             if k.strip().lower() in ("allow", "disallow")]
    for url in ("/", "/huangmeizhen/", "/huangmeizhen/xwdt/", "/huangmeizhen/xwdt/?page=3",
                "/huangmeizhen/xxgk/doc/@@download/attachments/0", "/@@xxgk", "/@@xxgk?page=2",
                "/huangmeizhen/@@xxgk", "/@@datasets", "/sitemap.xml", "/@@sitemap", "/huangmeizhen/@@rss.xml",
                "/static/portal.css"):
        assert allowed(rules, url), url
    for url in ("/@@login", "/@@login?came_from=x", "/@@login-code", "/huangmeizhen/xwdt/item/@@edit",
                "/huangmeizhen/@@add?type=News", "/@@review-queue", "/@@search?q=%E9%BB%84%E6%A2%85",
                "/huangmeizhen/@@search?q=x", "/@search?SearchableText=x", "/@@xxgk?subject=x",
                "/@@xxgk?year=2011&page=2", "/huangmeizhen/@@sharing", "/@@audit", "/@@account", "/@login"):
        assert not allowed(rules, url), url


# --- favicon ------------------------------------------------------------------------------------

def test_the_favicon_is_a_real_icon_and_every_page_links_it(testapp: webtest.TestApp) -> None:
    res = testapp.get("/favicon.ico")
    assert res.content_type == "image/vnd.microsoft.icon"
    assert res.body[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    icon = Image.open(io.BytesIO(res.body))
    assert {(16, 16), (32, 32)} <= icon.info["sizes"]
    assert "max-age=" in res.headers["Cache-Control"]
    head = html.fromstring(testapp.get("/").body).find("head")
    icons = [link.get("href") for link in head.findall("link") if link.get("rel") == "icon"]
    assert icons == [f"{HOST}/favicon.ico"]
    touch = next(link.get("href") for link in head.findall("link") if link.get("rel") == "apple-touch-icon")
    assert Image.open(io.BytesIO(testapp.get(touch.removeprefix(HOST)).body)).size == (180, 180)


# --- the HTML 网站地图 ----------------------------------------------------------------------------

def count_queries(engine: Any) -> Any:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", before)
    return statements, lambda: event.remove(engine, "before_cursor_execute", before)


def test_the_site_map_lists_the_portal_and_every_unit_by_kind(testapp: webtest.TestApp, dbsession: Any,
                                                             request_as: Any, town: Any,
                                                             items: dict[str, Node]) -> None:
    manager = request_as("manager")
    root = node_at(dbsession, "/")
    county_column = make(manager, root, "Folder", "published", title="走进黄梅")
    make(manager, root, "News", "published", title="县里的新闻")  # a news item is content, not structure
    hidden_unit = dbsession.scalar(select(Unit).where(Unit.title == "孔垄镇"))
    hidden_unit.state = "private"
    dbsession.flush()
    page = html.fromstring(testapp.get("/@@sitemap").body)
    main = page.find(".//main")
    assert main.findtext(".//h1") == "网站地图"
    site = main.find(".//section[@class='sitemap-site']")
    assert [a.text for a in site.findall(".//li/a")] == ["走进黄梅"]
    assert site.find(".//li/a").get("href") == f"{HOST}{county_column.path}"
    kinds = [h.text for h in main.findall(".//section[@class='sitemap-kind']/h3")]
    assert kinds == [k for k in Unit.KINDS if k in kinds] and {"乡镇", "县直部门", "便民服务中心", "社区"} <= set(kinds)

    def group(kind: str) -> list[Any]:
        section = next(s for s in main.findall(".//section[@class='sitemap-kind']") if s.findtext("h3") == kind)
        return section.findall("ul/li")

    towns = group("乡镇")
    assert [li.findtext("h4/a") for li in towns][:3] == ["黄梅镇", "小池镇", "苦竹乡"]  # the plan's order
    assert "孔垄镇" not in [li.findtext("h4/a") for li in towns]
    mine = towns[0]
    assert mine.find("h4/a").get("href") == f"{HOST}{town.path}"
    columns = [a.text for a in mine.findall("ul/li/a")]
    assert columns[:4] == ["新闻动态", "通知公告", "政策文件", "政府信息公开"] and "政府信息公开指南" in columns
    assert "内部栏目" not in columns and "公开的新闻" not in columns
    centres = [li.findtext("h4/a") for li in group("便民服务中心")]  # units inside a town are there too
    assert len(centres) == 15 and all("便民服务中心" in c for c in centres)  # 孔垄镇's is hidden with it
    # one query for the units, one for what lies in them, however many units there are
    statements, stop = count_queries(dbsession.get_bind())
    try:
        from portal.cli import make_request
        request = make_request(testapp.app.registry, {k: testapp.extra_environ[k] for k in ("tm.manager", "app.dbsession")})
        sitemaps.structure(request, root)
    finally:
        stop()
    assert len(statements) == 2, statements

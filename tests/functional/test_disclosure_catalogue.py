"""Specification of the government information disclosure catalogue (政府信息公开目录, `@@xxgk`) and
of the standard disclosure pages of every unit (信息公开指南 `xxgkzn`, 年度报告 column `ndbg`).

The catalogue lists what the public may see: published disclosures in force, with the catalogue
columns (索引号, 标题, 发布机构, 文号, 成文日期, 发布日期, 有效性), browsable by subject class
(主题分类), genre (体裁), year and unit, with exact counts.
"""
from __future__ import annotations
import re

import datetime as dt
import urllib.parse
from typing import Any

import lxml.html
import pytest
import webtest
from sqlalchemy import select

from content_types.disclosure import SUBJECTS, Disclosure
from content_types.disclosure_catalogue import GUIDE_NAME, REPORTS_NAME
from portal import content
from portal.models import Node, Unit
from tests.conftest import api_token, unit

JSON = {"Accept": "application/json"}
HOST = "http://example.com"
FILTERS = ("subject", "genre", "year", "unit")
COLUMNS = ("index_number", "title", "publisher", "doc_number", "written", "published", "validity")


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture
def request_(request_as: Any) -> Any:
    return request_as("manager")


def disclosure(request: Any, container: Node, title: str, state: str = "published",
               published: dt.datetime | None = None, **data: Any) -> Disclosure:
    data = {"subject": "综合政务", "genre": "通知", **data, "title": title}
    node = content.create(request, container, "Disclosure", data)
    for target in {"private": [], "pending": ["pending"], "published": ["pending", "published"]}[state]:
        content.set_state(request, node, target, "test")
    if published is not None:
        node.published = published
    request.dbsession.flush()
    return node


def rows(res: webtest.TestResponse) -> list[dict[str, str]]:
    """The catalogue table as dicts of cell texts (plus the title link and any other link)."""
    doc = lxml.html.fromstring(res.text)
    out = []
    for tr in doc.xpath('//table[contains(@class, "xxgk")]/tbody/tr'):
        cells = tr.xpath("./td")
        row = {name: " ".join(td.text_content().split()) for name, td in zip(COLUMNS, cells)}
        row["validity"] = cells[6].xpath("./span")[0].text_content().strip()
        row["href"] = cells[1].xpath("./a")[0].get("href").removeprefix(HOST)
        row["links"] = [a.get("href").removeprefix(HOST) for a in cells[6].xpath(".//a")]
        out.append(row)
    return out


def titles(res: webtest.TestResponse) -> list[str]:
    return [r["title"] for r in rows(res)]


def facets(res: webtest.TestResponse) -> dict[str, dict[str, int]]:
    """{filter: {value: count}} from the browse links (each link sets one filter more)."""
    current = urllib.parse.parse_qs(urllib.parse.urlsplit(res.request.url).query)
    doc = lxml.html.fromstring(res.text)
    out: dict[str, dict[str, int]] = {}
    for li in doc.xpath('//aside[@class="facets"]//li'):
        a = li.xpath("./a")[0]
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(a.get("href")).query)
        changed = [f for f in FILTERS if params.get(f) != current.get(f)]
        if not changed:  # the link of a value already chosen
            assert "active" in (a.get("class") or ""), params
            changed = [f for f in FILTERS if current.get(f) == [a.text_content().strip()]]
        assert len(changed) == 1, params
        out.setdefault(changed[0], {})[params[changed[0]][0]] = int(
            li.xpath('./span[@class="meta"]')[0].text_content().strip("() "))
    return out


def total_shown(res: webtest.TestResponse) -> int:
    doc = lxml.html.fromstring(res.text)
    text = doc.xpath('//section[@class="results"]/p[@class="meta"]')[0].text_content()
    return int(re.search(r"\d+", text).group())  # "共 N 件文件" (or "N documents")


def xxgk(testapp: webtest.TestApp, where: str = "/", headers: dict[str, str] | None = None,
         **params: Any) -> webtest.TestResponse:
    qs = urllib.parse.urlencode(params)
    return testapp.get(f"{where}@@xxgk" + (f"?{qs}" if qs else ""), headers=headers or {}, status=200)


# --- what is listed -----------------------------------------------------------------------------

def test_the_catalogue_lists_published_documents_with_their_catalogue_columns(testapp, request_, town):
    doc = disclosure(request_, town, "关于做好春耕备耕工作的通知", doc_number="梅政办发〔2024〕3号",
                     written_date=dt.date(2024, 3, 1), published=dt.datetime(2024, 3, 4, 2, 0))
    listed = rows(xxgk(testapp))
    row = next(r for r in listed if r["title"] == "关于做好春耕备耕工作的通知")
    assert row == {
        "index_number": doc.index_number, "title": "关于做好春耕备耕工作的通知", "publisher": "黄梅县黄梅镇人民政府",
        "doc_number": "梅政办发〔2024〕3号", "written": "2024-03-01", "published": "2024-03-04", "validity": "有效",
        "href": doc.path, "links": []}
    assert doc.index_number.startswith("421127-001/")
    testapp.get(row["href"], status=200)


def test_not_listed_private_pending_or_out_of_date(testapp, request_, town):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    disclosure(request_, town, "公开的文件")
    disclosure(request_, town, "草稿文件", state="private")
    disclosure(request_, town, "待审文件", state="pending")
    disclosure(request_, town, "已过期文件", expires=now - dt.timedelta(days=1))
    disclosure(request_, town, "未生效文件", effective=now + dt.timedelta(days=30))
    disclosure(request_, town, "生效中文件", effective=now - dt.timedelta(days=1), expires=now + dt.timedelta(days=1))
    for where in ("/", town.path):
        res = xxgk(testapp, where)
        shown = set(titles(res))
        assert {"公开的文件", "生效中文件"} <= shown
        assert not shown & {"草稿文件", "待审文件", "已过期文件", "未生效文件"}


def test_other_types_are_not_in_the_catalogue(testapp, request_, town):
    page = content.create(request_, town, "Page", {"title": "不是公开文件的页面"})
    content.set_state(request_, page, "published", "test")
    assert "不是公开文件的页面" not in titles(xxgk(testapp, town.path))


def test_newest_first(testapp, request_, town):
    for n, month in enumerate((1, 5, 3)):
        disclosure(request_, town, f"排序{n}", published=dt.datetime(2021, month, 1))
    assert [t for t in titles(xxgk(testapp, town.path)) if t.startswith("排序")] == ["排序1", "排序2", "排序0"]


def test_a_unit_catalogue_lists_only_its_own_documents(testapp, request_, town, other_town):
    disclosure(request_, town, "黄梅镇的文件")
    disclosure(request_, other_town, "孔垄镇的文件")
    disclosure(request_, unit(request_.dbsession, "黄梅镇便民服务中心"), "便民服务中心的文件")
    here = set(titles(xxgk(testapp, town.path)))
    assert {"黄梅镇的文件", "便民服务中心的文件"} <= here and "孔垄镇的文件" not in here
    there = set(titles(xxgk(testapp, other_town.path)))
    assert "孔垄镇的文件" in there and not there & {"黄梅镇的文件", "便民服务中心的文件"}
    assert {"黄梅镇的文件", "孔垄镇的文件", "便民服务中心的文件"} <= set(titles(xxgk(testapp)))


# --- browsing -----------------------------------------------------------------------------------

@pytest.fixture
def browsable(request_, town, other_town) -> dict[str, Disclosure]:
    """Five published documents (plus hidden ones that must never be counted)."""
    made = {
        "a": disclosure(request_, town, "浏览甲", subject="综合政务", genre="通知",
                        published=dt.datetime(2022, 6, 1)),
        "b": disclosure(request_, town, "浏览乙", subject="综合政务", genre="公告",
                        published=dt.datetime(2023, 6, 1)),
        "c": disclosure(request_, town, "浏览丙", subject="农业、林业、水利", genre="通知",
                        published=dt.datetime(2023, 7, 1)),
        "d": disclosure(request_, other_town, "浏览丁", subject="农业、林业、水利", genre="通知",
                        published=dt.datetime(2023, 8, 1)),
        "e": disclosure(request_, other_town, "浏览戊", subject="城乡建设、环境保护", genre="规划",
                        published=dt.datetime(2023, 9, 1)),
    }
    disclosure(request_, town, "浏览隐藏", state="private", subject="综合政务")
    disclosure(request_, town, "浏览待审", state="pending", subject="国防")
    disclosure(request_, town, "浏览过期", subject="国防", published=dt.datetime(2023, 6, 1),
               expires=dt.datetime(2023, 12, 1))
    return made


def counts_of(base: dict[str, int], ours: dict[str, int]) -> dict[str, int]:
    """Counts of the browsable documents only (the portal may hold others)."""
    return {k: v for k, v in base.items() if k in ours}


def test_browse_counts(testapp, browsable, town):
    """A unit catalogue has no unit facet; its counts are those of its own documents."""
    res = xxgk(testapp, town.path)
    assert total_shown(res) == 3 and len(rows(res)) == 3
    got = facets(res)
    assert "unit" not in got
    assert got["subject"]["综合政务"] == 2 and got["subject"]["农业、林业、水利"] == 1
    assert got["subject"]["国防"] == 0  # pending and expired documents are not counted
    # every subject class is offered, in the national order: those with documents, then "更多" the others
    assert list(got["subject"]) == ["综合政务", "农业、林业、水利"] + [s for s in SUBJECTS if s not in
                                                                   ("综合政务", "农业、林业、水利")]
    assert got["genre"] == {"通知": 2, "公告": 1}
    assert got["year"] == {"2023": 2, "2022": 1}
    assert list(got["year"]) == ["2023", "2022"]


def test_browse_counts_county_wide(testapp, browsable):
    base = facets(xxgk(testapp))
    with_ours = facets(xxgk(testapp, year="2023"))
    assert with_ours["unit"] == {"孔垄镇": 2, "黄梅镇": 2}
    assert with_ours["genre"] == {"通知": 2, "公告": 1, "规划": 1}
    assert with_ours["subject"]["城乡建设、环境保护"] == 1
    assert base["year"]["2022"] >= 1


@pytest.mark.parametrize("params, expected", [
    ({"subject": "综合政务"}, {"浏览甲", "浏览乙"}),
    ({"subject": "农业、林业、水利"}, {"浏览丙"}),
    ({"genre": "通知"}, {"浏览甲", "浏览丙"}),
    ({"year": "2023"}, {"浏览乙", "浏览丙"}),
    ({"year": "2023", "subject": "综合政务"}, {"浏览乙"}),
    ({"subject": "国防"}, set()),
    ({"year": "abc"}, {"浏览甲", "浏览乙", "浏览丙"}),
])
def test_browse_filters_in_a_unit(testapp, browsable, town, params, expected):
    res = xxgk(testapp, town.path, **params)
    assert set(titles(res)) == expected and total_shown(res) == len(expected)


def test_browse_by_unit_county_wide(testapp, browsable):
    res = xxgk(testapp, unit="孔垄镇", year="2023")
    assert set(titles(res)) == {"浏览丁", "浏览戊"}
    assert facets(res)["genre"] == {"通知": 1, "规划": 1}
    assert titles(xxgk(testapp, unit="没有这个单位")) == []


def test_filter_links_keep_the_other_filters(testapp, browsable, town):
    res = xxgk(testapp, town.path, year="2023")
    doc = lxml.html.fromstring(res.text)
    link = doc.xpath('//aside[@class="facets"]//a[text()="综合政务"]')[0].get("href")
    assert set(titles(testapp.get(link.removeprefix(HOST)))) == {"浏览乙"}
    show_all = doc.xpath('//p[@class="chosen"]/a[@class="chosen-clear"]')[0].get("href")
    assert show_all.removeprefix(HOST) == f"{town.path}@@xxgk"


def test_paging(testapp, request_, town):
    for n in range(23):
        disclosure(request_, town, f"分页{n:02d}", published=dt.datetime(2020, 1, 1) + dt.timedelta(days=n))
    first = xxgk(testapp, town.path, year="2020")
    assert total_shown(first) == 23 and len(rows(first)) == 20
    second = xxgk(testapp, town.path, year="2020", page="2")
    assert titles(second) == ["分页02", "分页01", "分页00"]
    assert xxgk(testapp, town.path, year="2020", page="99").status_int == 200
    assert xxgk(testapp, town.path, year="2020", page="x").status_int == 200


def test_year_is_the_year_in_china(testapp, request_, town):
    disclosure(request_, town, "元旦凌晨发布", published=dt.datetime(2018, 12, 31, 17, 0))  # 2019-01-01 01:00
    res = xxgk(testapp, town.path, year="2019")
    assert [r["published"] for r in rows(res) if r["title"] == "元旦凌晨发布"] == ["2019-01-01"]


# --- validity and superseding -------------------------------------------------------------------

def test_a_repealed_document_links_to_the_one_that_replaces_it(testapp, request_, town, users):
    new = disclosure(request_, town, "新办法", published=dt.datetime(2024, 2, 1))
    old = disclosure(request_, town, "旧办法", published=dt.datetime(2020, 2, 1))
    manager = api_token(testapp, "manager")
    testapp.patch_json(old.path, {"validity": "已废止", "superseded_by": new.index_number}, headers=manager,
                       status=204)
    listed = {r["title"]: r for r in rows(xxgk(testapp, town.path))}
    assert listed["旧办法"]["validity"] == "已废止"
    assert listed["旧办法"]["links"] == [new.path]
    assert listed["新办法"]["validity"] == "有效" and listed["新办法"]["links"] == []
    doc = lxml.html.fromstring(xxgk(testapp, town.path).text)
    assert doc.xpath('//td/span[contains(@class, "invalid-doc")][text()="已废止"]')


def test_superseded_by_must_name_an_existing_document(testapp, request_, town, users):
    old = disclosure(request_, town, "旧办法")
    manager = api_token(testapp, "manager")
    res = testapp.patch_json(old.path, {"validity": "已废止", "superseded_by": "421127-001/1999-99999"},
                             headers=manager, status=400)
    assert "superseded_by" in {e["field"] for e in res.json["error"]["errors"]}


def test_no_link_to_a_replacement_the_public_cannot_see(testapp, request_, town):
    hidden = disclosure(request_, town, "尚未发布的新办法", state="private")
    disclosure(request_, town, "旧办法", validity="已废止", superseded_by=hidden.index_number)
    listed = {r["title"]: r for r in rows(xxgk(testapp, town.path))}
    assert listed["旧办法"]["validity"] == "已废止" and listed["旧办法"]["links"] == []


# --- the standard pages of every unit -----------------------------------------------------------

def test_every_unit_has_its_published_guide_and_report_column(dbsession):
    units = dbsession.scalars(select(Unit)).all()
    assert len(units) > 30
    for u in units:
        guide, reports = u.get(GUIDE_NAME), u.get(REPORTS_NAME)
        assert guide is not None and reports is not None, u.path
        assert (guide.type, guide.title, guide.state) == ("Page", "政府信息公开指南", "published")
        assert (reports.type, reports.title, reports.state) == ("Folder", "政府信息公开年度报告", "published")
        assert (u.full_name or u.title) in guide.body


def test_the_guide_is_public_and_its_unit_editor_edits_it(testapp, users, town):
    testapp.get(f"{town.path}{GUIDE_NAME}/", status=200)
    testapp.get(f"{town.path}{REPORTS_NAME}/", status=200)
    editor = {"Authorization": api_token(testapp, "editor")["Authorization"]}
    testapp.get(f"{town.path}{GUIDE_NAME}/@@edit", headers=editor, status=200)
    testapp.patch_json(f"{town.path}{GUIDE_NAME}/", {"body": "<p>更新后的指南</p>"}, headers={**JSON, **editor},
                       status=(200, 202))
    other = {"Authorization": api_token(testapp, "other-editor")["Authorization"]}
    assert testapp.get(f"{town.path}{GUIDE_NAME}/@@edit", headers=other, status="*").status_int == 403
    testapp.get(f"{town.path}{GUIDE_NAME}/@@edit", status=302)  # anonymous: to the login page


def test_the_unit_catalogue_links_to_the_guide_and_the_reports(testapp, town):
    doc = lxml.html.fromstring(xxgk(testapp, town.path).text)
    hrefs = {a.get("href").removeprefix(HOST): a.text_content() for a in doc.xpath("//a")}
    assert hrefs.get(f"{town.path}{GUIDE_NAME}/") == "政府信息公开指南"
    assert hrefs.get(f"{town.path}{REPORTS_NAME}/") == "政府信息公开年度报告"
    unit_page = lxml.html.fromstring(testapp.get(town.path).text)
    assert f"{HOST}{town.path}@@xxgk" in {a.get("href") for a in unit_page.xpath("//a")}
    portal_page = lxml.html.fromstring(testapp.get("/").text)
    assert f"{HOST}/@@xxgk" in {a.get("href") for a in portal_page.xpath("//a")}


def test_a_new_unit_gets_its_standard_pages(testapp, users):
    manager = api_token(testapp, "manager")
    res = testapp.post_json("/", {"@type": "Unit", "id": "xinzhen", "title": "新镇", "full_name": "黄梅县新镇人民政府",
                                  "short_name": "新镇", "kind": "乡镇", "org_code": "421127-999"},
                            headers=manager, status=201)
    path = res.json["@id"].removeprefix(HOST) + "/"
    # published, but below a unit that stays private until a manager publishes it: not public yet
    assert testapp.get(f"{path}{GUIDE_NAME}/", headers=manager).json["review_state"] == "published"
    assert testapp.get(f"{path}{REPORTS_NAME}/", headers=manager).json["review_state"] == "published"
    assert "黄梅县新镇人民政府" in testapp.get(f"{path}{GUIDE_NAME}/", headers=manager).json["body"]
    testapp.get(f"{path}{GUIDE_NAME}/", status=404)
    testapp.get(f"{path}@@xxgk", status=404)  # a new unit is private until published: it looks missing
    doc = lxml.html.fromstring(testapp.get(f"{path}@@xxgk", headers=manager, status=200).text)
    hrefs = {a.get("href").removeprefix(HOST) for a in doc.xpath("//a")}
    assert {f"{path}{GUIDE_NAME}/", f"{path}{REPORTS_NAME}/"} <= hrefs

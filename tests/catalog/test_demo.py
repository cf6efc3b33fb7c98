"""`portal demo`'s datasets (catalog.demo, run by content_types' demo through the `portal.demo`
entry point group): made through the actions, published, previewed in the right Chinese, the
有条件开放 file kept from the anonymous, and nothing added by a second run."""
from __future__ import annotations

import csv
import io

import openpyxl
from sqlalchemy import func, select

from catalog import demo as catalog_demo
from catalog.dataset import Dataset
from catalog.resource import Resource
from content_types.demo import contributed_demos, load_demo
from portal.cli import make_request
from portal.models import Node, Unit
from tests.conftest import login

TITLES = ("黄梅县各乡镇户籍人口（2025年）", "黄梅县主要经济指标（2019—2025年）", "黄梅县市场主体登记信息")


def dataset(dbsession, title: str) -> Dataset:
    return dbsession.scalar(select(Dataset).where(Node.title == title))


def resource_of(node: Dataset) -> Resource:
    (resource,) = [r for r in node.values() if isinstance(r, Resource)]
    return resource


def test_the_catalogue_contributes_to_the_demo_through_the_entry_point_group():
    assert catalog_demo.load_demo_datasets in contributed_demos()


def test_the_towns_are_the_unit_lists_and_the_figures_do_not_change(dbsession, app):
    names = catalog_demo.towns(dbsession)
    assert len(names) == 16 and names[0] == "黄梅镇" and "孔垄镇" in names
    data = catalog_demo.population_csv(names)
    assert data == catalog_demo.population_csv(names)  # deterministic, not random per run
    rows = list(csv.reader(io.StringIO(data.decode("gbk"))))
    assert rows[0] == ["乡镇", "户数", "户籍人口", "男", "女"]
    assert [r[0] for r in rows[1:-1]] == names and rows[-1][0] == "合计"
    for _name, households, people, men, women in rows[1:-1]:
        assert int(men) + int(women) == int(people) and 2.8 < int(people) / int(households) < 3.6
        assert 20_000 < int(people) < 200_000
    assert sum(int(r[2]) for r in rows[1:-1]) == int(rows[-1][2])
    book = openpyxl.load_workbook(io.BytesIO(catalog_demo.economy_xlsx()), read_only=True)
    sheet_rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    assert sheet_rows[0][1] == "地区生产总值（亿元）" and [r[0] for r in sheet_rows[1:]] == list(range(2019, 2026))


def test_the_demo_datasets_are_published_previewed_and_made_once(app, tm, dbsession, testapp):
    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    lines = load_demo(request)
    assert lines[-1] == "demo datasets: 3 added"
    statistics = dbsession.scalar(select(Unit).where(Node.title == "县统计局"))
    for title in TITLES:
        node = dataset(dbsession, title)
        assert node is not None, title
        resource = resource_of(node)
        assert (node.state, resource.state) == ("published", "published"), title
        assert node.owner == "admin" and node.issued is not None
        assert node.contact_name and node.update_frequency in ("每年", "每月") and node.keywords
    population = dataset(dbsession, TITLES[0])
    assert population.parent_id == statistics.id and population.theme == "人口"
    assert resource_of(population).format == "CSV"
    economy = dataset(dbsession, TITLES[1])
    assert economy.theme == "宏观经济" and resource_of(economy).format == "XLSX"
    business = dataset(dbsession, TITLES[2])
    assert (business.theme, business.open_class) == ("法人", "有条件开放")

    # the public pages: previews decoded (GBK detected), the XLSX's first sheet
    page = testapp.get(population.path)
    assert "<td>黄梅镇</td>" in page.text and "<td>新开镇</td>" in page.text and "GBK" in page.text
    assert "<td>合计</td>" in page.text
    page = testapp.get(economy.path)
    assert "地区生产总值（亿元）" in page.text and "<td>2025</td>" in page.text
    assert testapp.get(resource_of(population).path + "@@download/file").body.decode("gbk").startswith("乡镇,户数")
    assert TITLES[0] in testapp.get("/@@datasets").text

    # 有条件开放: metadata public, the file and its preview for logged-in staff only
    url = resource_of(business).path + "@@download/file"
    page = testapp.get(business.path)
    assert "市场主体登记信息" in page.text and "县工商局注册科" in page.text
    assert "91421127DEMO00001X" not in page.text
    assert "/@@login" in testapp.get(url, status=302).location
    login(testapp, "hmz-editor", "editor-demo-2026")
    assert testapp.get(url).body.decode("utf-8-sig").startswith("统一社会信用代码")
    assert "91421127DEMO00001X" in testapp.get(business.path).text

    # idempotent: a second run adds nothing
    count = dbsession.scalar(select(func.count(Node.id)))
    again = load_demo(request)
    assert again[-1] == "demo datasets: 0 added" and again[:4] == lines[:4]
    assert dbsession.scalar(select(func.count(Node.id))) == count

"""The unit list of the county plan, loaded into the tree (the `app` fixture has loaded it already)."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.models import Node, Portal, Unit
from portal.slugs import slugify, valid_name
from portal.units import ensure_root, load_units, read_unit_list

TOWNS = ("黄梅镇", "孔垄镇", "小池镇", "苦竹乡", "柳林乡", "大河镇", "分路镇", "杉木乡", "蔡山镇", "独山镇",
         "停前镇", "下新镇", "刘佐乡", "五祖镇", "濯港镇", "新开镇")


@pytest.fixture
def units(dbsession) -> list[Unit]:
    return list(dbsession.scalars(select(Unit).order_by(Node.path)))


def by_title(units: list[Unit], title: str) -> list[Unit]:
    return [u for u in units if u.title == title]


def unit_count(dbsession) -> int:
    return dbsession.scalar(select(func.count(Unit.id)))


# -- the data file --------------------------------------------------------------------------------

def test_unit_list_columns():
    rows = read_unit_list()
    assert rows
    assert set(rows[0]) == {"title", "short_name", "full_name", "kind", "parent", "org_code"}


def test_unit_list_parents_come_before_their_children():
    seen: set[str] = set()
    for row in read_unit_list():
        if row["parent"]:
            assert row["parent"] in seen, row
        seen.add(row["title"])


def test_unit_list_names_the_price_bureau_twice():
    titles = Counter(row["title"] for row in read_unit_list())
    assert titles["县物价局"] == 2
    assert [t for t, n in titles.items() if n > 1] == ["县物价局"]


# -- what is loaded -------------------------------------------------------------------------------

def test_sixteen_towns_at_the_top(dbsession, units):
    towns = [u for u in units if u.kind == "乡镇"]
    assert sorted(u.title for u in towns) == sorted(TOWNS)
    root = dbsession.scalar(select(Portal))
    assert all(u.parent is root for u in towns)


def test_a_service_centre_under_each_town(units):
    centres = [u for u in units if u.kind == "便民服务中心"]
    assert len(centres) == 16
    assert sorted(c.parent.title for c in centres) == sorted(TOWNS)
    for centre in centres:
        assert centre.title == f"{centre.parent.title}便民服务中心"
        assert centre.path == f"{centre.parent.path}{slugify(centre.short_name)}/"


def test_two_communities_under_huangmei_town(units):
    communities = [u for u in units if u.kind == "社区"]
    assert sorted(c.title for c in communities) == ["竹林咀社区", "西街社区"]
    assert all(c.parent.title == "黄梅镇" for c in communities)
    town = by_title(units, "黄梅镇")[0]
    assert sorted(c.title for c in town.children if isinstance(c, Unit)) == sorted(
        ["黄梅镇便民服务中心", "竹林咀社区", "西街社区"])


def test_departments_are_at_the_top(dbsession, units):
    departments = [u for u in units if u.kind == "县直部门"]
    assert len(departments) == 43
    assert {"县政府办", "县教育局", "县财政局", "县物价局", "县信访局"} <= {d.title for d in departments}
    root = dbsession.scalar(select(Portal))
    assert all(d.parent is root for d in departments)


def test_every_row_of_the_list_is_loaded_once(units):
    rows = read_unit_list()
    assert len(units) == len({r["org_code"] for r in rows}) == len(rows) - 1 == 83
    loaded = {u.org_code: u for u in units}
    for row in rows:
        u = loaded[row["org_code"]]
        assert (u.title, u.short_name, u.full_name, u.kind) == (row["title"], row["short_name"], row["full_name"],
                                                                row["kind"])
        assert (u.parent.title if row["parent"] else u.parent.parent_id) == (row["parent"] or None)


def test_price_bureau_appears_once(units):
    [bureau] = by_title(units, "县物价局")
    assert bureau.path == "/xianwujiaju/"
    assert bureau.org_code == "421127-079"


def test_every_unit_has_full_name_short_name_kind_and_org_code(units):
    for u in units:
        assert u.full_name and u.short_name and u.org_code, u.title
        assert u.kind in Unit.KINDS, u.title
        assert re.fullmatch(r"[0-9A-Za-z-]+", u.org_code), u.org_code
    codes = [u.org_code for u in units]
    assert len(codes) == len(set(codes))


def test_units_are_published(units):
    assert {u.state for u in units} == {"published"}
    assert all(u.published is not None for u in units)


# -- URL names ------------------------------------------------------------------------------------

def test_url_names_are_pinyin(units):
    assert by_title(units, "黄梅镇")[0].path == "/huangmeizhen/"
    assert by_title(units, "孔垄镇")[0].path == "/konglongzhen/"
    assert by_title(units, "县政府办")[0].path == "/xianzhengfuban/"
    assert by_title(units, "黄梅镇便民服务中心")[0].path == "/huangmeizhen/bianminfuwuzhongxin/"
    assert by_title(units, "西街社区")[0].path == "/huangmeizhen/xijieshequ/"
    for u in units:
        base = slugify(u.short_name if isinstance(u.parent, Unit) else u.title)
        assert re.fullmatch(re.escape(base) + r"(-\d+)?", u.name), (u.title, u.name)


def test_url_names_are_valid_and_unique(units):
    paths = [u.path for u in units]
    assert len(paths) == len(set(paths))
    for u in units:
        assert valid_name(u.name), u.name
        assert u.path == f"{u.parent.path}{u.name}/"
        siblings = [c.name for c in u.parent.children]
        assert siblings.count(u.name) == 1


# -- loading again ----------------------------------------------------------------------------------

def test_loading_twice_creates_nothing(dbsession, units):
    root = ensure_root(dbsession)
    paths = {u.org_code: u.path for u in units}
    count = unit_count(dbsession)
    report = load_units(dbsession, root, read_unit_list())
    assert report.created == []
    assert len(report.existing) == 83
    assert report.duplicates == ["县物价局"]
    assert unit_count(dbsession) == count
    dbsession.expire_all()
    assert {u.org_code: u.path for u in dbsession.scalars(select(Unit))} == paths


def test_ensure_root_is_idempotent(dbsession):
    root = ensure_root(dbsession)
    assert ensure_root(dbsession) is root
    assert dbsession.scalar(select(func.count(Portal.id))) == 1
    assert root.path == "/" and root.state == "published"


def test_renaming_a_unit_title_keeps_its_path(dbsession, units):
    town = by_title(units, "黄梅镇")[0]
    town.title = "黄梅镇（新名称）"
    dbsession.flush()
    assert town.path == "/huangmeizhen/"
    report = load_units(dbsession, ensure_root(dbsession), read_unit_list())
    assert report.created == []
    dbsession.expire_all()
    town = dbsession.scalar(select(Unit).where(Unit.org_code == "421127-001"))
    assert town.path == "/huangmeizhen/"
    assert town.title == "黄梅镇（新名称）"  # the list does not overwrite what was edited
    assert len([c for c in town.children if isinstance(c, Unit)]) == 3  # its centre and communities, once


def test_new_rows_are_added_with_unique_names(dbsession, tmp_path: Path):
    root = ensure_root(dbsession)
    csv = tmp_path / "units.csv"
    csv.write_text(
        "title,short_name,full_name,kind,parent,org_code\n"
        "黄梅镇,黄梅镇,黄梅县黄梅镇人民政府,乡镇,,421127-001\n"
        "测试局,测试局,黄梅县测试局,县直部门,,T-1\n"
        "黄梅镇测试站,便民服务中心,黄梅镇测试站,其他,黄梅镇,T-2\n"
        "县政府办,县政府办,同名不同码,县直部门,,T-3\n", encoding="utf-8")
    count = unit_count(dbsession)
    report = load_units(dbsession, root, read_unit_list(csv))
    assert report.created == ["测试局", "黄梅镇测试站", "县政府办"]
    assert report.existing == ["黄梅镇"]
    assert unit_count(dbsession) == count + 3
    assert dbsession.scalar(select(Unit).where(Unit.org_code == "T-1")).path == "/ceshiju/"
    # taken names get a suffix instead of clashing
    assert dbsession.scalar(select(Unit).where(Unit.org_code == "T-2")).path == "/huangmeizhen/bianminfuwuzhongxin-2/"
    assert dbsession.scalar(select(Unit).where(Unit.org_code == "T-3")).path == "/xianzhengfuban-2/"
    again = load_units(dbsession, root, read_unit_list(csv))
    assert again.created == [] and unit_count(dbsession) == count + 3

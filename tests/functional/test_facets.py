"""Issue 12, the markup that makes the search page, the 信息公开目录 and the open-data catalogue work
on a phone without JavaScript (the browser test tests/browser/test_phone_pages.py checks how it is
drawn):

* the results come first in the page, the facets after them, all in one <details> (closed; CSS
  opens it on wide screens), the filters applied listed above the results with links taking them off;
* a long facet shows ten entries -- the unit facet: the ten units with most results, or the one
  chosen, in the county plan's order -- and the rest behind a nested "更多" <details>;
* a chosen facet value is marked with aria-current, never aria-pressed (axe: aria-allowed-attr);
* the tables of the catalogues carry each column's header text on every cell (data-label), which
  the phone's cards show as "label：value", the title cell marked to go on top.
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import lxml.html
import pytest
import webtest
from sqlalchemy import select

from content_types.disclosure import SUBJECTS
from portal import content
from portal.facets import unit_plan_order
from portal.models import Node, Portal, Unit
from tests.functional.test_disclosure_catalogue import disclosure
from tests.functional.test_search import backend, index_now  # noqa: F401  (fixture)

UNITS = 13
WORD = "秸秆综合利用"


@pytest.fixture
def request_(request_as: Any) -> Any:
    return request_as("manager")


@pytest.fixture
def plan_units(dbsession: Any) -> list[Unit]:
    """The first 13 units under the root, in the plan's order."""
    root = dbsession.scalar(select(Portal))
    return list(dbsession.scalars(select(Unit).where(Node.parent_id == root.id).order_by(Node.position)))[:UNITS]


@pytest.fixture
def documents(request_: Any, plan_units: list[Unit]) -> dict[str, int]:
    """1 to 3 public documents in each of the 13 units (so the count order is not the plan's)."""
    counts = {}
    for i, unit in enumerate(plan_units):
        counts[unit.title] = 1 + (i * 5) % 3
        for n in range(counts[unit.title]):
            disclosure(request_, unit, f"{unit.title}{WORD}实施方案第{n + 1}批", subject="农业、林业、水利",
                       published=dt.datetime(2024, 3, 1 + i))
    return counts


def html(res: webtest.TestResponse) -> Any:
    return lxml.html.fromstring(res.text)


def facet(doc: Any, title: str) -> Any:
    (section,) = doc.xpath(f'//aside[@class="facets"]//section[@class="facet"][h2="{title}"]')
    return section


def shown_and_more(section: Any) -> tuple[list[str], list[str]]:
    shown = [a.text_content() for a in section.xpath("./ul/li/a")]
    more = [a.text_content() for a in section.xpath('./details[@class="facet-more"]/ul/li/a')]
    return shown, more


def expected_unit_facet(units: list[str], counts: dict[str, int], chosen: str | None = None) -> tuple[list, list]:
    top = sorted(units, key=lambda u: (-counts[u], units.index(u)))[:10]
    top += [chosen] if chosen and chosen not in top else []
    return [u for u in units if u in top], [u for u in units if u not in top]


def assert_results_then_folded_facets(doc: Any) -> None:
    (layout,) = doc.xpath('//div[@class="search-layout"]')
    assert [child.get("class") for child in layout] == ["results", "facets"]  # results first in the page
    (panel,) = layout.xpath('./aside[@class="facets"]/details[@class="facet-panel"]')
    assert panel.get("open") is None  # folded on a phone; CSS shows it on wide screens
    (summary,) = panel.xpath("./*[1][self::summary]")
    assert summary.text_content().strip() == "筛选" and summary.get("id") == "facets-title"
    assert layout.xpath('./aside[@class="facets"]')[0].get("aria-labelledby") == "facets-title"
    assert layout.xpath('.//p[@class="to-facets"]/a')[0].get("href") == "#facets-title"  # the phone's way down
    assert not doc.xpath("//*[@aria-pressed]")


def assert_cards(doc: Any, table_class: str) -> None:
    """Every cell names its column (the header's text) for the phone's "label：value" lines."""
    (table,) = doc.xpath(f'//table[contains(@class, "{table_class}")]')
    assert "cards" in table.get("class").split()
    headers = [th.text_content().strip() for th in table.xpath("./thead/tr/th")]
    assert all(th.get("scope") == "col" for th in table.xpath("./thead/tr/th"))
    rows = table.xpath("./tbody/tr")
    assert rows
    for tr in rows:
        assert [td.get("data-label") for td in tr.xpath("./td")] == headers
        (title,) = tr.xpath('./td[contains(@class, "card-title")]')
        assert title.xpath("./a/@href")  # the title, a link, on top of the card


def test_the_plans_order_puts_a_towns_service_centre_after_the_town(request_: Any) -> None:
    order = unit_plan_order(request_)
    assert order["黄梅镇"] < order["黄梅镇便民服务中心"] < order["孔垄镇"] < order["孔垄镇便民服务中心"]
    assert order["黄梅镇"] < order["小池镇"] < order["县政府办"]  # towns first, as the plan lists them


def test_the_xxgk_unit_facet_is_bounded_in_the_plans_order(testapp, documents, plan_units):
    units = [u.title for u in plan_units]
    doc = html(testapp.get("/@@xxgk", {"year": "2024"}))
    assert_results_then_folded_facets(doc)
    section = facet(doc, "单位")
    shown, more = shown_and_more(section)
    assert (shown, more) == expected_unit_facet(units, documents)
    summary = section.xpath('./details[@class="facet-more"]/summary')[0].text_content()
    assert summary.startswith("更多") and f"（{len(more)}）" in summary
    # the subject classes: those with documents first, the empty ones behind "更多", each in the national order
    assert shown_and_more(facet(doc, "主题分类")) == (["农业、林业、水利"], [s for s in SUBJECTS if s != "农业、林业、水利"])


def test_a_chosen_unit_is_shown_marked_and_listed_above_the_results(testapp, documents, plan_units):
    units = [u.title for u in plan_units]
    _shown, more = expected_unit_facet(units, documents)
    chosen = more[-1]
    res = testapp.get("/@@xxgk", {"unit": chosen})
    doc = html(res)
    assert shown_and_more(facet(doc, "单位")) == expected_unit_facet(units, documents, chosen)
    (active,) = doc.xpath("//aside[@class='facets']//a[@aria-current]")
    assert active.text_content() == chosen and active.get("aria-current") == "true"
    assert "active" in active.get("class")
    (applied,) = doc.xpath('//section[@class="results"]/p[@class="chosen"]/a[@class="chosen-filter"]')
    assert " ".join(applied.text_content().split()) == f"取消筛选条件 单位：{chosen} ×"
    assert applied.get("href").endswith("/@@xxgk")  # takes the filter off
    assert_cards(doc, "xxgk")
    assert not doc.xpath("//*[@aria-pressed]")


def test_a_units_xxgk_has_no_unit_facet_and_cards(testapp, documents, plan_units):
    doc = html(testapp.get(f"{plan_units[1].path}@@xxgk"))
    assert_results_then_folded_facets(doc)
    assert not doc.xpath('//section[@class="facet"][h2="单位"]')
    assert_cards(doc, "xxgk")


def test_the_datasets_are_a_table_of_cards_with_folded_facets(testapp, request_, plan_units):
    for unit in plan_units[:2]:
        dataset = content.create(request_, unit, "Dataset", {
            "title": f"{unit.title}{WORD}情况", "theme": "农业农村", "license": "cc-by", "open_class": "无条件开放",
            "update_frequency": "每年", "contact_name": "办公室"}, unrestricted=True)
        content.set_state(request_, dataset, "published", "publish")
    doc = html(testapp.get("/@@datasets"))
    assert_results_then_folded_facets(doc)
    assert_cards(doc, "datasets")
    titles = [a.text_content() for a in doc.xpath('//table[contains(@class, "datasets")]/tbody/tr/td[1]/a')]
    assert {f"{u.title}{WORD}情况" for u in plan_units[:2]} <= set(titles)
    assert shown_and_more(facet(doc, "数据领域"))[0][0] == "农业农村"


def test_the_search_page_unit_facet_is_bounded_in_the_plans_order(app, testapp, dbsession, backend,  # noqa: F811
                                                                  documents, plan_units):
    index_now(app.registry, dbsession, backend)
    units = [u.title for u in plan_units]
    res = testapp.get("/@@search", {"q": WORD, "year": "2024"})
    doc = html(res)
    assert_results_then_folded_facets(doc)
    assert shown_and_more(facet(doc, "单位")) == expected_unit_facet(units, documents)
    (form,) = doc.xpath('//main//form[@role="search"]')
    assert form.get("aria-labelledby") == "search-title" and doc.xpath('//h1[@id="search-title"]')
    (applied,) = doc.xpath('//p[@class="chosen"]/a[@class="chosen-filter"]')
    assert " ".join(applied.text_content().split()) == "取消筛选条件 年度：2024 ×"
    assert "year=" not in applied.get("href") and f"q={WORD}" in urllib.parse.unquote(applied.get("href"))
    (active,) = doc.xpath("//aside[@class='facets']//a[@aria-current='true']")
    assert active.text_content() == "2024"


def test_a_search_without_results_shows_no_facets_but_the_filters_to_take_off(testapp, backend):  # noqa: F811
    doc = html(testapp.get("/@@search", {"q": "没有这样的词语", "unit": "黄梅镇"}))
    assert not doc.xpath('//aside[@class="facets"]') and not doc.xpath('//p[@class="to-facets"]')
    (applied,) = doc.xpath('//p[@class="chosen"]/a[@class="chosen-filter"]')
    assert "unit=" not in applied.get("href")

"""Issue 12 on a phone (375x740) and at 1024x768: the search page with a facet, the 信息公开目录
(county-wide and a unit's), the open-data catalogue and a dataset page.

At both sizes nothing scrolls sideways and axe-core finds no critical or serious violation. On the
phone the results come before the facets, which are folded away (one <details>), and each row of
the catalogues' tables is a card (the title on top, then "label：value" lines); at 1024 px the
facets are an open column beside the results and the tables are tables. The unit facet shows ten
units in the county plan's order, the rest behind "更多". Screenshots of every page at both sizes
go to var/screenshots/<test>/.

The content is made once for the module, dated 2024 (older than what the other browser tests
publish, so their documents stay on the first page of the 信息公开目录), with its own words.
"""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from sqlalchemy import select

from tests.browser.axe import check_axe
from tests.browser.conftest import PortalServer, VisitChecks, assert_log_clean, slug

PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1024, "height": 768}
WORD = "秸秆综合利用"
UNITS = 13  # units with documents: more than the unit facet shows before "更多"
FACET_LIMIT = 10
CSV = "乡镇,秸秆产量（吨）,综合利用率（%）,禁烧巡查次数,备注说明\r\n黄梅镇,12034,93.5,120,按季度统计\r\n".encode()


@dataclass
class Made:
    units: list[str]  # the units with documents, in the plan's order
    counts: dict[str, int]  # documents per unit
    unit_path: str  # a unit with documents, for its own 信息公开目录
    dataset_path: str  # a dataset with a resource and a preview


@pytest.fixture(scope="module")
def made(portal_server: PortalServer) -> Iterator[Made]:
    """Disclosure documents in the first 13 units (1 to 3 each, so the count order is not the plan's),
    and three published datasets, one with a CSV file and a link."""
    from content_types.disclosure import Disclosure
    from portal import content
    from portal.api.fields import deserialize
    from portal.cli import app_request
    from portal.models import Node, Portal, Unit
    from portal.registry import type_info

    with app_request(portal_server.app.registry) as request:
        db = request.dbsession
        root = db.scalar(select(Portal))
        units = list(db.scalars(select(Unit).where(Node.parent_id == root.id).order_by(Node.position)))[:UNITS]
        counts: dict[str, int] = {}
        for i, unit in enumerate(units):
            counts[unit.title] = 1 + (i * 5) % 3
            for n in range(counts[unit.title]):
                doc = content.create(request, unit, "Disclosure", {
                    "title": f"关于印发《{unit.title}二〇二四年{WORD}和秸秆露天禁烧工作实施方案（第{n + 1}批）》的通知",
                    "subject": "农业、林业、水利", "genre": "通知", "doc_number": f"{unit.short_name}政发〔2024〕{10 + n}号",
                    "written_date": dt.date(2024, 3, 1 + i)}, unrestricted=True)
                content.set_state(request, doc, "published", "publish")
                doc.published = dt.datetime(2024, 3, 2 + i, 1, n)
        datasets = []
        for i, unit in enumerate(units[:3]):
            dataset = content.create(request, unit, "Dataset", {
                "title": f"{unit.title}{WORD}情况统计（2019—2024年，按行政村、年度和利用方式分列）",
                "description": f"{unit.title}各行政村历年秸秆产量、综合利用量、综合利用率和禁烧巡查情况，按年度更新。",
                "theme": "农业农村", "keywords": ["秸秆", "农业"], "license": "cc-by", "open_class": "无条件开放",
                "update_frequency": "每年", "contact_name": "农业农村局办公室", "contact_phone": "0713-3321234"},
                unrestricted=True)
            content.set_state(request, dataset, "published", "publish")
            datasets.append(dataset)
        info = type_info(request.registry, "Resource")
        file = {"data": base64.b64encode(CSV).decode(), "encoding": "base64", "filename": "秸秆综合利用情况.csv"}
        for body in ({"title": "秸秆综合利用情况表（CSV 文件，UTF-8 编码）", "file": file},
                     {"title": "秸秆综合利用政策解读", "url": "https://example.org/jiegan.html"}):
            resource = content.create(request, datasets[0], "Resource", deserialize(request, info, body),
                                      unrestricted=True)
            content.set_state(request, resource, "published", "publish")
        db.flush()
        assert db.scalar(select(Disclosure.id).where(Node.title.contains(WORD))) is not None
        made = Made([u.title for u in units], counts, units[0].path, datasets[0].path)
    yield made


def pages(made: Made) -> list[tuple[str, str]]:
    """(step name, path) of the pages checked."""
    return [("search", f"/@@search?q={WORD}&type=Disclosure"), ("xxgk", "/@@xxgk"),
            ("unit-xxgk", f"{made.unit_path}@@xxgk"), ("datasets", "/@@datasets"), ("dataset", made.dataset_path)]


def no_sideways_scrolling(page: Any, where: str) -> None:
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where}: the page is {widths[0]} px wide in a {widths[1]} px window"
    # nor does anything stick out of the window unseen (a box that clips or scrolls, inside the
    # window, keeps what it holds: the preview's table, the header row kept for screen readers)
    wide = page.evaluate("""() => {
        const right = (e) => e.getBoundingClientRect().right > window.innerWidth + 0.5;
        const kept = (e) => {
            for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
                if (getComputedStyle(a).overflowX !== 'visible' && !right(a)) return true;
            return false;
        };
        return [...document.querySelectorAll('main *')].filter(e => right(e) && !kept(e))
            .slice(0, 5).map(e => e.tagName + '.' + e.className);
    }""")
    assert not wide, f"{where}: past the right edge: {wide}"


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not drawn"
    return found


def check_layout(page: Any, step: str, size: dict[str, int]) -> None:
    """What the issue asks of the page at this size (beside no sideways scrolling and axe)."""
    phone = size["width"] < 1024
    where = f"{step} at {size['width']}x{size['height']}"
    if page.locator("aside.facets").count():
        results, facets = box(page, "section.results"), box(page, "aside.facets")
        panel = page.locator("details.facet-panel")
        first_link = page.locator("aside.facets .facet li a").first
        if phone:
            assert results["y"] + results["height"] <= facets["y"], f"{where}: the facets are not after the results"
            assert panel.get_attribute("open") is None and not first_link.is_visible(), f"{where}: facets open"
            assert page.locator("details.facet-panel > summary").is_visible()
        else:
            assert facets["x"] + facets["width"] <= results["x"], f"{where}: the facets are not beside the results"
            assert first_link.is_visible() and not page.locator("details.facet-panel > summary").is_visible(), where
    table = page.locator("table.cards").first
    if table.count():
        row = table.locator("tbody tr").first
        display = row.evaluate("(tr) => getComputedStyle(tr).display")
        assert (display == "flex") if phone else (display == "table-row"), f"{where}: rows are {display}"
        if phone:
            title, cells = box(page, "table.cards tbody tr .card-title"), row.locator("td:not(.card-title)")
            assert title["y"] < cells.first.bounding_box()["y"], f"{where}: the title is not on top of its card"
            label = cells.first.evaluate("(td) => getComputedStyle(td, '::before').content")
            header = table.locator("thead th").first.inner_text()
            assert cells.first.get_attribute("data-label") in label, f"{where}: the card's label is {label}"
            assert header == table.locator("td").first.get_attribute("data-label"), where


def test_the_public_listings_on_a_phone_and_at_1024(page: Any, visit_checks: VisitChecks, page_log: Any,
                                                    made: Made) -> None:
    visit_checks.folder.mkdir(parents=True, exist_ok=True)
    for n, (step, path) in enumerate(pages(made), start=1):
        page.set_viewport_size(PHONE)
        page.goto(path)
        for size in (PHONE, WIDE):
            page.set_viewport_size(size)
            where = f"{step} at {size['width']}x{size['height']} ({page.url})"
            no_sideways_scrolling(page, where)
            check_layout(page, step, size)
            page.screenshot(path=str(visit_checks.folder / f"{n:02d}-{slug(step)}-{size['width']}.png"),
                            full_page=True, animations="disabled")
            check_axe(page, where)
        assert_log_clean(page_log, step)
        page_log.clear()


def test_the_unit_facet_shows_ten_units_in_the_plans_order_and_more(page: Any, made: Made) -> None:
    page.set_viewport_size(WIDE)
    page.goto(f"/@@search?q={WORD}")
    facet = page.locator("aside.facets section.facet").filter(has=page.locator("h2", has_text="单位"))
    shown = facet.locator(":scope > ul a").all_inner_texts()
    top = sorted(made.units, key=lambda u: (-made.counts[u], made.units.index(u)))[:FACET_LIMIT]
    assert shown == [u for u in made.units if u in top]  # the ten with most results, in the plan's order
    more = facet.locator("details.facet-more")
    assert not more.locator("ul a").first.is_visible()
    more.locator("summary").click()  # the browser's own <details>: no script
    assert more.locator("ul a").all_inner_texts() == [u for u in made.units if u not in top]
    assert more.locator("ul a").first.is_visible()
    with page.expect_navigation():
        more.locator("ul a").first.click()
    chosen = [u for u in made.units if u not in top][0]
    active = page.locator("aside.facets a[aria-current=true]")
    assert active.all_inner_texts() == [chosen]  # a chosen unit is shown among the first ones
    assert page.locator("p.chosen a.chosen-filter").inner_text().endswith(f"{chosen} ×")

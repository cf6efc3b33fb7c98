"""Issue 12 in Chromium, as a visitor meets the demo of `make run`: from the home page down to an
attachment, search with a facet, the 信息公开目录 by subject and year, the larger-text and
high-contrast modes (with and without JavaScript), phones, and axe on every page a visitor reads.

Each step is checked by `visit_checks` (screenshots at 1366x900 and 390x844 under
var/screenshots/, axe without critical or serious findings, no console error, no failed request);
at 390 px nothing may scroll sideways."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS_DIR, PortalServer, VisitChecks, slug

ATTACHMENT = "附件：黄梅镇2026年冬春农田水利建设任务表.txt"
ATTACHMENT_BYTES = "序号,村名,任务\n1,竹林咀,清淤\n".encode()
HOME_BUDGET = 150 * 1024  # the limit for a first visit of the home page, everything included


@pytest.fixture(scope="module")
def town_document(demo_server: PortalServer) -> str:
    """A disclosure with an attachment in 黄梅镇's 政府信息公开 column, published; its title."""
    from sqlalchemy import select

    from portal import content
    from portal.cli import app_request
    from portal.models import Unit

    title = "黄梅镇关于开展2026年冬春农田水利建设的通知"
    with app_request(demo_server.app.registry) as request:
        town = request.dbsession.scalar(select(Unit).where(Unit.title == "黄梅镇"))
        digest, size, _new = demo_server.blobs.put(ATTACHMENT_BYTES)
        node = content.create(request, town.get("xxgk"), "Disclosure", {
            "title": title, "subject": "农业、林业、水利", "genre": "通知", "doc_number": "梅镇发〔2026〕12号",
            "body": "<p>各村（社区）：现将冬春农田水利建设任务表印发给你们，请认真组织实施。</p>",
            "attachments": [{"hash": digest, "filename": ATTACHMENT, "content_type": "text/plain", "size": size}]},
            unrestricted=True)
        content.set_state(request, node, "published", "publish", "浏览器测试")
    return title


@pytest.fixture
def visitor(request: Any, browser: Any, demo_server: PortalServer, axe_installed: Any) -> Iterator[tuple[Any, VisitChecks]]:
    """A visitor's page on the demo server (a fresh browser context: nothing cached) and its checks."""
    checks = VisitChecks(request.node.name, browser, demo_server)
    page = checks.new_page(None)
    yield page, checks
    checks.close()


SMALL_SCREEN = {"width": 1024, "height": 768}


def visit(page: Any, checks: VisitChecks, step: str) -> None:
    """The checks of every step, and nothing scrolls sideways on a phone or at 1024x768."""
    checks(page, step)
    for size in (PHONE, SMALL_SCREEN):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{step}: the page scrolls sideways by {overflow}px at {size['width']}px"
    page.set_viewport_size(DESKTOP)


def transferred(page: Any) -> int:
    """Bytes the page's first visit transferred: the document and every resource it loaded."""
    return page.evaluate("""() => performance.getEntriesByType('navigation').concat(
        performance.getEntriesByType('resource')).reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize), 0)""")


def test_a_visitor_goes_from_the_home_page_down_to_an_attachment(visitor, town_document):
    page, checks = visitor
    page.goto("/")
    page.wait_for_load_state("load")
    size = transferred(page)
    assert 0 < size <= HOME_BUDGET, f"the home page's first visit transferred {size} bytes"
    blocks = page.locator(".home-grid > section h2").all_inner_texts()
    assert blocks == ["要闻", "部门动态", "乡镇动态", "通知公告", "政策文件", "政策解读", "开放数据", "政府信息公开"]
    lead = page.locator("#block-yw figure.lead img")
    assert lead.evaluate("img => img.complete && img.naturalWidth > 0")
    for block in ("#block-yw", "#block-bmdt", "#block-xzdt", "#block-tzgg", "#block-zcwj", "#block-zcjd", "#block-sjkf",
                  "#block-xxgk"):
        assert page.locator(f"{block} ul.entries li").count() > 0, f"{block} is empty in the demo"
    visit(page, checks, "home")

    with page.expect_navigation():
        page.locator(".home-units a", has_text="黄梅镇").first.click()
    assert page.locator(".site-title").inner_text() == "黄梅县黄梅镇人民政府"
    assert page.locator(".disclosure-entry a").all_inner_texts() == ["信息公开指南", "信息公开目录", "政府信息公开年报"]
    visit(page, checks, "unit-home")

    with page.expect_navigation():
        page.locator("nav.main-nav a", has_text="政府信息公开").first.click()
    assert page.locator("main h1").inner_text() == "政府信息公开"
    visit(page, checks, "column")

    with page.expect_navigation():
        page.locator("main a", has_text=town_document).first.click()
    assert page.locator("main h1").inner_text() == town_document
    assert page.locator("meta[name=ArticleTitle]").get_attribute("content") == town_document
    visit(page, checks, "item")

    with page.expect_download() as download:
        page.locator("a[href*='@@download/attachments']").first.click()
    assert open(download.value.path(), "rb").read() == ATTACHMENT_BYTES


def test_a_visitor_searches_and_narrows_by_a_facet(visitor):
    page, checks = visitor
    page.goto("/")
    page.fill("#site-q", "电子政务")
    with page.expect_navigation():
        page.locator("form.site-search button").click()
    titles = page.locator(".hits h2").all_inner_texts()
    assert any("电子政务专网" in t for t in titles)
    visit(page, checks, "search")
    facet = page.locator(".facets a", has_text="县政府办").first
    with page.expect_navigation():
        facet.click()
    assert "unit=" in page.url
    assert page.locator(".hits h2").count() > 0
    visit(page, checks, "search-facet")


def test_a_visitor_browses_the_disclosure_catalogue_by_subject_and_year(visitor):
    page, checks = visitor
    page.goto("/@@xxgk")
    visit(page, checks, "xxgk")
    with page.expect_navigation():
        page.locator(".facets a", has_text="综合政务").first.click()
    with page.expect_navigation():
        page.locator(".facets a", has_text="2011").first.click()
    assert "subject=" in page.url and "year=2011" in page.url
    assert "梅政办发〔2011〕108号" in page.locator("main").inner_text()
    visit(page, checks, "xxgk-subject-year")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_larger_text_and_high_contrast_persist_for_the_visitor(browser, demo_server, javascript, request):
    context = browser.new_context(base_url=demo_server.base_url, locale="zh-CN", java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto("/")
        font = "() => getComputedStyle(document.querySelector('.block h2')).fontSize"
        normal = float(page.evaluate(font).removesuffix("px"))
        assert page.locator(".display-nav a", has_text="标准字号").is_hidden()
        with page.expect_navigation():
            page.locator(".display-nav a", has_text="大字模式").click()
        assert page.url.rstrip("/") == demo_server.base_url
        assert float(page.evaluate(font).removesuffix("px")) == pytest.approx(normal * 1.25)
        assert page.locator(".display-nav a", has_text="大字模式").is_hidden()
        with page.expect_navigation():
            page.locator(".display-nav a", has_text="高对比度").click()
        page.goto("/huangmeizhen/")  # another page: the choice stays
        assert float(page.evaluate(font.replace(".block h2", ".unit-aside h2")).removesuffix("px")) > 16 * 1.2
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(0, 0, 0)"
        assert page.evaluate("getComputedStyle(document.querySelector('main a')).color") == "rgb(255, 255, 0)"
        assert not [c for c in context.cookies() if c["name"] == "portal_session"]  # no session for it
        page.screenshot(path=str(SCREENSHOTS_DIR / slug(request.node.name) / "large-high-contrast-1366.png"),
                        full_page=True)
        with page.expect_navigation():
            page.locator(".display-nav a", has_text="标准配色").click()
        with page.expect_navigation():
            page.locator(".display-nav a", has_text="标准字号").click()
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    finally:
        context.close()


# the pages the issue names (the column and the item are found in the demo)
PAGES = {"home": "/", "unit-home": "/huangmeizhen/", "search": "/@@search?q=通知", "xxgk": "/@@xxgk",
         "sitemap": "/@@sitemap", "login": "/@@login"}


def test_every_page_a_visitor_reads_passes_axe_and_loads_cleanly(visitor, demo_server):
    page, checks = visitor
    from sqlalchemy import select

    from portal.cli import app_request
    from portal.models import Node, Unit

    with app_request(demo_server.app.registry) as request:
        office = request.dbsession.scalar(select(Unit).where(Unit.title == "县政府办"))
        item = request.dbsession.scalar(select(Node.path).where(Node.path.like(f"{office.path}xwdt/_%"),
                                                                 Node.state == "published").limit(1))
        pages = {**PAGES, "column": f"{office.path}xwdt/", "item": item}
    for step, path in pages.items():
        page.goto(path)
        visit(page, checks, step)

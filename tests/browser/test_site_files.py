"""A visitor's site map and error pages in Chromium: the 网站地图 with every unit by kind, the 404
page's way back (search from it), and what a browser asks of the site's root (the favicon); each
page without console errors, failed requests or serious axe violations, screenshots at desktop and
phone width."""
from __future__ import annotations

from typing import Any

from tests.browser.conftest import PortalServer, VisitChecks


def test_the_site_map_leads_to_every_unit(page: Any, visit_checks: VisitChecks) -> None:
    page.goto("/@@sitemap")
    assert page.locator("main h1").inner_text() == "网站地图"
    kinds = page.locator("main .sitemap-kind h3").all_inner_texts()
    assert kinds[:2] == ["乡镇", "县直部门"]
    visit_checks(page, "site map")
    page.locator("main .sitemap-kind").first.get_by_role("link", name="黄梅镇", exact=True).click()
    page.wait_for_url("**/huangmeizhen/")
    visit_checks(page, "a unit from the site map")


def test_a_missing_page_offers_the_way_on(page: Any, visit_checks: VisitChecks, page_log: Any,
                                          portal_server: PortalServer) -> None:
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    assert page.locator("main h1").inner_text() == "页面不存在"
    assert page_log.failed_requests == [f"{response.url}: 404"]  # the page's own answer, asserted above
    page_log.failed_requests.clear()
    page_log.console_errors[:] = [m for m in page_log.console_errors if "status of 404" not in m]
    visit_checks(page, "not found")
    page.get_by_label("站内搜索：").fill("黄梅")
    page.locator("main form[role=search] button").click()
    page.wait_for_url("**/@@search?q=*")
    assert page.locator("main h1").count() == 1
    icons = portal_server.requested("/favicon.ico")
    # 304: the browser revalidated the icon it kept from an earlier page (If-Modified-Since)
    assert icons and all(status in (200, 304) for _method, _path, status in icons)

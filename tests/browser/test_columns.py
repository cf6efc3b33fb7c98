"""Issue 9 in Chromium: a unit's add menu leads news to its 新闻动态 column, and retracting a unit
with public content goes through a confirmation page that says what becomes unreachable.

The unit retracted is 柳林乡, which no other browser test uses, and it is published again at the
end: the server is shared by the whole session."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.browser.conftest import PortalServer, VisitChecks, log_in


def test_the_unit_root_leads_news_to_the_news_column(page: Any, visit_checks: VisitChecks) -> None:
    log_in(page, "editor")
    page.goto("/huangmeizhen/")
    entries = page.locator("nav.add-elsewhere a")
    assert "新闻 → 新闻动态" in entries.all_inner_texts()
    options = page.locator(".toolbar select[name=type] option").all_inner_texts()
    assert "新闻" not in options and "页面" in options
    visit_checks(page, "unit-add-menu")
    with page.expect_navigation():
        entries.filter(has_text="新闻 → 新闻动态").click()
    assert page.url.endswith("/huangmeizhen/xwdt/@@add?type=News")
    assert page.locator("main h1").inner_text().startswith("添加")


def test_retracting_a_unit_asks_for_a_comment_and_a_confirmation(page: Any, visit_checks: VisitChecks,
                                                                portal_server: PortalServer) -> None:
    from portal import content
    from portal.cli import app_request
    from portal.models import Unit

    with app_request(portal_server.app.registry) as request:
        unit = request.dbsession.scalar(select(Unit).where(Unit.title == "柳林乡"))
        path = unit.path
        news = content.create(request, unit.get("xwdt"), "News", {"title": "柳林乡春耕生产动员会"},
                              unrestricted=True)
        content.set_state(request, news, "published", "publish")
    try:
        log_in(page, "manager")
        page.goto(path)
        with page.expect_navigation():
            page.locator(".toolbar button[value=retract]").click()
        warning = page.locator(".offline-warning")
        assert "个公开内容将无法访问" in warning.inner_text()
        assert "柳林乡春耕生产动员会" in warning.locator(".offline-examples").inner_text()
        visit_checks(page, "retract-confirmation")
        with page.expect_navigation():  # the browser's own check: the comment is required
            page.evaluate("document.querySelector('#transition-comment').removeAttribute('required')")
            page.locator("main form button[type=submit]").click()
        assert "请在备注中说明原因" in page.locator("main").inner_text()
        page.fill("#transition-comment", "乡镇机构调整，子站暂停")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        assert page.url.rstrip("/").endswith(path.rstrip("/"))
        assert "未提交" in page.locator(".toolbar .state").inner_text()  # the private state
        visit_checks(page, "retracted")
    finally:
        with app_request(portal_server.app.registry) as request:
            unit = request.dbsession.scalar(select(Unit).where(Unit.title == "柳林乡"))
            if unit.state != "published":
                content.set_state(request, unit, "published", "publish")

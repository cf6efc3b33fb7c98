"""The add and edit forms in a real browser: deform's scripts and styles load (jQuery, deform.js, the
widgets' files), so the attachment list grows when "添加附件" is clicked and the rich-text field is
TinyMCE in Chinese, whose paragraphs are stored as typed; nothing fails and the
Content-Security-Policy reports no violation."""
from __future__ import annotations

import re
from typing import Any

import lxml.html
from sqlalchemy import select

from tests.browser.conftest import PageLog, PortalServer, log_in

TOWN = "/huangmeizhen/"
ADD_DISCLOSURE = f"{TOWN}@@add?type=Disclosure"


def open_form(page: Any, url: str = ADD_DISCLOSURE) -> None:
    """Open a form as the editor and wait until the rich-text editor has started."""
    log_in(page, "editor")
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_selector(".tox-tinymce", timeout=15_000)


def assert_clean(page_log: PageLog) -> None:
    assert page_log.failed_requests == []
    assert page_log.console_errors == []
    assert page_log.page_errors == []
    assert page_log.csp_violations == []


def test_the_disclosure_form_loads_without_errors(page: Any, page_log: PageLog) -> None:
    open_form(page)
    assert page.evaluate("() => typeof jQuery === 'function' && typeof deform === 'object'")
    assert_clean(page_log)


def test_add_attachment_adds_a_file_input(page: Any, page_log: PageLog) -> None:
    open_form(page)
    files = page.locator(".deform-seq input[type=file]")
    start = files.count()  # deform 3 shows no empty item at first (SequenceWidget has no default_items)
    for added in (1, 2):
        page.get_by_text("添加附件").click()
        files.nth(start + added - 1).wait_for(state="attached", timeout=5_000)
        assert files.count() == start + added
    assert_clean(page_log)


def test_the_rich_text_editor_speaks_chinese(page: Any, page_log: PageLog) -> None:
    open_form(page)
    editor = page.locator(".tox-tinymce")
    assert editor.locator("iframe").count() == 1
    assert editor.locator(".tox-toolbar__primary, .tox-toolbar").count() >= 1
    labels = editor.locator("button[aria-label]").evaluate_all("(buttons) => buttons.map(b => b.ariaLabel)")
    for chinese in ("撤销", "粗体", "斜体", "无序列表", "有序列表", "插入/编辑链接", "插入/编辑图片", "表格"):
        assert any(chinese in label for label in labels), (chinese, labels)
    assert editor.locator(".tox-tbtn__select-label").first.inner_text() == "段落"  # the block format list
    assert_clean(page_log)


def test_two_typed_paragraphs_are_stored_as_two(page: Any, page_log: PageLog, portal_server: PortalServer) -> None:
    from content_types.disclosure import Disclosure

    open_form(page)
    page.fill("input[name=title]", "浏览器里写的通知")
    page.select_option("select[name=subject]", index=1)
    page.select_option("select[name=genre]", index=1)
    body = page.frame_locator(".tox-tinymce iframe").locator("body")
    body.click()
    page.keyboard.type("第一段内容。")
    page.keyboard.press("Enter")
    page.keyboard.type("第二段内容。")
    with page.expect_navigation():
        page.locator("#content-formsave").click()
    assert "@@add" not in page.url, lxml.html.fromstring(page.content()).text_content()[:500]
    with portal_server.transaction() as session:
        stored = session.scalar(select(Disclosure.body).where(Disclosure.title == "浏览器里写的通知"))
    assert re.findall(r"<p>(.*?)</p>", stored) == ["第一段内容。", "第二段内容。"], stored
    assert "第二段内容。" in page.content()
    assert_clean(page_log)

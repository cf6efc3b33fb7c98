"""The add and edit forms in a real browser: deform's scripts and styles load (jQuery, deform.js, the
widgets' files) and the rich-text field is TinyMCE in Chinese, whose paragraphs are stored as typed;
nothing fails and the Content-Security-Policy reports no violation. The forms people use all day:
several attachments chosen at once, each with its title, kept when another field is refused; a file
over the limit refused in Chinese with nothing stored; every field labelled (dates and times too,
checked with axe-core where npm can install it); the error summary focused; no sideways scrolling
at 375 px; a warning before leaving unsaved changes and a visible confirmation after saving.
The README's picture of the add form is taken here, into var/screenshots/ on every run; with
PORTAL_UPDATE_SCREENSHOTS=1 it is copied to docs/screenshots/add-form.png (tracked, so a test run
does not change the checkout by itself)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import lxml.html
from sqlalchemy import select

from tests.browser.conftest import PageLog, PortalServer, log_in

TOWN = "/huangmeizhen/"
ADD_DISCLOSURE = f"{TOWN}@@add?type=Disclosure"
ATTACHMENTS = {"实施方案.pdf": b"%PDF-1.4 the plan of the year", "名单.txt": "张三\n李四\n".encode()}
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
README_SCREENSHOT = ROOT / "docs" / "screenshots" / "add-form.png"


def write_files(folder: Path, files: dict[str, bytes]) -> list[str]:
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [str(folder / name) for name in files]


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


def test_choosing_two_files_offers_a_title_for_each(page: Any, page_log: PageLog, tmp_path: Path) -> None:
    open_form(page)
    files = page.locator("#content-form input[type=file]")
    assert files.count() == 1 and files.get_attribute("multiple") is not None
    limit = page.locator(".file-limit").inner_text()
    assert "2.0 MB" in limit  # the limit is stated before anything is chosen (tests.conftest: 2MB)
    files.set_input_files(write_files(tmp_path, ATTACHMENTS))
    titles = page.locator(".file-new input[name=title]")
    titles.nth(1).wait_for(state="visible", timeout=5_000)
    assert [titles.nth(n).input_value() for n in range(titles.count())] == ["实施方案", "名单"]
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


def test_the_image_dialog_offers_the_units_own_images(page: Any, page_log: PageLog, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    picture = tmp_path / "镇容镇貌.png"
    PILImage.new("RGB", (80, 60), (30, 120, 200)).save(picture, "PNG")
    log_in(page, "editor")
    page.goto(f"{TOWN}@@add?type=Image")
    page.fill("input[name=title]", "镇容镇貌（对话框）")
    page.locator("#content-form input[type=file]").set_input_files(str(picture))
    with page.expect_navigation():
        page.locator("#content-formsave").click()
    page.goto(ADD_DISCLOSURE)
    page.wait_for_selector(".tox-tinymce", timeout=15_000)
    page.locator(".tox-tinymce button[aria-label*='插入/编辑图片']").click()
    dialog = page.locator(".tox-dialog")
    dialog.wait_for(state="visible", timeout=5_000)
    chooser = dialog.locator(".tox-listboxfield button")
    chooser.click()
    entry = page.locator(".tox-collection__item", has_text="镇容镇貌（对话框）")
    entry.first.click()
    source = dialog.locator("input.tox-textfield").first.input_value()
    assert source.endswith("/@@images/image/large") and "/huangmeizhen/" in source, source
    assert_clean(page_log)


def fill_required(page: Any, title: str) -> None:
    page.fill("input[name=title]", title)
    page.select_option("select[name=subject]", index=1)
    page.select_option("select[name=genre]", index=1)


def save(page: Any) -> None:
    with page.expect_navigation():
        page.locator("#content-formsave").click()


def test_a_refused_form_keeps_the_chosen_files(page: Any, page_log: PageLog, portal_server: PortalServer,
                                               tmp_path: Path) -> None:
    """Two files chosen, the title forgotten: the error is summed up on top with the focus on it, the
    files are still there (nothing stored meanwhile), and the second save attaches both with their titles."""
    from content_types.disclosure import Disclosure

    open_form(page)
    fill_required(page, "")
    page.locator("#content-form input[type=file]").set_input_files(write_files(tmp_path, ATTACHMENTS))
    page.locator(".file-new input[name=title]").first.fill("二〇二六年实施方案")
    save(page)
    summary = page.locator(".error-summary")
    assert summary.is_visible() and "标题" in summary.inner_text()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert page.locator("#content-form .has-error input[name=title]").get_attribute("aria-invalid") == "true"
    kept = page.locator(".file-rows input[name=title]")
    assert [kept.nth(n).input_value() for n in range(kept.count())] == ["二〇二六年实施方案", "名单"]
    for data in ATTACHMENTS.values():  # the refused request stored no blob (its transaction was aborted)
        assert not portal_server.blobs.exists(hashlib.sha256(data).hexdigest())

    summary.locator("a").first.click()  # the link puts the cursor into the field
    assert page.evaluate("() => document.activeElement.name") == "title"
    page.keyboard.type("退回后补全的文件")
    save(page)
    assert "@@add" not in page.url
    assert page.locator(".flash[role=status]").is_visible()
    assert [a.strip() for a in page.locator("a[href*='@@download/attachments']").all_inner_texts()] == [
        "二〇二六年实施方案", "名单"]
    with portal_server.transaction() as session:
        doc = session.scalar(select(Disclosure).where(Disclosure.title == "退回后补全的文件"))
        stored = [(a["filename"], a["title"]) for a in doc.attachments]
    assert stored == [("实施方案.pdf", "二〇二六年实施方案"), ("名单.txt", "名单")]
    assert_clean(page_log)


def test_a_file_over_the_limit_is_refused_in_chinese_and_not_stored(page: Any, page_log: PageLog,
                                                                     portal_server: PortalServer,
                                                                     tmp_path: Path) -> None:
    open_form(page)
    fill_required(page, "超过上限")
    big = b"%PDF-1.4 " + b"0" * (2 * 1024 * 1024)
    page.locator("#content-form input[type=file]").set_input_files(write_files(tmp_path, {"大文件.pdf": big}))
    warning = page.locator(".file-new .invalid-feedback")
    assert "大文件.pdf" in warning.inner_text() and "2.0 MB" in warning.inner_text()  # said before sending
    page_log.clear()
    save(page)
    refused = page.locator(".file-refused")
    assert "文件大小超过 2.0 MB 的上限" in refused.inner_text() and "大文件.pdf" in refused.inner_text()
    assert "附件" in page.locator(".error-summary").inner_text()
    assert not portal_server.blobs.exists(hashlib.sha256(big).hexdigest())
    stash = portal_server.blobs.root / "stash"
    assert not any(p.stat().st_size >= len(big) for p in stash.glob("*")) if stash.exists() else True
    with portal_server.transaction() as session:
        from content_types.disclosure import Disclosure
        assert session.scalar(select(Disclosure).where(Disclosure.title == "超过上限")) is None
    assert page_log.page_errors == [] and page_log.csp_violations == []


def unlabelled_fields(page: Any) -> list[str]:
    """Every visible input, select and textarea without an accessible name from a label."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '#content-form input:not([type=hidden]), #content-form select, #content-form textarea'))
      .filter(el => el.offsetParent !== null)
      .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !(el.getAttribute('aria-labelledby') || '').split(' ').some(id => id && document.getElementById(id)))
      .map(el => el.outerHTML.slice(0, 120))""")


def axe_or_none() -> Any:
    """tests/browser/axe.py's checker, or None where axe-core cannot be installed (no npm)."""
    try:
        from tests.browser import axe
        axe.ensure_axe()
    except (ImportError, RuntimeError):
        return None
    return axe


def test_every_field_has_a_label_dates_and_times_included(page: Any, page_log: PageLog, tmp_path: Path) -> None:
    open_form(page)
    page.locator("#content-form input[type=file]").set_input_files(write_files(tmp_path, ATTACHMENTS))
    assert page.locator("input[type=date]").count() >= 3 and page.locator("input[type=time]").count() >= 2
    assert unlabelled_fields(page) == []
    names = page.evaluate("""() => Array.from(document.querySelectorAll('input[type=time]')).map(el =>
        el.getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id).textContent.trim()).join(' '))""")
    assert names == ["生效时间 时间", "失效时间 时间"], names
    axe = axe_or_none()
    if axe is not None:
        violations = axe.axe_violations(page)
        assert not violations, axe.format_violations(violations, page.url)
    save(page)  # refused (no title): the error state is labelled too
    assert page.locator(".error-summary").is_visible()
    assert unlabelled_fields(page) == []
    if axe is not None:
        violations = axe.axe_violations(page)
        assert not violations, axe.format_violations(violations, page.url)


def test_the_form_fits_a_phone(browser: Any, portal_server: PortalServer, tmp_path: Path) -> None:
    context = browser.new_context(base_url=portal_server.base_url, locale="zh-CN",
                                  viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        open_form(page)
        page.locator("#content-form input[type=file]").set_input_files(write_files(tmp_path, ATTACHMENTS))
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 375
        save(page)  # the refused form, with its summary, errors and kept files
        assert page.locator(".error-summary").is_visible() and page.locator(".file-rows li").count() == 2
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 375
        width = page.evaluate("() => document.querySelector('input[name=title]').getBoundingClientRect().width")
        assert width > 250  # the fields use the width there is
    finally:
        context.close()


def beforeunload_asked(page: Any) -> bool:
    """Close the page as a person closing the tab: whether the browser asked to leave first."""
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    waiter = page.context.new_page()  # waits on the driver's events while `page` may be gone
    page.close(run_before_unload=True)
    for _ in range(30):
        if asked or page.is_closed():
            break
        waiter.wait_for_timeout(100)
    waiter.close()
    return "beforeunload" in asked


def test_leaving_a_changed_form_asks_first(context: Any, page: Any) -> None:
    open_form(page)
    page.locator("input[name=title]").click()
    page.keyboard.type("还没保存")
    assert beforeunload_asked(page)

    untouched = context.new_page()
    untouched.goto(ADD_DISCLOSURE)
    untouched.wait_for_selector(".tox-tinymce", timeout=15_000)
    untouched.locator("input[name=title]").click()  # a click is no change
    assert not beforeunload_asked(untouched)
    assert untouched.is_closed()

    typed = context.new_page()  # a change in the rich-text editor counts too
    typed.goto(ADD_DISCLOSURE)
    typed.wait_for_selector(".tox-tinymce", timeout=15_000)
    typed.frame_locator(".tox-tinymce iframe").locator("body").click()
    typed.keyboard.type("正文")
    assert beforeunload_asked(typed)


def test_saving_asks_nothing_and_says_it_saved(page: Any, page_log: PageLog) -> None:
    open_form(page)
    fill_required(page, "保存提示")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    save(page)
    item_url = page.url
    assert "@@add" not in item_url and asked == []
    page.goto(item_url + "@@edit")
    page.wait_for_selector(".tox-tinymce", timeout=15_000)
    page.locator("input[name=title]").fill("保存提示（改）")
    save(page)
    assert page.url == item_url and asked == []  # back on the item
    flash = page.locator(".flash[role=status]")
    assert flash.is_visible() and "已保存" in flash.inner_text()
    assert page.locator("h1").first.inner_text() == "保存提示（改）"
    assert_clean(page_log)


def test_screenshot_of_the_add_form(browser: Any, portal_server: PortalServer, tmp_path: Path) -> None:
    """The README's picture: the form at 1366x900, two files chosen."""
    context = browser.new_context(base_url=portal_server.base_url, locale="zh-CN",
                                  viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        open_form(page)
        page.fill("input[name=title]", "黄梅镇2026年春耕生产工作实施方案")
        page.fill("input[name=doc_number]", "梅镇发〔2026〕3号")
        page.select_option("select[name=subject]", label="农业、林业、水利")
        page.select_option("select[name=genre]", label="通知")
        page.locator("#content-form input[type=file]").set_input_files(
            write_files(tmp_path, {"春耕生产实施方案.pdf": b"%PDF-1.4 plan" * 3000, "各村任务分解表.xlsx": b"x" * 18000}))
        page.fill("textarea[name=description]", "做好2026年春耕生产各项工作的安排。")
        page.frame_locator(".tox-tinymce iframe").locator("body").click()
        page.keyboard.type("各村（社区）：")
        page.keyboard.press("Enter")
        page.keyboard.type("为切实做好今年春耕生产工作，现将实施方案印发给你们，请结合实际认真贯彻落实。")
        page.locator("input[name=keywords]").click()  # out of the editor: its toolbar at rest
        # the view: from the body's label down through the attachments to the save button
        page.evaluate("""() => window.scrollTo(0, document.querySelector('.deform-form-buttons')
                                                    .getBoundingClientRect().bottom + window.scrollY - 895)""")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "add-form.png"))
        assert (SCREENSHOTS / "add-form.png").stat().st_size > 10_000
        if os.environ.get("PORTAL_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(SCREENSHOTS / "add-form.png", README_SCREENSHOT)
    finally:
        context.close()

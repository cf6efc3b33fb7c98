"""The whole life of a 政府信息公开 document, as its people do it in Chromium.

An editor of 黄梅镇 writes one (rich text typed in TinyMCE: two paragraphs and a list; two
attachments) in the unit's 信息公开 column and submits it; the reviewer finds it in the review queue
and sends it back with a reason; the editor sees 已退回 with the reason on the item and in 我的内容,
fixes it and submits again; the reviewer publishes; a visitor opens it, downloads both attachments
(the bytes that were uploaded), and finds it in search and in the 信息公开目录, county-wide and the
unit's. Every page on the way goes through `visit_checks` (screenshots, axe-core, no console error
and no failed request: tests/browser/conftest.py).

The steps are small functions so that a change of a screen is mended in one place.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import select

from tests.browser.conftest import PortalServer, VisitChecks, log_in

UNIT = "黄梅镇"
UNIT_PATH = "/huangmeizhen/"
DISCLOSURE_COLUMN_KIND = "信息公开"
DISCLOSURE_COLUMN = "政府信息公开"
TITLE = "黄梅镇二〇二六年防汛抗旱工作方案（征求意见稿）"
FIXED_TITLE = "黄梅镇二〇二六年防汛抗旱工作方案"
SEARCH_WORD = "防汛抗旱"
PARAGRAPHS = ("为切实做好本镇防汛抗旱工作，制定本方案。", "各村（社区）要落实责任，加强巡查。")
LIST_ITEMS = ("成立防汛抗旱指挥部", "储备防汛物资")
REASON = "请补充文号，并写明物资储备地点。"
DOC_NUMBER = "黄政发〔2026〕3号"
ATTACHMENT_TITLES = {"方案全文.pdf": "防汛抗旱工作方案全文", "物资清单.csv": "防汛物资储备清单"}
ATTACHMENTS = {
    "方案全文.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "物资清单.csv": "物资,数量,储备地点\n编织袋,5000,镇防汛仓库\n救生衣,120,镇防汛仓库\n".encode(),
}


# -- where things are ------------------------------------------------------------------------------

def disclosure_container(server: PortalServer) -> str:
    """Where the editor adds a disclosure document: the unit's 政府信息公开 column (a 信息公开
    column; the annual reports' column 政府信息公开年度报告 is one too), or the unit itself when
    units have no such column."""
    from portal.models import Node, Unit

    with server.transaction() as session:
        unit = session.scalar(select(Unit).where(Unit.title == UNIT))
        for child in session.scalars(select(Node).where(Node.parent_id == unit.id).order_by(Node.position)):
            if getattr(child, "column_kind", None) == DISCLOSURE_COLUMN_KIND and child.title == DISCLOSURE_COLUMN:
                return child.path
        return unit.path


def item_path(page: Any) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]


# -- the editor ----------------------------------------------------------------------------------

def open_add_form(page: Any, container: str) -> None:
    page.goto(f"{container}@@add?type=Disclosure")
    page.wait_for_selector(".tox-tinymce", timeout=15_000)


def type_rich_text(page: Any) -> None:
    """Two paragraphs and a bulleted list, typed as a person types them."""
    body = page.frame_locator(".tox-tinymce iframe").locator("body")
    body.click()
    for paragraph in PARAGRAPHS:
        page.keyboard.type(paragraph)
        page.keyboard.press("Enter")
    page.locator(".tox-tinymce button[aria-label*='无序列表']").first.click()
    for n, item in enumerate(LIST_ITEMS):
        if n:
            page.keyboard.press("Enter")
        page.keyboard.type(item)


def attachment_files(tmp_path: Path) -> list[Path]:
    paths = []
    for name, data in ATTACHMENTS.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def choose_attachments(page: Any, files: list[Path]) -> None:
    """Choose the files in the attachments field, all at once where the input takes several (then
    give each its title in the fields the form adds for them), else one 添加附件 item per file."""
    inputs = page.locator("form#content-form input[type=file]")
    if inputs.count() and inputs.first.get_attribute("multiple") is not None:
        inputs.first.set_input_files([str(f) for f in files])
        titles = page.locator(".file-new input[type=text]")
        titles.nth(len(files) - 1).wait_for(state="visible", timeout=5_000)
        assert titles.count() == len(files)
        for n, f in enumerate(files):
            titles.nth(n).fill(ATTACHMENT_TITLES[f.name])
        return
    for f in files:
        empty = [i for i in range(inputs.count()) if not inputs.nth(i).input_value()]
        if not empty:
            before = inputs.count()
            page.get_by_text("添加附件").click()
            inputs.nth(before).wait_for(state="attached", timeout=5_000)
            empty = [before]
        inputs.nth(empty[0]).set_input_files(str(f))


def fill_disclosure(page: Any, files: list[Path]) -> None:
    page.fill("input[name=title]", TITLE)
    page.select_option("select[name=subject]", index=1)
    page.select_option("select[name=genre]", index=1)
    type_rich_text(page)
    choose_attachments(page, files)


def save_form(page: Any) -> None:
    with page.expect_navigation():
        page.locator("#content-formsave").click()
    errors = page.locator(".error, .has-error, .alert-danger").all_inner_texts()
    assert "@@add" not in page.url and "@@edit" not in page.url, f"the form was refused: {errors}"


def run_transition(page: Any, name: str, comment: str = "") -> None:
    """A workflow button of the item's toolbar (提交审核, 发布, 退回...), with its comment."""
    form = page.locator(f"form:has(button[name=transition][value={name}])")
    if comment:
        form.locator("[name=comment]").fill(comment)
    with page.expect_navigation():
        form.locator(f"button[name=transition][value={name}]").click()


def state_text(page: Any) -> str:
    return page.locator(".toolbar .state").inner_text()


# -- the reviewer --------------------------------------------------------------------------------

def open_from_review_queue(page: Any, checks: VisitChecks, title: str) -> None:
    page.goto("/@@review-queue")
    checks(page, "review-queue")
    link = page.locator("main table a", has_text=title)
    assert link.count() == 1, page.locator("main").inner_text()
    with page.expect_navigation():
        link.click()
    checks(page, "review-item")


# -- the visitor ---------------------------------------------------------------------------------

def download_attachments(page: Any) -> dict[str, bytes]:
    """Each attachment link's file, by the name the response gives it. Fetched with the page's own
    cookies rather than clicked: a PDF opens in the browser's viewer instead of downloading."""
    got = {}
    for href in page.locator("a[href*='@@download/attachments']").evaluate_all("(ls) => ls.map(a => a.href)"):
        response = page.request.get(href)
        assert response.status == 200, (href, response.status)
        disposition = response.headers["content-disposition"]
        name = unquote(disposition.split("filename*=UTF-8''")[1].split(";")[0])
        got[name] = response.body()
    return got


def assert_listed(page: Any, path: str) -> None:
    hrefs = page.locator("main a").evaluate_all("(links) => links.map(a => new URL(a.href).pathname)")
    assert path in hrefs, (path, page.locator("main").inner_text()[:1000])


# -- the flow ------------------------------------------------------------------------------------

def test_a_disclosure_document_from_draft_to_the_public(page: Any, visit_checks: VisitChecks,
                                                       portal_server: PortalServer, tmp_path: Path) -> None:
    checks, editor = visit_checks, page
    files = attachment_files(tmp_path)
    container = disclosure_container(portal_server)

    log_in(editor, "editor")
    editor.goto(UNIT_PATH)
    checks(editor, "editor-unit-home")
    open_add_form(editor, container)
    checks(editor, "add-form")
    fill_disclosure(editor, files)
    checks(editor, "add-form-filled")
    save_form(editor)
    item = item_path(editor)
    assert item.startswith(container), (item, container)
    checks(editor, "created")
    body = editor.locator("main .body")
    assert [p.strip() for p in body.locator("p").all_inner_texts()] == list(PARAGRAPHS)
    assert [li.strip() for li in body.locator("ul > li").all_inner_texts()] == list(LIST_ITEMS)
    assert editor.locator("a[href*='@@download/attachments']").all_inner_texts() == list(ATTACHMENT_TITLES.values())
    run_transition(editor, "submit")
    assert "待审核" in state_text(editor)
    checks(editor, "submitted")

    reviewer = checks.new_page("reviewer")
    open_from_review_queue(reviewer, checks, TITLE)
    run_transition(reviewer, "reject", REASON)
    checks(reviewer, "rejected")

    editor.goto(item)
    banner = editor.locator(".rejection")
    assert "已退回" in banner.inner_text() and REASON in banner.inner_text(), editor.locator("main").inner_text()
    assert "县政府办审核员" in banner.inner_text()
    assert "已退回" in state_text(editor)
    checks(editor, "editor-sees-rejection")
    editor.goto("/@@my-items")
    row = editor.locator("main tr", has_text=TITLE)
    assert "已退回" in row.inner_text() and REASON in row.inner_text(), row.inner_text()
    checks(editor, "my-items-rejected")

    editor.goto(f"{item}@@edit")
    editor.wait_for_selector(".tox-tinymce", timeout=15_000)
    checks(editor, "edit-form")
    editor.fill("input[name=title]", FIXED_TITLE)
    editor.fill("input[name=doc_number]", DOC_NUMBER)
    save_form(editor)
    assert item_path(editor) == item
    checks(editor, "fixed")
    run_transition(editor, "submit")
    assert editor.locator(".rejection").count() == 0
    checks(editor, "resubmitted")
    editor.goto("/@@my-items")
    row = editor.locator("main tr", has_text=FIXED_TITLE)
    assert "已退回" not in row.inner_text() and "待审核" in row.inner_text(), row.inner_text()

    open_from_review_queue(reviewer, checks, FIXED_TITLE)
    run_transition(reviewer, "publish")
    assert "已发布" in state_text(reviewer)
    checks(reviewer, "published")

    visitor = checks.new_page(None)
    visitor.goto(item)
    assert visitor.locator("h1").inner_text() == FIXED_TITLE
    assert DOC_NUMBER in visitor.locator("main").inner_text()
    checks(visitor, "visitor-item")
    assert download_attachments(visitor) == ATTACHMENTS
    checks(visitor, "visitor-downloaded", axe=False)

    visitor.goto(f"/@@search?q={SEARCH_WORD}")
    assert_listed(visitor, item)
    checks(visitor, "visitor-search")
    visitor.goto("/@@xxgk")
    assert_listed(visitor, item)
    checks(visitor, "visitor-xxgk")
    visitor.goto(f"{UNIT_PATH}@@xxgk")
    assert_listed(visitor, item)
    checks(visitor, "visitor-unit-xxgk")


# -- the checks themselves fail when they should -------------------------------------------------

def test_axe_fails_on_a_page_with_violations(page: Any, axe_installed: Path) -> None:
    from tests.browser.axe import check_axe

    page.set_content('<html lang="zh-CN"><title>t</title><main><img src="data:,">'
                     '<input type="text" name="q"></main></html>')
    try:
        check_axe(page, "a bad page")
    except AssertionError as exc:
        assert "image-alt (critical)" in str(exc) and "label (critical)" in str(exc), str(exc)
        assert 'input[type="text"]' in str(exc) or "input" in str(exc)
    else:
        raise AssertionError("axe found nothing wrong in an image without alt and an input without label")


def test_a_missing_asset_fails_the_visit(page: Any, visit_checks: VisitChecks) -> None:
    page.goto("/")
    page.evaluate("""() => new Promise((done) => {
        const link = Object.assign(document.createElement('link'), {rel: 'stylesheet', href: '/static-missing.css'});
        link.onerror = link.onload = done;
        document.head.append(link);
    })""")
    try:
        visit_checks(page, "missing-asset", axe=False)
    except AssertionError as exc:
        assert "/static-missing.css" in str(exc), str(exc)
    else:
        raise AssertionError("a stylesheet answered 404 and the visit passed")

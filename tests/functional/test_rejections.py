"""A rejected item says so: 我的内容 and the item page show 已退回 (or that a change of a published
item was rejected) with the reviewer's reason, name and time, to the people who may see its history,
until the editor submits it again (or makes a new change)."""
from __future__ import annotations

import lxml.html
import pytest

from tests.conftest import login
from tests.functional.test_editing import edit
from tests.functional.test_workflow_pages import (  # noqa: F401 -- fixtures
    new_page, pending_page, published_page, transition)

REASON = "请补充发文日期"


@pytest.fixture
def reviewer_named(users, dbsession):
    users["reviewer"].fullname = "审核员王芳"
    dbsession.flush()
    return users["reviewer"]


def my_items_row(testapp, title: str) -> str:
    doc = lxml.html.fromstring(testapp.get("/@@my-items").text)
    rows = [r for r in doc.xpath('//table[contains(@class, "listing")]/tbody/tr')
            if r.xpath("./td")[0].text_content().strip() == title]
    assert len(rows) == 1, title
    return " ".join(rows[0].text_content().split())


def banner(res) -> str:
    found = lxml.html.fromstring(res.text).xpath('//*[contains(@class, "rejection")]')
    return " ".join(found[0].text_content().split()) if found else ""


def test_rejected_item_shows_rejected_with_reason_until_resubmitted(testapp, dbsession, pending_page,
                                                                     reviewer_named):
    token = login(testapp, "reviewer")
    transition(testapp, token, pending_page, "reject", comment=REASON)
    token = login(testapp, "editor")
    row = my_items_row(testapp, pending_page.title)
    assert "已退回" in row and REASON in row and "审核员王芳" in row
    assert "未提交" not in row and "reviewer" not in row
    shown = banner(testapp.get(pending_page.path))
    assert "已退回" in shown and REASON in shown and "审核员王芳" in shown

    transition(testapp, token, pending_page, "submit")
    row = my_items_row(testapp, pending_page.title)
    assert "已退回" not in row and REASON not in row
    assert banner(testapp.get(pending_page.path)) == ""


def test_reviewer_without_full_name_is_shown_by_login(testapp, dbsession, pending_page):
    token = login(testapp, "reviewer")
    transition(testapp, token, pending_page, "reject", comment=REASON)
    login(testapp, "editor")
    assert "reviewer" in banner(testapp.get(pending_page.path))


def test_rejected_change_of_published_item_is_shown(testapp, dbsession, published_page, reviewer_named):
    token = login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    assert published_page.draft is not None
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "reject", comment="标题不规范")
    login(testapp, "editor")
    row = my_items_row(testapp, published_page.title)
    assert "修改已退回" in row and "标题不规范" in row and "审核员王芳" in row
    shown = banner(testapp.get(published_page.path))
    assert "修改已退回" in shown and "标题不规范" in shown

    # the public sees the published page, not the reviewers' comments
    testapp.reset()
    assert banner(testapp.get(published_page.path)) == ""
    # a new change waits for review: the old rejection is over
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "更新的标题"})
    assert banner(testapp.get(published_page.path)) == ""
    assert "修改已退回" not in my_items_row(testapp, published_page.title)


def test_rejection_is_not_shown_to_those_without_history(testapp, dbsession, published_page, reviewer_named):
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "reject", comment="标题不规范")
    login(testapp, "other-editor")
    assert banner(testapp.get(published_page.path)) == ""

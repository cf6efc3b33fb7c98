"""The publication workflow through the pages: submit, the review queue, my items, reject, publish,
retract, effective and expiry dates, and changes of published items that wait for review."""
from __future__ import annotations

import datetime as dt

import lxml.html
import pytest
from sqlalchemy import select

from portal.models import Node, WorkflowEvent
from portal.models.node import utcnow
from tests.conftest import csrf_token, login, unit
from tests.functional.test_editing import add_item, edit

TOWN = "黄梅镇"


def transition(testapp, token, node, name, comment=None, status=302):
    data = {"csrf_token": token, "transition": name}
    if comment is not None:
        data["comment"] = comment
    return testapp.post(f"{node.path}@@transition", data, status=status)


def new_page(testapp, dbsession, title="工作动态", body="<p>正文</p>"):
    """A page in 黄梅镇 added by the editor (who must be logged in)."""
    return add_item(testapp, dbsession, unit(dbsession, TOWN).path, "Page", {"title": title, "body": body})


def queue_rows(res) -> list[list[lxml.html.HtmlElement]]:
    doc = lxml.html.fromstring(res.text)
    return [row.xpath("./td") for row in doc.xpath('//table[contains(@class, "listing")]/tbody/tr')]


def queue_titles(res) -> list[str]:
    return [cells[0].text_content().strip() for cells in queue_rows(res)]


def events(dbsession, node) -> list[WorkflowEvent]:
    return list(dbsession.scalars(select(WorkflowEvent).where(WorkflowEvent.node_id == node.id)
                                  .order_by(WorkflowEvent.id)))


@pytest.fixture
def pending_page(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = new_page(testapp, dbsession)
    transition(testapp, token, page, "submit")
    return page


@pytest.fixture
def published_page(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = new_page(testapp, dbsession, title="旧标题")
    transition(testapp, token, page, "submit")
    token = login(testapp, "reviewer")
    transition(testapp, token, page, "publish")
    assert page.state == "published"
    return page


# -- submit, queue, my items ----------------------------------------------------------------------

def test_editor_submits_for_review(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = new_page(testapp, dbsession)
    assert page.state == "private"
    res = transition(testapp, token, page, "submit")
    assert res.location == f"http://example.com{page.path}"
    assert page.state == "pending"
    [event] = events(dbsession, page)
    assert (event.transition, event.from_state, event.to_state, event.actor) == ("submit", "private", "pending",
                                                                                  "editor")
    # pending: the editor may no longer edit it
    testapp.get(f"{page.path}@@edit", status=403)
    testapp.get(page.path, status=200)


def test_editor_cannot_publish(testapp, dbsession, pending_page):
    token = login(testapp, "editor")
    res = transition(testapp, token, pending_page, "publish", status="*")
    assert res.status_int in (302, 403)
    assert pending_page.state == "pending"
    assert pending_page.published is None


def test_unknown_transition_changes_nothing(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = new_page(testapp, dbsession)
    transition(testapp, token, page, "publish")  # not available from private: refused with a message
    transition(testapp, token, page, "fly")
    assert page.state == "private"
    assert events(dbsession, page) == []


def test_anonymous_cannot_run_transitions(testapp, dbsession, pending_page):
    testapp.reset()
    page = testapp.get("/@@login")
    transition(testapp, csrf_token(page), pending_page, "publish", status=404)  # private to them: missing
    assert pending_page.state == "pending"


def test_review_queue_shows_pending_items_with_unit_and_waiting_time(testapp, dbsession, pending_page):
    login(testapp, "reviewer")
    res = testapp.get("/@@review-queue")
    rows = queue_rows(res)
    assert len(rows) == 1
    cells = rows[0]
    link = cells[0].xpath(".//a")[0]
    assert link.get("href") == f"http://example.com{pending_page.path}"
    assert link.text_content().strip() == pending_page.title
    assert cells[1].text_content().strip() == TOWN
    assert cells[4].text_content().strip()  # waiting since
    assert any(ch.isdigit() for ch in cells[5].text_content())  # waited


def test_review_queue_is_oldest_first_with_the_waited_time(testapp, dbsession, users):
    token = login(testapp, "editor")
    pages = [new_page(testapp, dbsession, title=t) for t in ("第一篇", "第二篇", "第三篇")]
    for page in pages:
        transition(testapp, token, page, "submit")
    now = utcnow()
    ages = {"第一篇": dt.timedelta(hours=5), "第二篇": dt.timedelta(days=2, hours=3), "第三篇": dt.timedelta(days=1)}
    for page in pages:
        for event in events(dbsession, page):
            event.at = now - ages[page.title]
    dbsession.flush()
    login(testapp, "reviewer")
    res = testapp.get("/@@review-queue")
    assert queue_titles(res) == ["第二篇", "第三篇", "第一篇"]
    waited = [cells[5].text_content() for cells in queue_rows(res)]
    assert "2" in waited[0] and "3" in waited[0]  # 2 days 3 hours
    assert "5" in waited[2]  # 5 hours


def test_review_queue_is_for_reviewers(testapp, dbsession, pending_page):
    login(testapp, "editor")
    testapp.get("/@@review-queue", status=403)
    testapp.reset()
    res = testapp.get("/@@review-queue", status=302)
    assert "@@login" in res.location


def test_my_items_lists_the_editors_items_with_their_state(testapp, dbsession, pending_page):
    login(testapp, "editor")
    res = testapp.get("/@@my-items")
    doc = lxml.html.fromstring(res.text)
    links = [a.get("href") for a in doc.xpath('//table[contains(@class, "listing")]//a')]
    assert f"http://example.com{pending_page.path}" in links
    row = doc.xpath(f'//a[@href="http://example.com{pending_page.path}"]/ancestor::tr')[0]
    assert row.xpath('.//span[contains(@class, "state-pending")]')
    login(testapp, "other-editor")
    res = testapp.get("/@@my-items")
    assert pending_page.path not in res.text


def test_my_items_needs_a_login(testapp):
    res = testapp.get("/@@my-items", status=302)
    assert "@@login" in res.location


# -- reject and publish ---------------------------------------------------------------------------

def test_reject_without_comment_is_refused(testapp, dbsession, pending_page):
    token = login(testapp, "reviewer")
    transition(testapp, token, pending_page, "reject")
    transition(testapp, token, pending_page, "reject", comment="   ")
    assert pending_page.state == "pending"
    assert [e.transition for e in events(dbsession, pending_page)] == ["submit"]


def test_reject_with_comment_returns_to_private_and_shows_in_history(testapp, dbsession, pending_page):
    token = login(testapp, "reviewer")
    transition(testapp, token, pending_page, "reject", comment="请补充发文日期")
    assert pending_page.state == "private"
    assert events(dbsession, pending_page)[-1].comment == "请补充发文日期"
    assert "请补充发文日期" in testapp.get(f"{pending_page.path}@@history").text
    login(testapp, "editor")  # the editor sees why, and may edit again
    assert "请补充发文日期" in testapp.get(f"{pending_page.path}@@history").text
    testapp.get(f"{pending_page.path}@@edit", status=200)


def test_publish_sets_the_publication_date(testapp, dbsession, pending_page):
    token = login(testapp, "reviewer")
    before = utcnow()
    transition(testapp, token, pending_page, "publish")
    assert pending_page.state == "published"
    assert pending_page.published is not None and pending_page.published >= before - dt.timedelta(seconds=1)
    testapp.reset()
    res = testapp.get(pending_page.path, status=200)
    assert pending_page.title in res.text
    assert "正文" in res.text


def test_republish_after_retract_keeps_the_first_publication_date(testapp, dbsession, published_page):
    first = dt.datetime(2020, 1, 2, 3, 4, 5)
    published_page.published = first
    dbsession.flush()
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "retract")
    assert published_page.state == "private"
    testapp.reset()
    testapp.get(published_page.path, status=404)  # anonymous: as if it were not there
    token = login(testapp, "editor")
    transition(testapp, token, published_page, "submit")
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "publish")
    assert published_page.state == "published"
    assert published_page.published == first


# -- effective and expiry dates -------------------------------------------------------------------

@pytest.mark.parametrize("dates", [
    {"effective": dt.timedelta(days=1)},
    {"expires": -dt.timedelta(days=1)},
    {"effective": -dt.timedelta(days=3), "expires": -dt.timedelta(minutes=1)},
], ids=["future-effective", "expired", "window-over"])
def test_published_item_outside_its_dates_is_hidden_from_anonymous(testapp, dbsession, published_page, dates):
    now = utcnow()
    for name, delta in dates.items():
        setattr(published_page, name, now + delta)
    dbsession.flush()
    testapp.reset()
    testapp.get(published_page.path, status=404)  # as if it were not there (no login form)
    town = unit(dbsession, TOWN)
    assert published_page.title not in testapp.get(town.path).text
    assert published_page.path not in testapp.get("/").text
    login(testapp, "editor")
    assert published_page.title in testapp.get(published_page.path, status=200).text


def test_published_item_inside_its_dates_is_public(testapp, dbsession, published_page):
    now = utcnow()
    published_page.effective = now - dt.timedelta(days=1)
    published_page.expires = now + dt.timedelta(days=1)
    dbsession.flush()
    testapp.reset()
    testapp.get(published_page.path, status=200)
    assert published_page.title in testapp.get(unit(dbsession, TOWN).path).text


# -- changes of published items -------------------------------------------------------------------

def test_edit_of_published_item_waits_for_review(testapp, dbsession, published_page):
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    assert published_page.title == "旧标题"
    assert published_page.draft["title"] == "新标题"
    assert published_page.draft_by == "editor"
    assert published_page.state == "published"
    form = testapp.get(f"{published_page.path}@@edit").forms["content-form"]
    assert form["title"].value == "新标题"  # the editor goes on from the waiting change
    testapp.reset()
    res = testapp.get(published_page.path)
    assert "旧标题" in res.text and "新标题" not in res.text


def test_review_queue_shows_the_change_apart_from_new_items(testapp, dbsession, published_page):
    token = login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    new = new_page(testapp, dbsession, title="另一篇")
    transition(testapp, token, new, "submit")
    login(testapp, "reviewer")
    rows = {cells[0].text_content().strip(): cells for cells in queue_rows(testapp.get("/@@review-queue"))}
    # the queue lists the item under its current (public) title
    assert set(rows) == {"旧标题", "另一篇"}
    change_kind = rows["旧标题"][3].text_content().strip()
    new_kind = rows["另一篇"][3].text_content().strip()
    assert change_kind and new_kind and change_kind != new_kind
    assert rows["旧标题"][1].text_content().strip() == TOWN


def test_reviewer_publish_applies_the_change(testapp, dbsession, published_page):
    first = published_page.published
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题", "body": "<p>新正文</p>"})
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "publish")
    assert published_page.title == "新标题"
    assert published_page.body == "<p>新正文</p>"
    assert published_page.draft is None
    assert published_page.state == "published"
    assert published_page.published == first
    testapp.reset()
    res = testapp.get(published_page.path)
    assert "新标题" in res.text and "新正文" in res.text


def test_reject_of_a_change_needs_a_comment_and_discards_it(testapp, dbsession, published_page):
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, "reject")
    assert published_page.draft is not None
    transition(testapp, token, published_page, "reject", comment="标题不规范")
    assert published_page.draft is None
    assert published_page.title == "旧标题"
    assert published_page.state == "published"
    assert events(dbsession, published_page)[-1].comment == "标题不规范"
    testapp.reset()
    assert "旧标题" in testapp.get(published_page.path).text
    login(testapp, "editor")
    form = testapp.get(f"{published_page.path}@@edit").forms["content-form"]
    assert form["title"].value == "旧标题"


def test_reviewer_edit_of_published_item_applies_at_once(testapp, dbsession, published_page):
    login(testapp, "manager")
    edit(testapp, published_page.path, {"title": "管理员改的"})
    assert published_page.title == "管理员改的"
    assert published_page.draft is None


@pytest.mark.parametrize("outcome", ["publish", "reject"])
def test_review_queue_still_works_after_a_change_is_decided(testapp, dbsession, published_page, outcome):
    """Regression: a decided change must leave SQL NULL in `draft` (not JSON null), or the queue lists
    the item with no draft_at and fails."""
    login(testapp, "editor")
    edit(testapp, published_page.path, {"title": "新标题"})
    token = login(testapp, "reviewer")
    transition(testapp, token, published_page, outcome, comment="决定")
    assert published_page.draft is None
    dbsession.flush()
    assert dbsession.scalar(select(Node.id).where(Node.id == published_page.id, Node.draft.is_(None)))
    res = testapp.get("/@@review-queue", status="*")
    assert res.status_int == 200
    assert queue_rows(res) == []

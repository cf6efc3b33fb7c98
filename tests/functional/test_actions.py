"""The action layer (portal.content) makes every decision about a change itself -- permission,
addability, names, versions, unique values, sanitising -- and pages and the API only translate its
errors; anything unexpected is a logged, themed 500 page without a traceback (JSON for the API)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from content_types.disclosure import Disclosure, DisclosureSerial
from content_types.disclosure_catalogue import GUIDE_NAME
from portal import content
from portal.content import Conflict, ContentError, Forbidden, Taken
from portal.models import Node, Revision, Unit
from portal.models.node import utcnow
from portal.sanitize import sanitize_html
from portal.units import ensure_root, load_units
from tests.conftest import api_token, login, unit
from tests.functional.test_editing import add, add_item, field_has_error, fill, node_at

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
DIRTY = f'<p onclick="alert(2)">正文{SCRIPT}</p>{IMG}<a href="javascript:alert(3)">链接</a>'


def revision_count(dbsession: Any, node: Node) -> int:
    return dbsession.scalar(select(func.count(Revision.id)).where(Revision.node_id == node.id))


def assert_clean(html: str) -> None:
    assert "<script" not in html and "onerror" not in html and "onclick" not in html and "javascript:" not in html


# -- who may: the action checks, whoever calls -------------------------------------------------------

def test_create_checks_the_add_permission(request_as, app, town, monkeypatch):
    with pytest.raises(Forbidden):
        content.create(request_as("other_editor"), town, "Page", {"title": "越权"})
    assert content.create(request_as("editor"), town, "Page", {"title": "本单位"}).owner == "editor"
    # the type's own add permission, not only `add`
    folder = app.registry["content_types"]["Folder"]
    monkeypatch.setitem(app.registry["content_types"], "Folder", dataclasses.replace(folder, add_permission="manage"))
    with pytest.raises(Forbidden) as refused:
        content.create(request_as("editor"), town, "Folder", {"title": "栏目", "column_kind": "动态"})
    assert refused.value.permission == "manage"
    content.create(request_as("manager"), town, "Folder", {"title": "栏目", "column_kind": "动态"})


def test_no_user_is_refused_unless_the_caller_says_unrestricted(app, tm, dbsession, town):
    from portal.cli import make_request

    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    with pytest.raises(Forbidden):
        content.create(request, town, "Page", {"title": "无人"})
    page = content.create(request, town, "Page", {"title": "无人"}, unrestricted=True)
    assert page.owner is None and page.state == "private"
    with pytest.raises(Forbidden):
        content.delete(request, page)
    content.delete(request, page, unrestricted=True)


@pytest.mark.parametrize("type_name", ["Unit", "Portal", "Nope", ""])
def test_create_refuses_types_that_cannot_be_added_here(request_as, town, type_name):
    with pytest.raises(ContentError) as refused:
        content.create(request_as("manager"), town, type_name, {"title": "x"})
    assert refused.value.field == "@type"


def test_create_checks_the_name(request_as, town):
    request = request_as("editor")
    content.create(request, town, "Page", {"title": "甲"}, name="jia")
    with pytest.raises(ContentError) as taken:
        content.create(request, town, "Page", {"title": "甲"}, name="jia")
    assert (taken.value.field, taken.value.message) == ("name", content.NAME_TAKEN)
    for bad in ("Jia", "jia\n", "-jia", "x" * 81):
        with pytest.raises(ContentError) as invalid:
            content.create(request, town, "Page", {"title": "甲"}, name=bad)
        assert (invalid.value.field, invalid.value.message) == ("name", content.INVALID_NAME)


def test_save_delete_move_and_rename_check_their_permissions(request_as, town):
    page = content.create(request_as("editor"), town, "Page", {"title": "本单位"})
    stranger = request_as("other_editor")
    for action in (lambda: content.save(stranger, page, {"title": "越权"}),
                   lambda: content.delete(stranger, page),
                   lambda: content.move(stranger, page, 0),
                   lambda: content.rename(stranger, page, "yuequan"),
                   lambda: content.transition(stranger, page, "submit")):
        with pytest.raises(Forbidden):
            action()
    assert page.title == "本单位" and page.parent is town and page.state == "private"


def test_transition_refuses_with_forbidden_not_permission_error(request_as, town):
    page = content.create(request_as("editor"), town, "Page", {"title": "待审"})
    content.transition(request_as("editor"), page, "submit")
    with pytest.raises(Forbidden) as refused:
        content.transition(request_as("editor"), page, "publish")
    assert refused.value.permission == "review"
    assert not isinstance(refused.value, PermissionError)
    content.transition(request_as("reviewer"), page, "publish")
    assert page.state == "published"


def test_save_checks_the_version(request_as, town):
    page = content.create(request_as("editor"), town, "Page", {"title": "第一版"})
    with pytest.raises(Conflict):
        content.save(request_as("editor"), page, {"title": "旧版"}, expected_version=page.version - 1)
    assert page.title == "第一版"


# -- a script's date of first publication ----------------------------------------------------------------

def test_a_script_may_publish_with_the_date_an_item_was_first_published(request_as, dbsession, town):
    request = request_as("manager")
    page = content.create(request, town, "Page", {"title": "2011年的旧文"})
    content.transition(request, page, "submit")
    before = utcnow()
    beijing = dt.timezone(dt.timedelta(hours=8))
    content.transition(request, page, "publish", "从旧网站迁移",
                       published_at=dt.datetime(2011, 10, 31, 9, 30, tzinfo=beijing))
    assert page.state == "published" and page.published == dt.datetime(2011, 10, 31, 1, 30)  # naive UTC
    (event,) = [e for e in content.history(request, page) if e.transition == "publish"]
    assert event.at >= before - dt.timedelta(seconds=1)  # the history says when it was done: now
    content.transition(request, page, "retract")
    content.transition(request, page, "submit")
    with pytest.raises(ValueError):  # published before: the first date stays
        content.transition(request, page, "publish", published_at=dt.datetime(2012, 1, 1))
    content.transition(request, page, "publish")
    assert page.published == dt.datetime(2011, 10, 31, 1, 30)


@pytest.mark.parametrize("transition, when", [
    ("submit", dt.datetime(2011, 10, 31)),  # only publishing dates an item
    ("publish", utcnow() + dt.timedelta(days=2)),  # not in the future
])
def test_a_publication_date_is_refused_where_it_means_nothing(request_as, town, transition, when):
    request = request_as("manager")
    page = content.create(request, town, "Page", {"title": "旧文"})
    if transition == "publish":
        content.transition(request, page, "submit")
    with pytest.raises(ValueError):
        content.transition(request, page, transition, published_at=when)
    assert page.published is None and page.state == ("private" if transition == "submit" else "pending")


def test_people_cannot_backdate_a_publication(testapp, request_as, town):
    """Only scripts pass a date: the transition form ignores one, the API refuses the key."""
    manager = request_as("manager")
    page, other = (content.create(manager, town, "Page", {"title": title}) for title in ("新文", "另一篇"))
    for node in (page, other):
        content.transition(manager, node, "submit")
    token = login(testapp, "reviewer")
    testapp.post(f"{page.path}@@transition", {"csrf_token": token, "transition": "publish",
                                               "published_at": "2011-10-31T09:30:00"}, status=302)
    assert page.state == "published" and page.published > dt.datetime(2020, 1, 1)  # when it was done
    res = testapp.post_json(f"{other.path}@workflow/publish", {"published_at": "2011-10-31T09:30:00"},
                            headers=api_token(testapp, "reviewer"), status=400)
    assert "published_at" in res.text and other.published is None


# -- sanitising on write -----------------------------------------------------------------------------

def test_create_sanitises_the_html_fields_without_a_form(request_as, dbsession, town):
    page = content.create(request_as("editor"), town, "Page", {"title": "脚本", "body": DIRTY})
    dbsession.flush()
    dbsession.expire(page)
    assert page.body == sanitize_html(DIRTY)
    assert "正文" in page.body and "链接" in page.body
    assert_clean(page.body)
    stored = dbsession.scalars(select(Revision).where(Revision.node_id == page.id)).one()
    assert_clean(stored.data["body"])
    assert page.title == "脚本"  # plain text fields are text, escaped when shown, not sanitised


def test_save_and_drafts_sanitise_too(request_as, town):
    editor = request_as("editor")
    page = content.create(editor, town, "Page", {"title": "页面", "body": "<p>一</p>"})
    content.save(editor, page, {"body": DIRTY})
    assert_clean(page.body) and "正文" in page.body
    content.transition(editor, page, "submit")
    content.transition(request_as("reviewer"), page, "publish")
    assert content.save(request_as("editor"), page, {"body": f"<p>草稿</p>{SCRIPT}"}) == "draft"
    assert page.draft["body"] == "<p>草稿</p>"


# -- the database's refusals at flush: nothing half-written, one message for pages and API -----------

def behind_the_sessions_back(dbsession: Any, node: Node) -> None:
    """Another process saved the item: its row's version moved on, this session's copy did not."""
    dbsession.execute(update(Node).where(Node.id == node.id).values(version=Node.version + 1)
                      .execution_options(synchronize_session=False))


def test_a_save_that_lost_the_race_is_a_conflict_and_writes_nothing(request_as, dbsession, town):
    page = content.create(request_as("editor"), town, "Page", {"title": "原标题"})
    dbsession.flush()
    revisions = revision_count(dbsession, page)
    behind_the_sessions_back(dbsession, page)
    with pytest.raises(Conflict) as lost:
        content.save(request_as("editor"), page, {"title": "迟到的修改"}, expected_version=page.version)
    assert lost.value.message == content.CHANGED_MEANWHILE
    assert page.title == "原标题"  # reloaded: the session is usable
    assert revision_count(dbsession, page) == revisions


def test_a_taken_organisation_code_is_a_field_error_and_writes_nothing(request_as, dbsession, town, other_town):
    with pytest.raises(Taken) as taken:
        content.save(request_as("manager"), town, {"org_code": other_town.org_code, "title": "改名"})
    assert taken.value.field == "org_code"
    assert other_town.org_code in str(taken.value.message.mapping["value"])
    assert (town.org_code, town.title) == ("421127-001", "黄梅镇")
    assert dbsession.scalar(select(func.count(Unit.id)).where(Unit.org_code == other_town.org_code)) == 1


def reset_serials(dbsession: Any) -> None:
    """As if the counter had been lost: the next 索引号 handed out is one that is in use."""
    dbsession.execute(update(DisclosureSerial).values(last=0))


def test_a_taken_index_number_is_refused_and_nothing_is_half_made(request_as, dbsession, town):
    editor = request_as("editor")
    data = {"title": "第一份", "subject": "综合政务", "genre": "通知"}
    first = content.create(editor, town, "Disclosure", data)
    dbsession.flush()
    reset_serials(dbsession)
    count = dbsession.scalar(select(func.count(Node.id)))
    with pytest.raises(Taken) as taken:
        content.create(editor, town, "Disclosure", {**data, "title": "第二份"})
    assert taken.value.field == "index_number"
    assert first.index_number in str(taken.value.message.mapping["value"])
    assert dbsession.scalar(select(func.count(Node.id))) == count
    assert "第二份" not in [c.title for c in town.children]


def test_the_edit_form_shows_a_lost_race_as_a_conflict(testapp, dbsession, users, town):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town.path, "Page", {"title": "原标题"})
    form = testapp.get(f"{page.path}@@edit").forms["content-form"]
    behind_the_sessions_back(dbsession, page)
    form["title"] = "迟到的修改"
    res = form.submit("save", status=409)
    assert 'class="conflict error"' in res.text
    assert res.forms["content-form"]["title"].value == "迟到的修改"  # the user's text is not lost
    assert "Traceback" not in res.text
    dbsession.expire_all()
    assert node_at(dbsession, page.path).title == "原标题"


def test_a_taken_organisation_code_in_the_unit_form_and_in_the_api(testapp, dbsession, users, town, other_town):
    login(testapp, "manager")
    form = testapp.get(f"{town.path}@@edit").forms["content-form"]
    res = fill(form, {"org_code": other_town.org_code}).submit("save", status=200)
    message = f"已有其他内容使用了“{other_town.org_code}”。"
    assert field_has_error(res.text, "org_code")
    assert message in res.text
    dbsession.expire_all()
    assert unit(dbsession, "黄梅镇").org_code == "421127-001"

    api = testapp.patch_json(town.path, {"org_code": other_town.org_code}, headers=api_token(testapp, "manager"),
                             status=409)
    assert api.json["error"]["message"] == message
    assert api.json["error"]["errors"] == [{"field": "org_code", "message": message}]


def test_a_taken_index_number_in_the_add_form_and_in_the_api(testapp, dbsession, users, town):
    login(testapp, "editor")
    values = {"title": "第一份", "subject": "综合政务", "genre": "通知"}
    first = add_item(testapp, dbsession, town.path, "Disclosure", values)
    reset_serials(dbsession)
    count = dbsession.scalar(select(func.count(Node.id)))
    res = add(testapp, town.path, "Disclosure", {**values, "title": "第二份"}, status=200)
    message = f"已有其他内容使用了“{first.index_number}”。"
    assert message in res.text and "Traceback" not in res.text
    api = testapp.post_json(town.path, {"@type": "Disclosure", **values, "title": "第三份"},
                            headers=api_token(testapp, "editor"), status=409)
    assert api.json["error"]["errors"] == [{"field": "index_number", "message": message}]
    assert dbsession.scalar(select(func.count(Node.id))) == count


# -- pages translate Forbidden ---------------------------------------------------------------------------

def test_pages_show_the_actions_forbidden_as_403(testapp, dbsession, users, town):
    token = login(testapp, "other-editor")
    guide = town[GUIDE_NAME]
    res = testapp.post(f"{town.path}@@contents", {"move": f"{GUIDE_NAME}:down", "csrf_token": token}, status=403)
    assert "Traceback" not in res.text
    res = testapp.post(f"{town.path}@@contents", {"confirm-delete": "1", "names": GUIDE_NAME, "csrf_token": token},
                       status=403)
    dbsession.expire_all()
    assert node_at(dbsession, guide.path) is not None


# -- the unexpected: a themed, logged 500 --------------------------------------------------------------

def test_an_unexpected_error_is_a_themed_logged_500_page(testapp, users, town, monkeypatch, caplog):
    def broken(request: Any, context: Node) -> list[Node]:
        raise RuntimeError("secret detail of the failure")

    login(testapp, "editor")  # the contents screen is for the unit's editors
    monkeypatch.setattr("portal.views.contents.children_of", broken)
    with caplog.at_level(logging.ERROR, logger="portal.views.errors"):
        res = testapp.get(f"{town.path}@@contents", status=500)
    assert "黄梅县人民政府" in res.text  # the site around it
    assert "出错了" in res.text
    assert "secret detail" not in res.text and "Traceback" not in res.text and "RuntimeError" not in res.text
    [record] = [r for r in caplog.records if r.name == "portal.views.errors"]
    assert record.exc_info and "secret detail" in str(record.exc_info[1])


def test_a_database_error_still_gets_the_themed_page(testapp, users, town, monkeypatch):
    def broken(request: Any, context: Node) -> list[Node]:
        request.dbsession.execute(text("SELECT no_such_column FROM no_such_table"))
        return []

    login(testapp, "editor")  # the contents screen is for the unit's editors
    monkeypatch.setattr("portal.views.contents.children_of", broken)
    res = testapp.get(f"{town.path}@@contents", status=500)
    assert "黄梅县人民政府" in res.text and "no_such_table" not in res.text


def test_api_requests_keep_a_json_500(testapp, town, monkeypatch):
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr("portal.api.content.item", broken)
    res = testapp.get(town.path, headers={"Accept": "application/json"}, status=500)
    assert res.json["type"] == "InternalServerError"  # plone.rest's shape, as for every failure
    assert "secret" not in res.text


def test_http_errors_are_not_turned_into_500(testapp, users, town):
    testapp.get("/no-such-page/", status=404)
    login(testapp, "editor")
    testapp.post(f"{town.path}@@contents", {"move": "xxgkzn:down"}, status=400)  # no CSRF token


# -- the 政府信息公开指南 of a unit whose name and contact hold markup ----------------------------------

HOSTILE = {"full_name": f"{SCRIPT}恶意单位", "contact": f"电话 {IMG}"}


def hostile_unit(how: str, request: Any, dbsession: Any) -> Unit:
    if how == "load_units":
        row = {"title": "恶意单位", "short_name": "恶意单位", "kind": "其他", "parent": "", "org_code": "421127-999",
               **HOSTILE}
        load_units(dbsession, ensure_root(dbsession), [row], request=request)
        return unit(dbsession, "恶意单位")
    return content.create(request, ensure_root(dbsession), "Unit", {
        "title": "恶意单位", "short_name": "恶意单位", "kind": "其他", "org_code": "421127-999", **HOSTILE})


@pytest.mark.parametrize("how", ["load_units", "content.create"])
def test_the_guide_of_a_unit_with_markup_in_its_name_is_escaped(testapp, request_as, dbsession, how):
    made = hostile_unit(how, request_as("manager"), dbsession)
    dbsession.flush()
    guide = made[GUIDE_NAME]
    assert guide.state == "published"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;恶意单位" in guide.body
    if how == "content.create":  # the unit list has no contact column
        assert "电话 &lt;img src=x onerror=alert(1)&gt;" in guide.body
    assert_clean(guide.body.replace("&lt;script", "").replace("onerror=alert(1)&gt;", ""))
    assert "<script" not in guide.body and "<img" not in guide.body
    login(testapp, "manager")
    page = testapp.get(guide.path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;恶意单位" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text


# -- the demo goes through the same actions ------------------------------------------------------------

def test_the_demo_is_made_through_the_actions(app, tm, dbsession):
    from content_types.demo import ACCOUNTS, load_demo, plan_html
    from portal.cli import make_request

    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    lines = load_demo(request)
    assert lines == [
        "demo accounts:",  # the command adds where the server listens
        "  admin        password admin-demo-2026    网站管理员 (manager)",
        "  shenhe       password shenhe-demo-2026   县政府办审核员 (county reviewer)",
        "  hmz-editor   password editor-demo-2026   黄梅镇信息员 (editor of 黄梅镇)",
        lines[4],  # what was added (tests/functional/test_demo.py)
        "demo datasets: 3 added",  # the catalogue's part (entry point group portal.demo)
    ]
    assert lines[4].startswith("demo content: ")
    assert [a[0] for a in ACCOUNTS] == ["admin", "shenhe", "hmz-editor"]
    plan = dbsession.scalar(select(Disclosure).where(Disclosure.doc_number == "梅政办发〔2011〕108号"))
    assert plan.state == "published" and plan.body == sanitize_html(plan_html()) and plan.owner == "admin"
    waiting = dbsession.scalar(select(Node).where(Node.title == "黄梅镇开展电子政务培训（待审核）"))
    assert (waiting.state, waiting.owner) == ("pending", "hmz-editor")
    draft = dbsession.scalar(select(Node).where(Node.title == "黄梅镇2026年冬季防火通知（草稿）"))
    assert (draft.state, draft.owner) == ("private", "hmz-editor")
    count = dbsession.scalar(select(func.count(Node.id)))
    assert load_demo(request) == lines[:4] + ["demo content: 0 items added", "demo datasets: 0 added"]  # idempotent
    assert dbsession.scalar(select(func.count(Node.id))) == count

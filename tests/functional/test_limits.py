"""Size limits on text: rich text, any other long text of an item, and workflow comments.

The attack run of issue 8 stored a 5 MB body and a 5 MB comment, and every save keeps a full copy
in the history. The limits are settings (`portal.max_rich_text_size`, `portal.max_text_length`,
`portal.max_comment_length`); forms and the API refuse a longer text with a message that names the
limit, and nothing is saved. The tests set small limits on the running app's settings.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import webtest
from sqlalchemy import func, select

from portal import content
from portal.content import ContentError
from portal.models import Node, Revision, WorkflowEvent
from portal.settings import KEY, PortalSettings, SettingsError
from tests.conftest import api_token, login
from tests.functional.test_editing import add, edit, field_has_error, node_at

RICH, TEXT, COMMENT = 2048, 300, 50


@pytest.fixture(autouse=True)
def small_limits(app: Any, monkeypatch: pytest.MonkeyPatch) -> PortalSettings:
    limited = dataclasses.replace(app.registry[KEY], max_rich_text_size=RICH, max_text_length=TEXT,
                                  max_comment_length=COMMENT)
    monkeypatch.setitem(app.registry, KEY, limited)
    return limited


@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


@pytest.fixture
def reviewer(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "reviewer")


def errors_of(res: webtest.TestResponse) -> dict[str | None, str]:
    return {e["field"]: e["message"] for e in res.json["error"]["errors"]}


def count(dbsession: Any, model: Any) -> int:
    return dbsession.scalar(select(func.count(model.id)))


def body_of(size: int) -> str:
    """Rich text of exactly `size` bytes of UTF-8 that the sanitizer keeps as it is."""
    inner = "通知" * ((size - 7) // 6)
    inner += "a" * (size - 7 - len(inner.encode("utf-8")))
    text = f"<p>{inner}</p>"
    assert len(text.encode("utf-8")) == size
    return text


# -- rich text --------------------------------------------------------------------------------------

def test_rich_text_at_the_limit_is_accepted(testapp, dbsession, editor):
    res = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态", "body": body_of(RICH)},
                            headers=editor, status=201)
    assert node_at(dbsession, res.json["@id"].removeprefix("http://example.com") + "/").body == body_of(RICH)


def test_rich_text_over_the_limit_is_a_400_naming_the_limit(testapp, dbsession, editor):
    before = count(dbsession, Node)
    res = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态", "body": body_of(RICH + 1)},
                            headers=editor, status=400)
    message = errors_of(res)["body"]
    assert "内容过大" in message and "2.0 KB" in message
    assert count(dbsession, Node) == before


def test_a_five_megabyte_body_is_refused_with_the_default_limit(testapp, dbsession, editor, app, small_limits,
                                                                 monkeypatch):
    monkeypatch.setitem(app.registry, KEY, dataclasses.replace(small_limits, max_rich_text_size=1024**2,
                                                               max_text_length=20_000))
    five_mb = "<p>" + "字" * (5 * 1024**2 // 3) + "</p>"
    res = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "大", "body": five_mb},
                            headers=editor, status=400)
    assert "1.0 MB" in errors_of(res)["body"]


def test_an_edit_over_the_limit_keeps_the_item_and_its_history(testapp, dbsession, editor):
    page = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态", "body": "<p>短</p>"},
                             headers=editor, status=201).json
    path = page["@id"].removeprefix("http://example.com") + "/"
    node = node_at(dbsession, path)
    revisions = count(dbsession, Revision)
    res = testapp.patch_json(path, {"body": body_of(RICH * 2)}, headers=editor, status=400)
    assert "内容过大" in errors_of(res)["body"]
    assert node.body == "<p>短</p>" and count(dbsession, Revision) == revisions


def test_a_draft_of_a_published_item_over_the_limit_is_refused(testapp, dbsession, editor, reviewer):
    page = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态"}, headers=editor, status=201).json
    path = page["@id"].removeprefix("http://example.com") + "/"
    testapp.post_json(f"{path}@workflow/submit", {}, headers=editor)
    testapp.post_json(f"{path}@workflow/publish", {}, headers=reviewer)
    res = testapp.patch_json(path, {"body": body_of(RICH + 10)}, headers=editor, status=400)
    assert "内容过大" in errors_of(res)["body"]
    assert node_at(dbsession, path).draft is None


def test_rich_text_over_the_limit_in_the_form_shows_next_to_the_field(testapp, dbsession, users):
    login(testapp, "editor")
    before = count(dbsession, Node)
    res = add(testapp, "/huangmeizhen/", "Page", {"title": "工作动态", "body": body_of(RICH + 1)}, status=200)
    assert "内容过大" in res.text and "2.0 KB" in res.text
    assert field_has_error(res.text, "body")
    assert count(dbsession, Node) == before
    page = add(testapp, "/huangmeizhen/", "Page", {"title": "工作动态", "body": "<p>短</p>"})
    path = page.location.removeprefix("http://example.com")
    revisions = count(dbsession, Revision)
    res = edit(testapp, path, {"body": body_of(RICH + 1)}, status=200)
    assert "内容过大" in res.text
    assert count(dbsession, Revision) == revisions


# -- other long text ------------------------------------------------------------------------------

def test_a_long_plain_text_field_is_refused_naming_the_limit(testapp, dbsession, editor):
    """The disclosure's 内容概述 has no length of its own in its schema: the portal's limit applies."""
    res = testapp.post_json("/huangmeizhen/", {"@type": "Disclosure", "title": "通知", "subject": "综合政务",
                                               "genre": "通知", "summary": "概" * (TEXT + 1)},
                            headers=editor, status=400)
    message = errors_of(res)["summary"]
    assert "内容过长" in message and str(TEXT) in message and str(TEXT + 1) in message
    testapp.post_json("/huangmeizhen/", {"@type": "Disclosure", "title": "通知", "subject": "综合政务",
                                         "genre": "通知", "summary": "概" * TEXT}, headers=editor, status=201)


def test_the_action_checks_the_limits_whoever_calls(request_as, town):
    request = request_as("editor")
    with pytest.raises(ContentError) as e:
        content.create(request, town, "Page", {"title": "t", "body": body_of(RICH + 1)})
    assert e.value.field == "body"
    page = content.create(request, town, "Page", {"title": "t"})
    with pytest.raises(ContentError) as e:
        content.save(request, page, {"description": "x" * (TEXT + 1)})
    assert e.value.field == "description"


# -- workflow comments ----------------------------------------------------------------------------

def test_a_long_comment_is_a_400_naming_the_limit(testapp, dbsession, editor):
    page = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态"}, headers=editor, status=201).json
    path = page["@id"].removeprefix("http://example.com") + "/"
    res = testapp.post_json(f"{path}@workflow/submit", {"comment": "请" * (COMMENT + 1)}, headers=editor, status=400)
    message = errors_of(res)["comment"]
    assert "内容过长" in message and str(COMMENT) in message
    node = node_at(dbsession, path)
    assert node.state == "private"
    assert dbsession.scalar(select(func.count(WorkflowEvent.id)).where(WorkflowEvent.node_id == node.id)) == 0
    testapp.post_json(f"{path}@workflow/submit", {"comment": "请" * COMMENT}, headers=editor, status=200)
    assert node.state == "pending"


def test_a_long_comment_on_the_page_is_refused_with_the_message(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = add(testapp, "/huangmeizhen/", "Page", {"title": "工作动态"})
    path = page.location.removeprefix("http://example.com")
    res = testapp.post(f"{path}@@transition", {"csrf_token": token, "transition": "submit",
                                               "comment": "请" * (COMMENT + 1)}, status=302).follow()
    assert "内容过长" in res.text
    assert node_at(dbsession, path).state == "private"


# -- the settings -----------------------------------------------------------------------------------

BASE = {"portal.session_secret": "s" * 40, "sqlalchemy.url": "sqlite://"}


def test_the_limits_have_defaults():
    settings = PortalSettings.parse(BASE)
    assert (settings.max_rich_text_size, settings.max_text_length, settings.max_comment_length) == \
        (1024**2, 20_000, 2_000)


def test_the_limits_are_read_from_the_settings():
    settings = PortalSettings.parse({**BASE, "portal.max_rich_text_size": "512KB", "portal.max_text_length": "5000",
                                     "portal.max_comment_length": "500"})
    assert (settings.max_rich_text_size, settings.max_text_length, settings.max_comment_length) == \
        (512 * 1024, 5000, 500)


@pytest.mark.parametrize("key, value", [("portal.max_rich_text_size", "lots"), ("portal.max_text_length", "0"),
                                        ("portal.max_comment_length", "many")])
def test_a_bad_limit_stops_the_start(key, value):
    with pytest.raises(SettingsError) as e:
        PortalSettings.parse({**BASE, key: value})
    assert e.value.key == key

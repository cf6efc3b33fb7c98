"""No field is dropped in silence: what the API does with each key of a POST or PATCH body.

A key the item (or the endpoint) does not have is a 400 naming it; the keys GET returns are
accepted back and left alone; plone.restapi's rich-text `text` is the type's `body`.
"""
from __future__ import annotations

import base64
from typing import Any

import pytest
import webtest

from portal.registry import content_types
from tests.catalog.test_datasets import DATASET
from tests.conftest import api_token
from tests.functional.test_api import png

JSON = {"Accept": "application/json"}
HOST = "http://example.com"


def path_of(url: str) -> str:
    return url.removeprefix(HOST).rstrip("/") + "/"


def fields_in_error(res: webtest.TestResponse) -> set[str]:
    return {e["field"] for e in res.json["error"]["errors"]}


@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


@pytest.fixture
def manager(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "manager")


@pytest.fixture
def page(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> dict[str, Any]:
    return testapp.post_json(town.path, {"@type": "Page", "title": "办事指南", "body": "<p>第一版</p>"},
                             headers=editor, status=201).json


# --- unknown fields -----------------------------------------------------------------------------

@pytest.mark.parametrize(("type_name", "extra"), [
    ("Page", {"subjects": ["农业"]}),
    ("Page", {"lead_image": None}),  # News has one, a page does not
    ("Folder", {"text": "<p>栏目没有正文</p>"}),  # no rich-text field: `text` is unknown too
    ("News", {"image": None, "image_caption": "说明"}),
])
def test_a_post_with_a_field_the_type_does_not_have_is_refused(
        testapp: webtest.TestApp, editor: dict[str, str], town: Any, type_name: str, extra: dict[str, Any]) -> None:
    before = testapp.get(town.path, headers=editor).json["items_total"]
    res = testapp.post_json(town.path, {"@type": type_name, "title": "新条目", "column_kind": "其他", **extra}
                            if type_name == "Folder" else {"@type": type_name, "title": "新条目", **extra},
                            headers=editor, status=400)
    assert fields_in_error(res) == set(extra)
    assert testapp.get(town.path, headers=editor).json["items_total"] == before


def test_a_patch_with_a_field_the_type_does_not_have_changes_nothing(
        testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    res = testapp.patch_json(path, {"title": "第二版", "bodytext": "<p>拼错了</p>"}, headers=editor, status=400)
    assert fields_in_error(res) == {"bodytext"}
    after = testapp.get(path, headers=editor).json
    assert (after["title"], after["version"]) == ("办事指南", 1)


def test_an_item_read_with_get_may_be_sent_back(testapp: webtest.TestApp, editor: dict[str, str],
                                               page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    read = testapp.get(path, headers=editor).json
    read["title"] = "第二版"
    del read["body"]  # `text` carries it
    testapp.patch_json(path, read, headers={**editor, "Prefer": "return=representation"}, status=200)
    after = testapp.get(path, headers=editor).json
    assert (after["title"], after["body"], after["review_state"]) == ("第二版", "<p>第一版</p>", "private")


def test_the_type_of_an_item_cannot_be_changed(testapp: webtest.TestApp, editor: dict[str, str],
                                               page: dict[str, Any]) -> None:
    res = testapp.patch_json(path_of(page["@id"]), {"@type": "News"}, headers=editor, status=400)
    assert fields_in_error(res) == {"@type"}


def test_a_new_id_renames_the_item(testapp: webtest.TestApp, editor: dict[str, str],
                                   page: dict[str, Any], town: Any) -> None:
    """plone.restapi's short name field: the old address redirects to the new one."""
    testapp.patch_json(path_of(page["@id"]), {"id": "guide"}, headers=editor, status=204)
    assert testapp.get(f"{town.path}guide/", headers=editor).json["title"] == "办事指南"
    bad = testapp.patch_json(f"{town.path}guide/", {"id": "Not Valid!"}, headers=editor, status=400)
    assert fields_in_error(bad) == {"id"}


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("@workflow/submit", {"comment": "请审核", "notify": True}, "notify"),
    ("@sharing", {"inherit": True, "recursive": True}, "recursive"),
    ("@sharing", {"entries": [{"id": "editor", "type": "user", "roles": {"Reader": True}, "until": "2030"}]},
     "entries.0.until"),
])
def test_endpoints_refuse_unknown_fields(testapp: webtest.TestApp, manager: dict[str, str],
                                         page: dict[str, Any], endpoint: str, body: dict[str, Any],
                                         field: str) -> None:
    path = path_of(page["@id"])
    res = testapp.post_json(path + endpoint, body, headers=manager, status=400)
    assert fields_in_error(res) == {field}
    assert testapp.get(path, headers=manager).json["review_state"] == "private"


def test_login_refuses_unknown_fields(testapp: webtest.TestApp, users: Any) -> None:
    res = testapp.post_json("/@login", {"login": "editor", "password": "x", "remember": True}, status=400)
    assert fields_in_error(res) == {"remember"}


# --- rich text ----------------------------------------------------------------------------------

def test_text_is_read_as_plone_restapi_rich_text(testapp: webtest.TestApp, editor: dict[str, str],
                                                 page: dict[str, Any]) -> None:
    item = testapp.get(path_of(page["@id"]), headers=editor).json
    assert item["text"] == {"data": "<p>第一版</p>", "content-type": "text/html", "encoding": "utf-8"}
    assert item["body"] == "<p>第一版</p>"  # clients written before `text` keep reading `body`
    empty = testapp.post_json(path_of(page["@id"]).rsplit("/", 2)[0] + "/", {"@type": "Page", "title": "空"},
                              headers=editor, status=201).json
    assert empty["text"] is None


@pytest.mark.parametrize("text", [
    {"data": "<p>第二版</p>", "content-type": "text/html", "encoding": "utf-8"},
    {"data": "<p>第二版</p>"},
    "<p>第二版</p>",
    {"data": "第二版", "content-type": "text/plain", "encoding": "UTF-8"},  # a line becomes a paragraph
])
def test_text_is_saved_as_the_body(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any],
                                   text: Any) -> None:
    path = path_of(page["@id"])
    testapp.patch_json(path, {"text": text}, headers=editor, status=204)
    item = testapp.get(path, headers=editor).json
    assert item["body"] == "<p>第二版</p>" and item["text"]["data"] == "<p>第二版</p>" and item["version"] == 2


def test_text_is_sanitised_like_the_body(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    made = testapp.post_json(town.path, {"@type": "News", "title": "新闻",
                                         "text": {"data": '<p onclick="x()">正文</p><script>alert(1)</script>'}},
                             headers=editor, status=201).json
    assert made["text"]["data"] == made["body"] == "<p>正文</p>"


@pytest.mark.parametrize("text", [
    42, ["<p>x</p>"], {"html": "<p>x</p>"}, {"data": 42},
    {"data": "<p>x</p>", "content-type": "application/pdf"},
    {"data": "<p>x</p>", "encoding": "base64"},
    {"data": "<p>x</p>", "content-type": "text/html", "encoding": "utf-8", "extra": 1},
])
def test_text_that_is_not_rich_text_is_refused(testapp: webtest.TestApp, editor: dict[str, str],
                                               page: dict[str, Any], text: Any) -> None:
    path = path_of(page["@id"])
    res = testapp.patch_json(path, {"text": text}, headers=editor, status=400)
    assert fields_in_error(res) == {"text"}
    assert testapp.get(path, headers=editor).json["body"] == "<p>第一版</p>"


def test_text_and_body_both_changed_are_refused(testapp: webtest.TestApp, editor: dict[str, str],
                                            page: dict[str, Any]) -> None:
    res = testapp.patch_json(path_of(page["@id"]), {"text": "<p>甲</p>", "body": "<p>乙</p>"}, headers=editor,
                             status=400)
    assert fields_in_error(res) == {"text"}


def test_an_item_sent_back_may_change_text_or_body(testapp: webtest.TestApp, editor: dict[str, str],
                                                   page: dict[str, Any]) -> None:
    """GET gives both; the one that differs from the stored text is the change."""
    path = path_of(page["@id"])
    read = testapp.get(path, headers=editor).json
    testapp.patch_json(path, {**read, "text": {**read["text"], "data": "<p>经 text 改</p>"}}, headers=editor,
                       status=204)
    read = testapp.get(path, headers=editor).json
    assert read["body"] == "<p>经 text 改</p>"
    testapp.patch_json(path, {**read, "body": "<p>经 body 改</p>"}, headers=editor, status=204)
    assert testapp.get(path, headers=editor).json["text"]["data"] == "<p>经 body 改</p>"


def test_a_field_the_form_does_not_take_may_only_come_back_unchanged(
        testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    """A column has no dates of its own (other types do): sent back as read is fine, a change is a
    400 naming the field, not a change that silently does not happen."""
    folder = testapp.post_json(town.path, {"@type": "Folder", "title": "栏目", "column_kind": "其他"},
                               headers=editor, status=201).json
    res = testapp.patch_json(path_of(folder["@id"]), {"effective": "2030-01-01T00:00:00+08:00"}, headers=editor,
                             status=400)
    assert fields_in_error(res) == {"effective"}
    res = testapp.post_json(town.path, {"@type": "Folder", "title": "栏目", "column_kind": "其他",
                                        "expires": "2030-01-01T00:00:00+08:00"}, headers=editor, status=400)
    assert fields_in_error(res) == {"expires"}


def b64(name: str, data: bytes, mime: str) -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "encoding": "base64", "filename": name, "content-type": mime}


def one_of_each_type(testapp: webtest.TestApp, manager: dict[str, str], town: Any) -> dict[str, str]:
    """The path of an item of every registered type (made through the API, as a client would)."""
    def add(where: str, body: dict[str, Any]) -> str:
        return path_of(testapp.post_json(where, body, headers=manager, status=201).json["@id"])

    dataset = add(town.path, {"@type": "Dataset", **DATASET})
    return {
        "Portal": "/", "Unit": town.path,
        "Folder": add(town.path, {"@type": "Folder", "title": "栏目", "column_kind": "其他"}),
        "Page": add(town.path, {"@type": "Page", "title": "页面"}),
        "News": add(town.path, {"@type": "News", "title": "新闻"}),
        "Disclosure": add(town.path, {"@type": "Disclosure", "title": "通知", "subject": "综合政务", "genre": "通知"}),
        "File": add(town.path, {"@type": "File", "file": b64("办事指南.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}),
        "Image": add(town.path, {"@type": "Image", "image": b64("图.png", png(), "image/png")}),
        "Dataset": dataset,
        "Resource": add(dataset, {"@type": "Resource", "title": "链接", "url": "https://data.example.org/a.csv"}),
    }


def test_every_type_refuses_a_patch_with_a_field_it_does_not_have(
        testapp: webtest.TestApp, manager: dict[str, str], town: Any, app: Any) -> None:
    items = one_of_each_type(testapp, manager, town)
    assert set(items) == set(content_types(app.registry)), "add the new type here"
    for type_name, path in items.items():
        before = testapp.get(path, headers=manager).json
        res = testapp.patch_json(path, {"title": "改过的标题", "no_such_field": 1}, headers=manager, status=400)
        assert fields_in_error(res) == {"no_such_field"}, type_name
        after = testapp.get(path, headers=manager).json
        assert (after["title"], after["version"]) == (before["title"], before["version"]), type_name

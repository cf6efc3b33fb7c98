"""What the API does the way plone.restapi does, beyond the shapes of the conformance examples:
identifiers, `@components` and their endpoints, the names of types, workflow with children,
reverting a revision, sharing with every logged-in user, and the two shapes of errors.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from portal.accounts import add_user
from portal.models import Node
from tests.conftest import PASSWORD, api_token

JSON = {"Accept": "application/json"}
HOST = "http://example.com"


def path_of(url: str) -> str:
    return url.removeprefix(HOST).rstrip("/") + "/"


@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


@pytest.fixture
def reviewer(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "reviewer")


@pytest.fixture
def manager(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "manager")


@pytest.fixture
def column(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> dict[str, Any]:
    """A column of 黄梅镇 with a page in it."""
    folder = testapp.post_json(town.path, {"@type": "Folder", "id": "dongtai", "title": "动态", "column_kind": "动态"},
                               headers=editor, status=201).json
    testapp.post_json(path_of(folder["@id"]), {"@type": "Page", "id": "guide", "title": "指南"}, headers=editor,
                      status=201)
    return folder


# --- identifiers --------------------------------------------------------------------------------

def test_uid_is_stable_and_unique(testapp: webtest.TestApp, editor: dict[str, str], column: dict[str, Any],
                                  dbsession: Any) -> None:
    page = testapp.get(path_of(column["@id"]) + "guide/", headers=editor).json
    assert len(page["UID"]) == 32 and page["UID"] != column["UID"]
    testapp.patch_json(path_of(page["@id"]), {"id": "zhinan", "title": "新指南"}, headers=editor, status=204)
    moved = testapp.get(path_of(column["@id"]) + "zhinan/", headers=editor).json
    assert moved["UID"] == page["UID"] and moved["node_id"] == page["node_id"]
    assert dbsession.scalar(select(Node.path).where(Node.uid == page["UID"])).endswith("/zhinan/")


def test_the_root_has_no_trailing_slash_either(testapp: webtest.TestApp) -> None:
    root = testapp.get("/", headers=JSON).json
    assert root["@id"] == HOST and root["parent"] == {}
    assert root["items"][0]["@id"].count("/") == 3 and not root["items"][0]["@id"].endswith("/")


# --- @components and their endpoints ------------------------------------------------------------

def test_components_link_and_expand(testapp: webtest.TestApp, editor: dict[str, str], column: dict[str, Any],
                                    town: Any) -> None:
    page_path = path_of(column["@id"]) + "guide/"
    linked = testapp.get(page_path, headers=editor).json["@components"]
    assert linked == {name: {"@id": f"{HOST}{page_path}@{name}"}
                      for name in ("actions", "breadcrumbs", "navigation", "types", "workflow")}
    expanded = testapp.get(page_path + "?expand=breadcrumbs,workflow", headers=editor).json["@components"]
    assert expanded["breadcrumbs"] == testapp.get(page_path + "@breadcrumbs", headers=editor).json
    assert expanded["workflow"] == testapp.get(page_path + "@workflow", headers=editor).json
    assert expanded["navigation"] == {"@id": f"{HOST}{page_path}@navigation"}
    assert [i["title"] for i in expanded["breadcrumbs"]["items"]] == ["黄梅镇", "动态", "指南"]
    assert expanded["breadcrumbs"]["root"] == HOST


def test_breadcrumbs_leave_out_what_one_may_not_view(testapp: webtest.TestApp, manager: dict[str, str],
                                                     column: dict[str, Any]) -> None:
    """An editor of another unit who may read one private page, not its private column."""
    page = path_of(column["@id"]) + "guide/"
    testapp.post_json(page + "@sharing", {"entries": [{"id": "other-editor", "type": "user",
                                                       "roles": {"Reader": True}}]}, headers=manager, status=204)
    crumbs = testapp.get(page + "@breadcrumbs", headers=api_token(testapp, "other-editor")).json
    assert [i["title"] for i in crumbs["items"]] == ["黄梅镇", "指南"]


def test_navigation_is_the_top_level_and_deeper_when_asked(testapp: webtest.TestApp, editor: dict[str, str],
                                                           column: dict[str, Any], town: Any) -> None:
    flat = testapp.get(f"{town.path}@navigation", headers=editor).json
    assert flat["items"][0] == {"@id": HOST, "title": "首页", "description": flat["items"][0]["description"],
                                "review_state": "published", "items": []}
    town_entry = next(i for i in flat["items"] if i["title"] == "黄梅镇")
    assert town_entry["items"] == []
    deep = testapp.get(f"{town.path}@navigation?expand.navigation.depth=3", headers=editor).json
    town_entry = next(i for i in deep["items"] if i["title"] == "黄梅镇")
    dongtai = next(i for i in town_entry["items"] if i["title"] == "动态")
    assert [i["title"] for i in dongtai["items"]] == ["指南"]
    public = testapp.get(f"{town.path}@navigation?expand.navigation.depth=3", headers=JSON).json
    public_town = next(i for i in public["items"] if i["title"] == "黄梅镇")
    assert "动态" not in [i["title"] for i in public_town["items"]]  # private: not shown to the public


def test_actions_follow_permissions(testapp: webtest.TestApp, editor: dict[str, str], column: dict[str, Any]) -> None:
    path = path_of(column["@id"])
    mine = testapp.get(path + "@actions", headers=editor).json
    assert {a["id"] for a in mine["object"]} == {"view", "edit", "folderContents", "history"}
    assert [a["id"] for a in mine["user"]] == ["logout"]
    testapp.post(path + "@workflow/submit", headers=editor, status=200)
    assert testapp.get(path + "@actions", headers=editor).json["object_buttons"] == []  # pending: the reviewers'


# --- types --------------------------------------------------------------------------------------

def test_plone_type_names_are_accepted(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    page = testapp.post_json(town.path, {"@type": "Document", "title": "文档"}, headers=editor, status=201).json
    news = testapp.post_json(town.path, {"@type": "News Item", "title": "新闻"}, headers=editor, status=201).json
    assert (page["@type"], news["@type"]) == ("Page", "News")
    testapp.patch_json(path_of(page["@id"]), {"@type": "Document", "title": "文档二"}, headers=editor, status=204)
    schema = json.loads(testapp.get("/@types/News Item", headers=editor).text)
    assert schema == json.loads(testapp.get("/@types/News", headers=editor).text)


def test_the_json_schema_is_the_form_s(testapp: webtest.TestApp, editor: dict[str, str]) -> None:
    schema = json.loads(testapp.get("/@types/Disclosure", headers=editor).text)
    subject = schema["properties"]["subject"]
    assert subject["factory"] == "Choice" and len(subject["enum"]) == 22
    assert subject["vocabulary"]["@id"] == f"{HOST}/@vocabularies/Disclosure.subject"
    assert schema["properties"]["doc_number"]["maxLength"] == 100
    assert schema["properties"]["attachments"]["type"] == "array"
    assert schema["properties"]["attachments"]["items"]["factory"] == "File"
    assert schema["properties"]["effective"]["widget"] == "datetime"
    assert "body" not in schema["properties"] and schema["properties"]["text"]["factory"] == "Rich Text"
    assert {"title", "subject", "genre"} <= set(schema["required"]) and "summary" not in schema["required"]
    assert [f["id"] for f in schema["fieldsets"]] == ["default", "dates"]
    assert schema["fieldsets"][1]["fields"] == ["effective", "expires"]
    folder = json.loads(testapp.get("/@types/Folder", headers=editor).text)
    assert folder["properties"]["update_interval"] == {**folder["properties"]["update_interval"],
                                                       "type": "integer", "minimum": 1, "maximum": 366}


def test_types_are_for_logged_in_users(testapp: webtest.TestApp, users: Any, town: Any) -> None:
    assert testapp.get(f"{town.path}@types", headers=JSON, status=401).json["type"] == "Unauthorized"
    testapp.get("/@types/Nope", headers=api_token(testapp, "editor"), status=404)


def test_vocabularies_list_and_filter(testapp: webtest.TestApp, editor: dict[str, str]) -> None:
    names = [v["title"] for v in testapp.get("/@vocabularies", headers=editor).json]
    assert {"portal.types", "portal.units", "portal.review_states", "portal.roles", "Disclosure.genre",
            "Folder.column_kind", "Unit.kind"} <= set(names)
    units = testapp.get("/@vocabularies/portal.units", {"title": "黄梅镇"}, headers=editor).json
    assert {"token": "黄梅镇", "title": "黄梅县黄梅镇人民政府"} in units["items"]
    assert all("黄梅镇" in unit["title"] for unit in units["items"])
    states = testapp.get("/@vocabularies/portal.review_states?token=pending", headers=editor).json
    assert states["items"] == [{"token": "pending", "title": "待审核"}]
    batched = testapp.get("/@vocabularies/Disclosure.subject?b_size=5", headers=editor).json
    assert len(batched["items"]) == 5 and batched["items_total"] == 22 and "next" in batched["batching"]
    testapp.get("/@vocabularies/Disclosure.title", headers=editor, status=404)
    testapp.get("/@vocabularies/nope", headers=editor, status=404)


# --- workflow and history -----------------------------------------------------------------------

def test_workflow_history_is_private_to_those_who_see_the_item_s_history(
        testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str], column: dict[str, Any]) -> None:
    page = path_of(column["@id"]) + "guide/"
    for path in (path_of(column["@id"]), page):
        testapp.post_json(path + "@workflow/submit", {"comment": "请审核"}, headers=editor, status=200)
        testapp.post(path + "@workflow/publish", headers=reviewer, status=200)
    seen = testapp.get(page + "@workflow", headers=reviewer).json
    assert [(h["action"], h["review_state"], h["comments"]) for h in seen["history"]] == [
        (None, "private", ""), ("submit", "pending", "请审核"), ("publish", "published", "")]
    assert testapp.get(page + "@workflow", headers=JSON).json["history"] == []


def test_include_children_stops_at_an_item_it_cannot_move(testapp: webtest.TestApp, editor: dict[str, str],
                                                          reviewer: dict[str, str], column: dict[str, Any]) -> None:
    """publish from private is no transition of ours: the whole request is refused, nothing moves."""
    path = path_of(column["@id"])
    testapp.post(path + "@workflow/submit", headers=editor, status=200)
    res = testapp.post_json(path + "@workflow/publish", {"include_children": True}, headers=reviewer, status=400)
    assert "transition" in {e["field"] for e in res.json["error"]["errors"]}
    assert testapp.get(path, headers=reviewer).json["review_state"] == "pending"


def test_dates_sent_with_a_transition_are_checked(testapp: webtest.TestApp, editor: dict[str, str],
                                                  column: dict[str, Any]) -> None:
    page = path_of(column["@id"]) + "guide/"
    res = testapp.post_json(page + "@workflow/submit", {"effective": "2030-01-01T00:00:00",
                                                       "expires": "2029-01-01T00:00:00"}, headers=editor, status=400)
    assert {e["field"] for e in res.json["error"]["errors"]} == {"expires"}
    assert testapp.get(page, headers=editor).json["review_state"] == "private"
    folder = testapp.post_json(path_of(column["@id"]) + "@workflow/submit", {"effective": "2030-01-01T00:00:00"},
                               headers=editor, status=400)  # a column has no dates of its own
    assert {e["field"] for e in folder.json["error"]["errors"]} == {"effective"}


def test_a_revision_can_be_reverted(testapp: webtest.TestApp, editor: dict[str, str], column: dict[str, Any]) -> None:
    page = path_of(column["@id"]) + "guide/"
    testapp.patch_json(page, {"title": "指南（二）"}, headers=editor, status=204)
    history = testapp.get(page + "@history", headers=editor).json
    assert [(h["version"], h["may_revert"]) for h in history] == [(1, False), (0, True)]
    res = testapp.patch_json(page + "@history", {"version": 0}, headers=editor, status=200)
    assert "0" in res.json["message"]
    assert testapp.get(page, headers=editor).json["title"] == "指南"
    assert testapp.get(page + "@history/0", headers=editor).json["data"]["title"] == "指南"
    testapp.patch_json(page + "@history", {"version": 9}, headers=editor, status=400)


# --- sharing with every logged-in user ----------------------------------------------------------

def test_authenticated_users_get_roles_everywhere_they_apply(testapp: webtest.TestApp, dbsession: Any,
                                                             manager: dict[str, str], editor: dict[str, str],
                                                             column: dict[str, Any]) -> None:
    add_user(dbsession, "visitor", PASSWORD, [], [])
    visitor = api_token(testapp, "visitor")
    page = path_of(column["@id"]) + "guide/"
    testapp.get(page, headers=visitor, status=404)
    testapp.post_json(path_of(column["@id"]) + "@sharing",
                      {"entries": [{"id": "AuthenticatedUsers", "type": "group", "roles": {"Reader": True}}]},
                      headers=manager, status=204)
    assert testapp.get(page, headers=visitor).json["title"] == "指南"  # inherited from the column
    testapp.get(page, headers=JSON, status=404)  # still not public
    entry = testapp.get(page + "@sharing", headers=manager).json["entries"][0]
    assert (entry["id"], entry["roles"]["Reader"], entry["disabled"]) == ("AuthenticatedUsers", "acquired", False)
    testapp.post_json(path_of(column["@id"]) + "@sharing",
                      {"entries": [{"id": "AuthenticatedUsers", "roles": {"Reader": False}}]},
                      headers=manager, status=204)
    testapp.get(page, headers=visitor, status=404)


def test_the_sharing_screen_lists_logged_in_users(testapp: webtest.TestApp, users: Any, town: Any) -> None:
    from tests.conftest import login

    login(testapp, "manager")
    page = testapp.get(f"{town.path}@@sharing")
    assert 'value="system.Authenticated"' in page.text and "所有登录用户" in page.text


# --- errors -------------------------------------------------------------------------------------

def test_refusals_before_an_endpoint_and_by_it_have_plone_restapi_s_two_shapes(
        testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    missing = testapp.get(f"{town.path}nothing-here/", headers=JSON, status=404).json
    assert missing == {"type": "NotFound", "message": missing["message"], "context": HOST + town.path.rstrip("/")}
    anonymous = testapp.post_json(town.path, {"@type": "Page", "title": "x"}, headers=JSON, status=401).json
    assert set(anonymous) == {"type", "message", "context"} and anonymous["type"] == "Unauthorized"
    invalid = testapp.post_json(town.path, {"@type": "Page", "title": ""}, headers=editor, status=400).json
    assert set(invalid) == {"error"} and invalid["error"]["errors"][0]["field"] == "title"

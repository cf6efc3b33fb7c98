"""`@search` as plone.restapi's: the catalog query on every item, with full-text search inside it,
and the endpoints for accounts (`@users`, `@groups`) and tokens (`@login-renew`).

Each test gets a fresh, empty search index (`backend`): the catalog query reads the database, the
text part reads what the test indexed.
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Iterator

import pytest
import webtest
from sqlalchemy import select

from portal.models import AuthToken, Node
from portal.schemas import LOCAL_TZ
from search import WhooshBackend
from search.indexer import apply_outbox
from tests.conftest import api_token

JSON = {"Accept": "application/json"}
HOST = "http://example.com"
WHO = ("anonymous", "editor", "other_editor", "reviewer", "manager")


def path_of(url: str) -> str:
    return url.removeprefix(HOST).rstrip("/") + "/"


@pytest.fixture
def backend(app: Any, tmp_path: Any) -> Iterator[WhooshBackend]:
    previous = app.registry["search_backend"]
    fresh = WhooshBackend(tmp_path / "index")
    app.registry["search_backend"] = fresh
    try:
        yield fresh
    finally:
        app.registry["search_backend"] = previous
        fresh.close()


@pytest.fixture
def tokens(testapp: webtest.TestApp, users: Any) -> dict[str, dict[str, str]]:
    out = {"anonymous": JSON}
    for who in WHO[1:]:
        out[who] = api_token(testapp, who.replace("_", "-"))
    return out


def search(testapp: webtest.TestApp, where: str, headers: dict[str, str], status: int = 200,
           **params: Any) -> dict[str, Any]:
    return testapp.get(f"{where}@search?{urllib.parse.urlencode(params, doseq=True)}", headers=headers,
                       status=status).json


def paths(body: dict[str, Any]) -> list[str]:
    return [path_of(i["@id"]) for i in body["items"]]


@pytest.fixture
def tree(app: Any, testapp: webtest.TestApp, dbsession: Any, backend: WhooshBackend, tokens: Any,
         town: Any) -> dict[str, str]:
    """In 黄梅镇: a published column holding a published page, a draft and a sub-column with a
    disclosure; a private column; all indexed."""
    editor, reviewer = tokens["editor"], tokens["reviewer"]

    def add(where: str, **body: Any) -> str:
        return path_of(testapp.post_json(where, body, headers=editor, status=201).json["@id"])

    def publish(path: str) -> None:
        testapp.post(path + "@workflow/submit", headers=editor, status=200)
        testapp.post(path + "@workflow/publish", headers=reviewer, status=200)

    made = {"column": add(town.path, **{"@type": "Folder", "id": "column", "title": "乙栏目", "column_kind": "其他"})}
    made["page"] = add(made["column"], **{"@type": "Page", "id": "page", "title": "丙页面", "body": "<p>检索目录</p>"})
    made["draft"] = add(made["column"], **{"@type": "Page", "id": "draft", "title": "甲草稿", "body": "<p>检索目录</p>"})
    made["sub"] = add(made["column"], **{"@type": "Folder", "id": "sub", "title": "丁子栏目", "column_kind": "其他"})
    made["doc"] = add(made["sub"], **{"@type": "Disclosure", "id": "doc", "title": "戊文件", "subject": "农业、林业、水利",
                                      "genre": "通知", "body": "<p>检索目录</p>"})
    made["private"] = add(town.path, **{"@type": "Folder", "id": "private", "title": "己栏目", "column_kind": "其他"})
    for name in ("column", "page", "sub", "doc"):
        publish(made[name])
    while apply_outbox(app.registry, dbsession, backend):
        pass
    return made


# --- the catalog query --------------------------------------------------------------------------

@pytest.mark.parametrize("who", WHO)
def test_each_user_lists_exactly_what_they_may_view(testapp: webtest.TestApp, dbsession: Any, request_as: Any,
                                                    tokens: Any, tree: dict[str, str], town: Any, who: str) -> None:
    """The catalog query's visibility is the security policy's, item by item."""
    listed = set(paths(search(testapp, town.path, tokens[who], b_size=1000)))
    request = request_as(who) if who != "anonymous" else request_as("editor")
    if who == "anonymous":
        from portal.security import act_as
        act_as(request, None)
    below = dbsession.scalars(select(Node).where(Node.path.like(f"{town.path}%"))).all()
    assert listed == {n.path for n in below if request.has_permission("view", n)}
    assert (tree["draft"] in listed) == (who in ("editor", "reviewer", "manager"))


def test_a_search_is_contextual_and_path_depth_narrows_it(testapp: webtest.TestApp, tokens: Any,
                                                          tree: dict[str, str]) -> None:
    editor = tokens["editor"]
    column = tree["column"]
    assert paths(search(testapp, column, editor, sort_on="path")) == [
        column, tree["draft"], tree["page"], tree["sub"], tree["doc"]]
    assert paths(search(testapp, "/", editor, **{"path.query": column, "path.depth": 0})) == [column]
    assert paths(search(testapp, "/", editor, sort_on="path", **{"path.query": column.rstrip("/"),
                                                                 "path.depth": 1})) == [
        tree["draft"], tree["page"], tree["sub"]]
    both = search(testapp, "/", editor, sort_on="path", **{"path.query": [tree["sub"], tree["private"]]})
    assert paths(both) == [tree["sub"], tree["doc"], tree["private"]]


def test_filters(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str], town: Any) -> None:
    editor = tokens["editor"]
    assert set(paths(search(testapp, tree["column"], editor, portal_type=["Document", "Disclosure"]))) == {
        tree["page"], tree["draft"], tree["doc"]}
    assert paths(search(testapp, town.path, editor, review_state="private", portal_type="Page")) == [tree["draft"]]
    assert paths(search(testapp, town.path, editor, subject="农业、林业、水利")) == [tree["doc"]]
    assert paths(search(testapp, "/", editor, unit="孔垄镇", portal_type="Disclosure")) == []
    assert tree["doc"] in paths(search(testapp, "/", editor, unit="黄梅镇", portal_type="Disclosure"))
    this_year = str(dt.datetime.now(LOCAL_TZ).year)
    assert tree["doc"] in paths(search(testapp, town.path, editor, year=this_year, b_size=1000))
    assert paths(search(testapp, town.path, editor, year="1999")) == []
    uid = testapp.get(tree["page"], headers=editor).json["UID"]
    assert paths(search(testapp, "/", editor, UID=uid)) == [tree["page"]]


def test_sorting(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    editor, column = tokens["editor"], tree["column"]
    by_title = search(testapp, column, editor, sort_on="sortable_title", **{"path.depth": 1})
    assert [i["title"] for i in by_title["items"]] == ["丁子栏目", "丙页面", "甲草稿"]
    reverse = search(testapp, column, editor, sort_on="sortable_title", sort_order="descending",
                     **{"path.depth": 1})
    assert [i["title"] for i in reverse["items"]] == ["甲草稿", "丙页面", "丁子栏目"]
    in_folder = search(testapp, column, editor, sort_on="getObjPositionInParent", **{"path.depth": 1})
    assert paths(in_folder) == [tree["page"], tree["draft"], tree["sub"]]  # the column's own order
    published = search(testapp, column, editor, sort_on="effective", sort_order="reverse", **{"path.depth": 1})
    assert paths(published)[-1] == tree["draft"]  # never published: last


def test_bad_parameters_are_named(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    for params, name in (({"portal_typ": "Page"}, "portal_typ"), ({"sort_on": "colour"}, "sort_on"),
                         ({"sort_on": "path", "sort_order": "up"}, "sort_order"), ({"path.depth": "x"}, "path.depth")):
        body = search(testapp, "/", tokens["editor"], status=400, **params)
        assert [e["field"] for e in body["error"]["errors"]] == [name]


def test_metadata_fields_and_full_objects(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    editor = tokens["editor"]
    every = search(testapp, tree["sub"], editor, metadata_fields="_all", **{"path.depth": 1})["items"][0]
    assert {"UID", "Creator", "created", "modified", "effective", "portal_type", "getPath"} <= set(every)
    assert (every["Creator"], every["getPath"]) == ("editor", tree["doc"].rstrip("/"))
    own = search(testapp, tree["sub"], editor, metadata_fields=["index_number", "genre"], **{"path.depth": 1})
    assert own["items"][0]["genre"] == "通知" and own["items"][0]["index_number"].startswith("421127-001/")
    full = search(testapp, tree["sub"], editor, fullobjects=1, **{"path.depth": 1})["items"][0]
    assert full["@components"] and full["text"]["data"] == "<p>检索目录</p>" and full["subject"] == "农业、林业、水利"


def test_batching(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    first = search(testapp, tree["column"], tokens["editor"], sort_on="path", b_size=2)
    assert first["items_total"] == 5 and len(first["items"]) == 2
    assert first["batching"]["next"] == (f"{HOST}{tree['column'].rstrip('/')}/@search?b_start=2&b_size=2"
                                         "&sort_on=path")
    last = testapp.get(first["batching"]["last"].removeprefix(HOST), headers=tokens["editor"]).json
    assert paths(last) == [tree["doc"]] and "next" not in last["batching"]


# --- full text inside the catalog query ---------------------------------------------------------

def test_words_alone_are_ranked_by_the_engine(testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    body = search(testapp, "/", tokens["editor"], SearchableText="检索目录")
    assert set(paths(body)) == {tree["page"], tree["draft"], tree["doc"]}
    assert all("score" in i and "highlights" in i for i in body["items"]) and "facets" in body
    assert set(paths(search(testapp, "/", tokens["anonymous"], SearchableText="检索目录"))) == {
        tree["page"], tree["doc"]}


def test_words_with_what_the_engine_lacks_go_through_the_catalog_query(
        testapp: webtest.TestApp, tokens: Any, tree: dict[str, str]) -> None:
    editor = tokens["editor"]
    body = search(testapp, "/", editor, SearchableText="检索目录", sort_on="sortable_title")
    assert paths(body) == [tree["page"], tree["doc"], tree["draft"]] and "facets" not in body  # 丙 戊 甲
    shallow = search(testapp, tree["column"], editor, SearchableText="检索目录", **{"path.depth": 1})
    assert set(paths(shallow)) == {tree["page"], tree["draft"]}
    valid = search(testapp, "/", editor, SearchableText="检索目录", validity="有效")
    assert paths(valid) == [tree["doc"]]
    nothing = search(testapp, "/", editor, SearchableText="***", sort_on="path")
    assert nothing["items_total"] == 0 and nothing["message"]


# --- @login-renew -------------------------------------------------------------------------------

def test_a_token_is_renewed_for_a_week_after_the_password(testapp: webtest.TestApp, dbsession: Any,
                                                          users: Any) -> None:
    first = api_token(testapp, "editor")
    second = {**JSON, "Authorization": "Bearer " + testapp.post("/@login-renew", headers=first).json["token"]}
    testapp.post("/@login-renew", headers=first, status=401)  # withdrawn
    for token in dbsession.scalars(select(AuthToken)):
        token.created -= dt.timedelta(days=8)  # the password was given eight days ago
    res = testapp.post("/@login-renew", headers=second, status=401)
    assert res.json["error"]["type"] == "Unauthorized"
    testapp.get("/", headers=second, status=200)  # still valid until it expires
    testapp.post_json("/@login-renew", {}, headers=JSON, status=401)  # no token at all


# --- @users and @groups -------------------------------------------------------------------------

def test_managers_read_users_and_groups(testapp: webtest.TestApp, dbsession: Any, tokens: Any) -> None:
    listed = testapp.get("/@users", headers=tokens["manager"]).json
    editor = next(u for u in listed["items"] if u["id"] == "editor")
    assert editor["@id"] == f"{HOST}/@users/editor" and editor["roles"] == ["Member"]
    reviewer = testapp.get("/@users/reviewer", headers=tokens["manager"]).json
    assert reviewer["groups"]["items"][0]["id"] == "reviewers" and "Reviewer" in reviewer["roles"]
    assert [u["id"] for u in testapp.get("/@users?query=other", headers=tokens["manager"]).json["items"]] == [
        "other-editor"]
    groups = testapp.get("/@groups", headers=tokens["manager"]).json
    assert "reviewer" in next(g for g in groups if g["id"] == "reviewers")["members"]["items"]
    assert testapp.get("/@groups/managers", headers=tokens["manager"]).json["roles"] == ["Manager"]
    testapp.get("/@groups/nobody", headers=tokens["manager"], status=404)
    testapp.get("/@users/nobody", headers=tokens["manager"], status=404)


def test_others_read_only_themselves(testapp: webtest.TestApp, tokens: Any) -> None:
    assert testapp.get("/@users/editor", headers=tokens["editor"]).json["id"] == "editor"
    assert testapp.get("/@users/reviewer", headers=tokens["editor"], status=403).json["type"] == "Forbidden"
    testapp.get("/@users", headers=tokens["editor"], status=403)
    testapp.get("/@groups", headers=tokens["editor"], status=403)
    testapp.get("/@groups", headers=JSON, status=401)


def test_items_carry_type_title_created_and_modified(testapp: webtest.TestApp, tokens: Any,
                                                     tree: dict[str, str]) -> None:
    titles = {t["id"]: t["title"] for t in testapp.get("/@types", headers=tokens["editor"]).json}
    for params in ({}, {"SearchableText": "检索目录"}):
        listed = search(testapp, tree["sub"], tokens["editor"], **params)["items"]
        assert listed
        for found in listed:
            assert {"created", "modified", "UID"} <= set(found) and found["type_title"] == titles[found["@type"]]
    assert titles["Folder"] == "栏目"

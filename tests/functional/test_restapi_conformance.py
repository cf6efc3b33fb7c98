"""The JSON API as a plone.restapi client sees it: 29 requests of plone.restapi's documentation
(its `.req`/`.resp` examples, plone.restapi 10.x), translated to this portal's paths and types,
each checked for the status code and the shape (keys and value types) the documentation shows.

The shapes are written here from that documentation; keys plone.restapi sends for features the
portal does not have (`allow_discussion`, `language`, `layout`, `lock`, `subjects`, ...) are not
asked for. Our own keys (`has_pending_change`, `index_number`, ...) may come in addition: a shape
lists what must be there, not all that may. A case where the portal differs on purpose says so
in its docstring (and README.md lists them).
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import urllib.parse
from typing import Any, Callable, Iterator

import pytest
import webtest
from PIL import Image

from search import WhooshBackend
from search.indexer import apply_outbox
from tests.conftest import PASSWORD, api_token

JSON = {"Accept": "application/json"}
HOST = "http://example.com"
NoneType = type(None)

# --- the shape language -------------------------------------------------------------------------
# A shape is a type (the value is an instance; bool is not an int), a tuple of shapes (any one
# fits), a dict {key: shape} (those keys must be there; more may be), a one-element list [shape]
# (a list whose every element fits), or a predicate.


def when(value: Any) -> bool:
    """An ISO 8601 date-time with its offset, as plone.restapi writes every date-time."""
    try:
        return isinstance(value, str) and dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def url(value: Any) -> bool:
    """An absolute URL of this site, without the trailing slash plone.restapi never writes."""
    return isinstance(value, str) and value.startswith(HOST) and not value.endswith("/")


def uid(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value) is not None


def problems(value: Any, shape: Any, where: str = "$") -> list[str]:
    if isinstance(shape, tuple):
        if any(not problems(value, s, where) for s in shape):
            return []
        return [f"{where}: {value!r} fits none of {shape!r}"]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        found = []
        for key, sub in shape.items():
            if key not in value:
                found.append(f"{where}: no key {key!r}")
            else:
                found += problems(value[key], sub, f"{where}.{key}")
        return found
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        return [p for i, v in enumerate(value) for p in problems(v, shape[0], f"{where}[{i}]")]
    if isinstance(shape, type):
        ok = isinstance(value, shape) and not (shape is int and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {shape.__name__}, got {value!r}"]
    if callable(shape):
        return [] if shape(value) else [f"{where}: {value!r} is not {shape.__name__}"]
    raise TypeError(shape)


def conforms(value: Any, shape: Any) -> None:
    found = problems(value, shape)
    assert not found, "\n".join(found)


def component(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, dict) and url(value.get("@id")) and value["@id"].endswith(f"/@{name}")
    check.__name__ = f"a link to @{name}"
    return check


# The shapes of plone.restapi's documentation.
COMPONENTS = {name: component(name) for name in ("actions", "breadcrumbs", "navigation", "types", "workflow")}
PARENT = {"@id": url, "@type": str, "description": str, "review_state": (str, NoneType), "title": str,
          "type_title": str}
SUMMARY = {"@id": url, "@type": str, "description": str, "review_state": (str, NoneType), "title": str,
           "type_title": str}
ITEM = {
    "@components": COMPONENTS, "@id": url, "@type": str, "UID": uid, "created": when, "modified": when,
    "description": str, "effective": (when, NoneType), "expires": (when, NoneType), "id": str,
    "is_folderish": bool, "parent": PARENT, "review_state": (str, NoneType), "title": str, "type_title": str,
}
FOLDER = {**ITEM, "items": [SUMMARY], "items_total": int}
RICH_TEXT = {"content-type": str, "data": str, "encoding": str}
SCALE = {"download": url, "height": int, "width": int}
IMAGE = {"content-type": str, "download": url, "filename": str, "height": int, "width": int, "size": int,
         "scales": lambda scales: isinstance(scales, dict) and bool(scales) and all(
             not problems(s, SCALE) for s in scales.values())}
BATCHING = {"@id": url, "first": url, "last": url}
WORKFLOW_ACTION = {"action": (str, NoneType), "actor": str, "comments": str, "review_state": str, "time": when,
                   "title": str}
ACTOR = {"@id": url, "fullname": (str, NoneType), "id": str, "username": (str, NoneType)}
VERSION_ENTRY = {"@id": url, "action": str, "actor": ACTOR, "comments": str, "may_revert": bool, "time": when,
                 "transition_title": str, "type": "versioning".__eq__, "version": int}
WORKFLOW_ENTRY = {"action": (str, NoneType), "actor": ACTOR, "comments": str, "review_state": str,
                  "state_title": str, "time": when, "transition_title": str, "type": "workflow".__eq__}
SHARING_ENTRY = {"id": str, "login": (str, NoneType), "roles": dict, "title": str, "type": ("user", "group").__contains__}
ERROR = {"type": str, "message": str}


# --- the site the examples run against ----------------------------------------------------------

def png(width: int = 215, height: int = 56) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def path_of(link: str) -> str:
    return urllib.parse.urlsplit(link).path


@pytest.fixture
def backend(app: Any, tmp_path: Any) -> Iterator[WhooshBackend]:
    """A fresh, empty search index for the test (tests roll back: nothing drains by itself)."""
    previous = app.registry["search_backend"]
    fresh = WhooshBackend(tmp_path / "index")
    app.registry["search_backend"] = fresh
    try:
        yield fresh
    finally:
        app.registry["search_backend"] = previous
        fresh.close()


def index_now(app: Any, dbsession: Any, backend: WhooshBackend) -> None:
    while apply_outbox(app.registry, dbsession, backend):
        pass


@pytest.fixture
def admin(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "manager")


@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


@pytest.fixture
def reviewer(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "reviewer")


@pytest.fixture
def site(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> dict[str, str]:
    """plone.restapi's example content in 黄梅镇: a folder with three documents, a news item."""
    def post(path: str, **body: Any) -> str:
        return testapp.post_json(path, body, headers=editor, status=201).json["@id"]

    folder = post(town.path, **{"@type": "Folder", "id": "folder", "title": "My Folder", "column_kind": "其他",
                                "description": "This is a folder with two documents"})
    for n in (1, 2):
        post(path_of(folder), **{"@type": "Document", "id": f"doc{n}", "title": "A document within a folder"})
    document = post(path_of(folder), **{"@type": "Document", "id": "my-document", "title": "My Document",
                                        "text": {"data": "<p>Lorem ipsum</p>", "content-type": "text/html",
                                                 "encoding": "utf-8"}})
    news = post(town.path, **{"@type": "News Item", "id": "newsitem", "title": "My News Item",
                              "description": "This is a news item", "text": "<p>Lorem ipsum</p>",
                              "lead_image": {"data": base64.b64encode(png()).decode(), "encoding": "base64",
                                             "filename": "image.png", "content-type": "image/png"}})
    return {"folder": folder, "document": document, "news": news}


# --- content ------------------------------------------------------------------------------------

def test_content_get(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["document"]), headers=editor, status=200)
    assert res.content_type == "application/json"
    conforms(res.json, ITEM)
    assert res.json["@id"] == site["document"] == site["folder"] + "/my-document"


def test_content_get_folder(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["folder"]) + "?metadata_fields=UID&metadata_fields=Creator", headers=editor,
                      status=200)
    conforms(res.json, FOLDER)
    conforms(res.json["items"], [{**SUMMARY, "UID": uid, "Creator": str}])
    assert res.json["items_total"] == 3 and [i["title"] for i in res.json["items"]][-1] == "My Document"


def test_batching(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["folder"]) + "?b_size=2", headers=editor, status=200)
    conforms(res.json, {**FOLDER, "batching": {**BATCHING, "next": url}})
    assert len(res.json["items"]) == 2 and res.json["items_total"] == 3
    assert "b_start=2" in res.json["batching"]["next"]


def test_content_post(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.post_json(path_of(site["folder"]), {"@type": "Document", "title": "My Second Document"},
                            headers=editor, status=201)
    conforms(res.json, ITEM)
    assert res.headers["Location"] == res.json["@id"] == site["folder"] + "/my-second-document"


def test_content_patch(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.patch_json(path_of(site["document"]), {"title": "My New Document Title"}, headers=editor,
                             status=204)
    assert res.body == b""
    assert testapp.get(path_of(site["document"]), headers=editor).json["title"] == "My New Document Title"


def test_content_patch_representation(testapp: webtest.TestApp, editor: dict[str, str],
                                      site: dict[str, str]) -> None:
    res = testapp.patch_json(path_of(site["document"]), {"title": "My New Document Title"},
                             headers={**editor, "Prefer": "return=representation"}, status=200)
    conforms(res.json, ITEM)
    assert res.json["title"] == "My New Document Title"


def test_content_delete(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.delete(path_of(site["document"]), headers=editor, status=204)
    assert res.body == b""
    testapp.get(path_of(site["document"]), headers=editor, status=404)


def test_document(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["document"]), headers=editor, status=200)
    conforms(res.json, {**ITEM, "text": RICH_TEXT})
    assert res.json["text"]["data"] == "<p>Lorem ipsum</p>" and res.json["type_title"] == "页面"


def test_newsitem(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    """Plone's news item calls its image `image`; ours is `lead_image`, in the same shape."""
    res = testapp.get(path_of(site["news"]), headers=editor, status=200)
    conforms(res.json, {**ITEM, "text": RICH_TEXT, "lead_image": IMAGE})
    assert res.json["lead_image"]["scales"]["thumb"]["width"] == 128


# --- workflow, history, sharing -----------------------------------------------------------------

def test_workflow_get(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["document"]) + "/@workflow", headers=editor, status=200)
    conforms(res.json, {"@id": url, "history": [WORKFLOW_ACTION], "state": {"id": str, "title": str},
                        "transitions": [{"@id": url, "title": str}]})
    assert res.json["state"]["id"] == "private" and res.json["history"][0]["action"] is None
    assert [t["@id"] for t in res.json["transitions"]] == [site["document"] + "/@workflow/submit"]


def test_workflow_post(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
                       site: dict[str, str]) -> None:
    testapp.post(path_of(site["document"]) + "/@workflow/submit", headers=editor, status=200)
    res = testapp.post(path_of(site["document"]) + "/@workflow/publish", headers=reviewer, status=200)
    conforms(res.json, WORKFLOW_ACTION)
    assert (res.json["action"], res.json["review_state"], res.json["actor"]) == ("publish", "published", "reviewer")


def test_workflow_post_with_body(testapp: webtest.TestApp, editor: dict[str, str], site: dict[str, str]) -> None:
    """Our workflow has no publish straight from private: the folder and everything in it are
    submitted, with the dates plone.restapi's example sends."""
    body = {"comment": "Submitting my folder...", "effective": "2018-01-21T08:00:00",
            "expires": "2029-01-21T08:00:00", "include_children": True}
    res = testapp.post_json(path_of(site["folder"]) + "/@workflow/submit", body, headers=editor, status=200)
    conforms(res.json, WORKFLOW_ACTION)
    assert (res.json["review_state"], res.json["comments"]) == ("pending", "Submitting my folder...")
    child = testapp.get(path_of(site["document"]), headers=editor).json
    assert child["review_state"] == "pending"
    assert child["effective"] == "2018-01-21T00:00:00+00:00"  # sent without an offset: Beijing time


def test_history_get(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
                     site: dict[str, str]) -> None:
    testapp.patch_json(path_of(site["document"]), {"title": "Edited"}, headers=editor, status=204)
    testapp.post(path_of(site["document"]) + "/@workflow/submit", headers=editor, status=200)
    res = testapp.get(path_of(site["document"]) + "/@history", headers=reviewer, status=200)
    entries = res.json
    conforms([e for e in entries if e["type"] == "versioning"], [VERSION_ENTRY])
    conforms([e for e in entries if e["type"] == "workflow"], [WORKFLOW_ENTRY])
    assert sorted(e["version"] for e in entries if e["type"] == "versioning") == [0, 1]
    assert entries[-1]["@id"] == site["document"] + "/@history/0"


def test_sharing_folder_get(testapp: webtest.TestApp, admin: dict[str, str], site: dict[str, str]) -> None:
    res = testapp.get(path_of(site["folder"]) + "/@sharing", headers=admin, status=200)
    conforms(res.json, {"available_roles": [{"id": str, "title": str}], "entries": [SHARING_ENTRY],
                        "inherit": bool})
    everyone = next(e for e in res.json["entries"] if e["id"] == "AuthenticatedUsers")
    conforms(everyone, {**SHARING_ENTRY, "disabled": bool})
    assert everyone["type"] == "group" and set(everyone["roles"]) == {"Contributor", "Editor", "Reader", "Reviewer"}


def test_sharing_folder_post(testapp: webtest.TestApp, admin: dict[str, str], site: dict[str, str],
                             dbsession: Any) -> None:
    """Every logged-in user may then view (and review) the private folder."""
    from portal.accounts import add_user

    add_user(dbsession, "noam", PASSWORD, [], [])
    noam = api_token(testapp, "noam")
    testapp.get(path_of(site["folder"]), headers=noam, status=404)
    body = {"entries": [{"id": "AuthenticatedUsers", "roles": {"Contributor": False, "Editor": False,
                                                              "Reader": True, "Reviewer": True},
                         "type": "user"}], "inherit": True}
    res = testapp.post_json(path_of(site["folder"]) + "/@sharing", body, headers=admin, status=204)
    assert res.body == b""
    testapp.get(path_of(site["folder"]), headers=noam, status=200)


# --- search -------------------------------------------------------------------------------------

@pytest.fixture
def indexed(app: Any, dbsession: Any, backend: WhooshBackend, site: dict[str, str]) -> dict[str, str]:
    index_now(app, dbsession, backend)
    return site


def test_search(testapp: webtest.TestApp, editor: dict[str, str], indexed: dict[str, str]) -> None:
    res = testapp.get(path_of(indexed["folder"]) + "/@search?sort_on=path", headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [SUMMARY], "items_total": int})
    assert [i["@id"] for i in res.json["items"]] == [indexed["folder"], indexed["folder"] + "/doc1",
                                                     indexed["folder"] + "/doc2", indexed["document"]]


def test_search_sort_multiple_indexes(testapp: webtest.TestApp, editor: dict[str, str],
                                      indexed: dict[str, str], town: Any) -> None:
    res = testapp.get(f"{town.path}@search?sort_on=portal_type&sort_on=sortable_title&sort_order=reverse",
                      headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [SUMMARY], "items_total": int})
    kinds = [i["@type"] for i in res.json["items"]]
    assert kinds == sorted(kinds, reverse=True) and "News" in kinds and "Folder" in kinds


def test_search_metadata_fields(testapp: webtest.TestApp, editor: dict[str, str], indexed: dict[str, str]) -> None:
    res = testapp.get("/@search?SearchableText=lorem&metadata_fields=modified&metadata_fields=created",
                      headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [{**SUMMARY, "created": when, "modified": when}],
                        "items_total": int})
    assert {i["@id"] for i in res.json["items"]} == {indexed["document"], indexed["news"]}


def test_search_options(testapp: webtest.TestApp, editor: dict[str, str], indexed: dict[str, str]) -> None:
    query = urllib.parse.urlencode({"sort_on": "path", "path.query": path_of(indexed["folder"]), "path.depth": 1})
    res = testapp.get(f"/@search?{query}", headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [SUMMARY], "items_total": int})
    assert [i["@id"] for i in res.json["items"]] == [indexed["folder"] + "/doc1", indexed["folder"] + "/doc2",
                                                     indexed["document"]]


def test_search_fullobjects(testapp: webtest.TestApp, editor: dict[str, str], indexed: dict[str, str]) -> None:
    res = testapp.get("/@search?SearchableText=lorem&fullobjects=1", headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [{**ITEM, "text": RICH_TEXT}], "items_total": int})
    assert res.json["items_total"] == 2


# --- logging in ---------------------------------------------------------------------------------

def test_login(testapp: webtest.TestApp, users: Any) -> None:
    res = testapp.post_json("/@login", {"login": "editor", "password": PASSWORD}, headers=JSON, status=200)
    conforms(res.json, {"token": str})


def test_login_renew(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    res = testapp.post("/@login-renew", headers=editor, status=200)
    conforms(res.json, {"token": str})
    renewed = {**JSON, "Authorization": f"Bearer {res.json['token']}"}
    testapp.post_json(town.path, {"@type": "Document", "title": "x"}, headers=renewed, status=201)
    testapp.post_json(town.path, {"@type": "Document", "title": "x"}, headers=editor, status=401)


def test_logout(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    res = testapp.post("/@logout", headers=editor, status=204)
    assert res.body == b""
    testapp.post_json(town.path, {"@type": "Document", "title": "x"}, headers=editor, status=401)


# --- errors -------------------------------------------------------------------------------------

def test_unauthorized(testapp: webtest.TestApp, users: Any) -> None:
    res = testapp.get("/@users", headers=JSON, status=401)
    conforms(res.json, {**ERROR, "context": url})
    assert res.json["type"] == "Unauthorized"


def test_404_not_found(testapp: webtest.TestApp) -> None:
    res = testapp.get("/non-existing-resource", headers=JSON, status=404)
    conforms(res.json, {**ERROR, "context": url})
    assert res.json["type"] == "NotFound" and res.json["context"] == HOST


# --- types and vocabularies ---------------------------------------------------------------------

def test_types(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    res = testapp.get(f"{town.path}@types", headers=editor, status=200)
    conforms(res.json, [{"@id": url, "addable": bool, "id": str, "immediately_addable": bool, "title": str}])
    addable = {t["id"] for t in res.json if t["addable"]}
    assert {"Page", "Folder"} <= addable and "Unit" not in addable


def test_types_document(testapp: webtest.TestApp, editor: dict[str, str]) -> None:
    res = testapp.get("/@types/Document", headers=editor, status=200)
    assert res.content_type == "application/json+schema"
    schema = json.loads(res.text)
    conforms(schema, {"title": str, "type": "object".__eq__, "properties": dict, "required": [str],
                      "fieldsets": [{"id": str, "title": str, "fields": [str]}], "layouts": [str]})
    for prop in schema["properties"].values():
        conforms(prop, {"title": str, "type": str, "factory": str})
    assert schema["properties"]["text"]["widget"] == "richtext" and "title" in schema["required"]
    listed = {name for fieldset in schema["fieldsets"] for name in fieldset["fields"]}
    assert listed == set(schema["properties"])


def test_vocabularies(testapp: webtest.TestApp, editor: dict[str, str]) -> None:
    res = testapp.get("/@vocabularies", headers=editor, status=200)
    conforms(res.json, [{"@id": url, "title": str}])
    assert HOST + "/@vocabularies/Disclosure.subject" in {v["@id"] for v in res.json}


def test_vocabularies_get(testapp: webtest.TestApp, editor: dict[str, str]) -> None:
    res = testapp.get("/@vocabularies/Disclosure.subject", headers=editor, status=200)
    conforms(res.json, {"@id": url, "items": [{"title": str, "token": str}], "items_total": int})
    assert res.json["items_total"] == 22 and res.json["items"][1] == {"title": "综合政务", "token": "综合政务"}

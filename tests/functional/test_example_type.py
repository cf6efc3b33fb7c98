"""A new content type needs one module: tests/example_type defines Event (one extra field, `venue`)
and nothing else in the portal names it. Included into an app of its own, it is addable,
editable through the form and the API, versioned, searchable by its field and listed."""
from __future__ import annotations

import importlib
from typing import Any, Iterator

import pytest
import webtest
from sqlalchemy import func, select

from portal import main
from portal.models import Revision
from search.documents import document
from search.indexer import apply_outbox
from tests.conftest import api_token, login
from tests.functional.test_editing import add_item, edit, node_at

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def event_type(engine: Any) -> Iterator[Any]:
    module = importlib.import_module("tests.example_type")  # mapped only from here on
    module.Event.__table__.create(engine, checkfirst=True)
    yield module
    module.Event.__table__.drop(engine, checkfirst=True)


@pytest.fixture(scope="module")
def event_app(app: Any, app_settings: dict[str, Any], engine: Any, event_type: Any,
              tmp_path_factory: Any) -> Any:
    """The portal with one more package of types, as an operator would include it."""
    settings = {**app_settings, "portal.engine": engine, "portal.includes": "tests.example_type search.integration",
                "search.index_dir": str(tmp_path_factory.mktemp("event-index"))}
    return main({}, **settings)


@pytest.fixture
def eventapp(event_app: Any, tm: Any, dbsession: Any, users: Any) -> webtest.TestApp:
    return webtest.TestApp(event_app, extra_environ={
        "HTTP_HOST": "example.com", "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession,
        "REMOTE_ADDR": "10.0.0.2"})


def index_now(registry: Any, dbsession: Any) -> None:
    while apply_outbox(registry, dbsession, registry["search_backend"]):
        pass


def test_an_event_is_added_and_edited_through_the_form_and_versioned(eventapp, dbsession, town):
    login(eventapp, "editor")
    form = eventapp.get(f"{town.path}@@add?type=Event").forms["content-form"]
    assert "venue" in form.fields
    node = add_item(eventapp, dbsession, town.path, "Event", {"title": "镇政府开放日", "venue": "镇政府一楼大厅"})
    assert (node.type, node.venue, node.state) == ("Event", "镇政府一楼大厅", "private")
    edit(eventapp, node.path, {"venue": "镇便民服务中心"})
    dbsession.expire_all()
    assert node_at(dbsession, node.path).venue == "镇便民服务中心"
    revisions = dbsession.scalars(select(Revision.data).where(Revision.node_id == node.id)
                                  .order_by(Revision.number)).all()
    assert [r["venue"] for r in revisions] == ["镇政府一楼大厅", "镇便民服务中心"]
    diff = eventapp.get(f"{node.path}@@history", {"a": 1, "b": 2})
    assert "<ins>便民服务中心</ins>" in diff.text


def test_an_event_is_added_and_edited_through_the_api(eventapp, dbsession, town):
    headers = api_token(eventapp, "editor")
    made = eventapp.post_json(town.path, {"@type": "Event", "title": "防汛演练", "venue": "长江干堤"},
                              headers=headers, status=201).json
    assert (made["@type"], made["venue"]) == ("Event", "长江干堤")
    path = made["@id"].removeprefix("http://example.com") + "/"
    changed = eventapp.patch_json(path, {"venue": "小池镇江堤"}, headers={**headers, "Prefer": "return=representation"}).json
    assert changed["venue"] == "小池镇江堤"
    node = node_at(dbsession, path)
    assert dbsession.scalar(select(func.count(Revision.id)).where(Revision.node_id == node.id)) == 2
    assert eventapp.get(path, headers=headers).json["venue"] == "小池镇江堤"


def test_a_published_event_is_found_by_its_venue_and_listed(event_app, eventapp, dbsession, town):
    editor, reviewer = api_token(eventapp, "editor"), api_token(eventapp, "reviewer")
    made = eventapp.post_json(town.path, {"@type": "Event", "title": "科普宣传周", "venue": "五祖寺广场"},
                              headers=editor, status=201).json
    path = made["@id"].removeprefix("http://example.com") + "/"
    eventapp.post_json(f"{path}@workflow/submit", {}, headers=editor)
    eventapp.post_json(f"{path}@workflow/publish", {}, headers=reviewer)
    assert document(event_app.registry, dbsession, node_at(dbsession, path))["keywords"] == ["五祖寺广场"]
    index_now(event_app.registry, dbsession)
    eventapp.reset()
    found = eventapp.get("/@search", {"SearchableText": "五祖寺广场"}, headers=JSON).json
    assert [item["@id"] for item in found["items"]] == [made["@id"]]
    assert found["items"][0]["@type"] == "Event"
    page = eventapp.get("/@@search", {"q": "五祖寺广场"})
    assert "科普宣传周" in page.text
    assert "科普宣传周" in eventapp.get(town.path).text  # a dated type: in the unit's latest items
    listing = eventapp.get(town.path, headers=JSON).json
    assert any(item["@id"] == made["@id"] for item in listing["items"])

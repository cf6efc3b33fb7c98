"""Specification of search as the portal wires it: the outbox, permissions, the `@@search` page and
the `@search` JSON endpoint, through the real app.

Each test runs in one transaction that is rolled back, so the after-commit drain never runs here:
tests apply the outbox themselves (`index_now`). Each test gets a fresh, empty index in tmp_path
(`backend`), so documents never leak from one test into another; only what a test creates is in
its index.
"""
from __future__ import annotations

import dataclasses

import datetime as dt
import urllib.parse
from typing import Any, Iterator

import lxml.html
import pytest
import transaction
import webtest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from portal import content
from portal.accounts import add_user
from portal.cli import make_request
from portal.models import Node, Revision, WorkflowEvent, get_tm_session
from portal.schemas import LOCAL_TZ
from search import SearchQuery, WhooshBackend
from search.backend import EVERYONE
from search.indexer import OutboxBusy, apply_outbox, drain, drain_lock
from search.integration import drain_quietly
from search.outbox import INDEX, SUBTREE, UNINDEX, SearchOutbox, enqueue
from tests.conftest import PASSWORD, api_token, login, unit

JSON = {"Accept": "application/json"}
HOST = "http://example.com"
WHO = ("anonymous", "editor", "other-editor", "reviewer", "manager")


# --- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture
def backend(app: Any, tmp_path: Any) -> Iterator[WhooshBackend]:
    """A fresh, empty index for this test, put where the app looks for it (restored afterwards)."""
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
    """Bearer headers per kind of user; anonymous has none."""
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    for who in WHO[1:]:
        out[who] = {"Authorization": api_token(testapp, who)["Authorization"]}
    return out


def index_now(registry: Any, dbsession: Any, backend: WhooshBackend) -> int:
    """What the after-commit drain would do: apply the whole outbox."""
    total = 0
    while done := apply_outbox(registry, dbsession, backend):
        total += done
    return total


def outbox(dbsession: Any) -> list[tuple[int, str]]:
    dbsession.flush()
    return [(r.node_id, r.op) for r in dbsession.scalars(select(SearchOutbox).order_by(SearchOutbox.id))]


def path_of(url: str) -> str:
    """A URL as a path of this site. An item's `@id` has no trailing slash (plone.restapi's), its
    path here has one, so that `path + "@workflow/submit"` names the endpoint."""
    path, _sep, query = url.removeprefix(HOST).partition("?")
    path = path if "/@" in path else path.rstrip("/") + "/"
    return f"{path}?{query}" if query else path


def add(testapp: webtest.TestApp, headers: dict[str, str], path: str, type_name: str, **fields: Any) -> dict[str, Any]:
    res = testapp.post_json(path, {"@type": type_name, **fields}, headers={**JSON, **headers}, status=201)
    return res.json


def run(testapp: webtest.TestApp, headers: dict[str, str], item: dict[str, Any], *transitions: str) -> None:
    for name in transitions:
        body = {"comment": "测试"} if name == "reject" else {}
        testapp.post_json(path_of(item["@id"]) + f"@workflow/{name}", body, headers={**JSON, **headers})


def publish(testapp: webtest.TestApp, tokens: dict[str, dict[str, str]], item: dict[str, Any]) -> None:
    run(testapp, tokens["editor"], item, "submit")
    run(testapp, tokens["reviewer"], item, "publish")


def page_hits(testapp: webtest.TestApp, query: str, headers: dict[str, str] | None = None,
              where: str = "/", **params: Any) -> list[tuple[str, str]]:
    """(path, title) of the hits on a search results page."""
    res = search_page(testapp, query, headers, where, **params)
    doc = lxml.html.fromstring(res.text)
    return [(path_of(a.get("href")), a.text_content().strip()) for a in doc.xpath('//ol[@class="hits"]/li/h2/a')]


def search_page(testapp: webtest.TestApp, query: str, headers: dict[str, str] | None = None, where: str = "/",
                **params: Any) -> webtest.TestResponse:
    qs = urllib.parse.urlencode({"q": query, **params}, doseq=True)
    return testapp.get(f"{where}@@search?{qs}", headers=headers or {}, status=200)


def api_search(testapp: webtest.TestApp, headers: dict[str, str] | None = None, where: str = "/",
               **params: Any) -> dict[str, Any]:
    qs = urllib.parse.urlencode(params, doseq=True)
    res = testapp.get(f"{where}@search?{qs}", headers={**JSON, **(headers or {})}, status=200)
    assert res.content_type == "application/json"
    return res.json


def api_paths(testapp: webtest.TestApp, text: str, headers: dict[str, str] | None = None, **params: Any) -> set[str]:
    body = api_search(testapp, headers, SearchableText=text, b_size=100, **params)
    assert body["items_total"] == len(body["items"])
    return {path_of(i["@id"]) for i in body["items"]}


def found_by(testapp: webtest.TestApp, text: str, headers: dict[str, str]) -> set[str]:
    """Paths found through both the page and @search; they must agree."""
    on_page = {p for p, _t in page_hits(testapp, text, headers)}
    assert on_page == api_paths(testapp, text, headers)
    return on_page


def facets_on_page(res: webtest.TestResponse) -> dict[str, dict[str, int]]:
    """{field: {value: count}} from the facet links (each link toggles one value of one field)."""
    current = urllib.parse.parse_qs(urllib.parse.urlsplit(res.request.url).query)
    doc = lxml.html.fromstring(res.text)
    out: dict[str, dict[str, int]] = {}
    for li in doc.xpath('//aside[@class="facets"]//li'):
        href = li.xpath("./a")[0].get("href")
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
        toggled = {f: set(params.get(f, [])) ^ set(current.get(f, [])) for f in ("unit", "type", "subject", "year")}
        toggled = {f: v for f, v in toggled.items() if v}
        assert len(toggled) == 1 and len(next(iter(toggled.values()))) == 1, href
        (field, (value,)), = toggled.items()
        count = int(li.xpath('./span[@class="meta"]')[0].text_content().strip("() "))
        out.setdefault(field, {})[value] = count
    return out


def this_year() -> str:
    return str(dt.datetime.now(LOCAL_TZ).year)


# --- the outbox ---------------------------------------------------------------------------------

def test_creating_editing_and_transitioning_write_outbox_rows(app, testapp, dbsession, backend, tokens, town):
    dbsession.execute(delete(SearchOutbox))
    page = add(testapp, tokens["editor"], town.path, "Page", title="外包箱测试页")
    node = dbsession.scalar(select(Node).where(Node.path == path_of(page["@id"])))
    assert outbox(dbsession) == [(node.id, INDEX)]
    testapp.patch_json(path_of(page["@id"]), {"title": "外包箱测试页（改）"}, headers={**JSON, **tokens["editor"]})
    assert outbox(dbsession) == [(node.id, INDEX)] * 2
    run(testapp, tokens["editor"], page, "submit")  # a transition: the node and everything below it
    assert outbox(dbsession) == [(node.id, INDEX)] * 2 + [(node.id, SUBTREE)]
    assert index_now(app.registry, dbsession, backend) == 3
    assert outbox(dbsession) == []
    assert {p for p, _t in page_hits(testapp, "外包箱测试页", tokens["editor"])} == {path_of(page["@id"])}


def test_an_aborted_transaction_takes_its_outbox_rows_with_it(app, backend):
    """Content and outbox rows commit or roll back together: the index never sees a rolled-back item."""
    factory = app.registry["dbsession_factory"]
    tm = transaction.TransactionManager(explicit=True)
    tm.begin()
    try:
        session = get_tm_session(factory, tm)
        request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": session})
        town = unit(session, "黄梅镇")
        node = content.create(request, town, "Page", {"title": "回滚之页", "body": "<p>回滚测试正文</p>"},
                              unrestricted=True)
        content.set_state(request, node, "published", "publish")
        node_id = node.id
        assert (node_id, INDEX) in outbox(session)
    finally:
        tm.abort()
    with factory() as fresh:
        assert fresh.scalar(select(func.count(SearchOutbox.id)).where(SearchOutbox.node_id == node_id)) == 0
        assert fresh.get(Node, node_id) is None
    drain_quietly(app.registry)
    assert backend.query(SearchQuery(text="回滚测试正文", principals=[EVERYONE])).total == 0
    assert backend.doc_count() == 0


def test_a_crash_between_commit_and_indexing_loses_nothing(app, backend):
    """Committed with no drain (as if the process died after COMMIT): the next drain (start-up) indexes it."""
    registry = app.registry
    factory = registry["dbsession_factory"]
    settings = registry["search.settings"]
    registry["search.settings"] = dataclasses.replace(settings, drain_after_commit=False)
    node_id = None
    try:
        tm = transaction.TransactionManager(explicit=True)
        with tm:
            session = get_tm_session(factory, tm)
            request = make_request(registry, {"tm.manager": tm, "app.dbsession": session})
            node = content.create(request, unit(session, "黄梅镇"), "Page",
                                  {"title": "崩溃恢复之页", "body": "<p>断电之后仍可检索</p>"}, name="crash-recovery",
                                  unrestricted=True)
            content.set_state(request, node, "published", "publish")
            node_id = node.id
        with factory() as fresh:
            assert fresh.scalar(select(func.count(SearchOutbox.id)).where(SearchOutbox.node_id == node_id)) >= 1
        assert backend.query(SearchQuery(text="断电之后", principals=[EVERYONE])).total == 0

        drain_quietly(registry)  # what start-up does

        results = backend.query(SearchQuery(text="断电之后", principals=[EVERYONE]))
        assert [h.id for h in results.hits] == [str(node_id)]
        with factory() as fresh:
            assert fresh.scalar(select(func.count(SearchOutbox.id))) == 0
    finally:
        registry["search.settings"] = settings
        if node_id is not None:
            tm = transaction.TransactionManager(explicit=True)
            with tm:
                session = get_tm_session(factory, tm)
                request = make_request(registry, {"tm.manager": tm, "app.dbsession": session})
                node = session.get(Node, node_id)
                if node is not None:
                    content.delete(request, node, unrestricted=True)
                session.execute(delete(SearchOutbox).where(SearchOutbox.node_id == node_id))
            with factory() as fresh:
                assert fresh.get(Node, node_id) is None
                assert fresh.scalar(select(func.count(Revision.id)).where(Revision.node_id == node_id)) == 0
                assert fresh.scalar(select(func.count(WorkflowEvent.id)).where(WorkflowEvent.node_id == node_id)) == 0


def test_a_subtree_row_covers_what_is_below_the_node_when_it_is_applied(app, testapp, dbsession, backend, tokens,
                                                                         town):
    """A sharing change writes one row for the folder, read when applied: an item that a concurrent
    transaction added below (invisible to the sharing change's transaction) is written again too."""
    folder = add(testapp, tokens["editor"], town.path, "Folder", title="并发共享栏目", column_kind="其他")
    folder_node = dbsession.scalar(select(Node).where(Node.path == path_of(folder["@id"])))
    dbsession.execute(delete(SearchOutbox))
    enqueue(dbsession, [folder_node.id], SUBTREE)  # what the sharing change committed
    item = add(testapp, tokens["editor"], path_of(folder["@id"]), "Page", title="后到之页", body="<p>子树展开</p>")
    item_id = dbsession.scalar(select(Node.id).where(Node.path == path_of(item["@id"])))
    dbsession.execute(delete(SearchOutbox).where(SearchOutbox.node_id == item_id))  # its own row applied before
    assert outbox(dbsession) == [(folder_node.id, SUBTREE)]
    assert index_now(app.registry, dbsession, backend) == 1
    assert found_by(testapp, "子树展开", tokens["editor"]) == {path_of(item["@id"])}


def test_the_database_decides_whatever_the_row_says(app, testapp, dbsession, backend, tokens, town):
    """Rows name nodes: a node that exists and is searchable is indexed, any other is removed (on
    SQLite a deleted node's id can be taken again by the next node, after its `unindex` row)."""
    item = add(testapp, tokens["editor"], town.path, "Page", title="行只点名", body="<p>数据库决定</p>")
    item_id = dbsession.scalar(select(Node.id).where(Node.path == path_of(item["@id"])))
    dbsession.execute(delete(SearchOutbox))
    enqueue(dbsession, [item_id], UNINDEX)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "数据库决定", tokens["editor"]) == {path_of(item["@id"])}
    testapp.delete(path_of(item["@id"]), headers={**JSON, **tokens["editor"]}, status=204)
    dbsession.execute(delete(SearchOutbox))
    enqueue(dbsession, [item_id], INDEX)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "数据库决定", tokens["editor"]) == set()


def test_a_drain_waits_for_the_drain_lock_and_leaves_its_rows_when_it_cannot_get_it(app, backend, monkeypatch):
    """Another process (here: another open file) holds the lock: the drain gives up, the rows stay."""
    import fcntl
    import os

    from search import indexer

    monkeypatch.setattr(indexer, "DRAIN_TIMEOUT", 0.2)  # what drain_quietly waits

    registry = app.registry
    factory = registry["dbsession_factory"]
    lock_path = drain_lock(registry, backend).path
    settings = registry["search.settings"]
    registry["search.settings"] = dataclasses.replace(settings, drain_after_commit=False)
    tm = transaction.TransactionManager(explicit=True)
    try:
        with tm:
            session = get_tm_session(factory, tm)
            request = make_request(registry, {"tm.manager": tm, "app.dbsession": session})
            node = content.create(request, unit(session, "黄梅镇"), "Page", {"title": "等锁之页", "body": "<p>排队写入</p>"},
                                  unrestricted=True)
            node_id = node.id
    finally:
        registry["search.settings"] = settings
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with pytest.raises(OutboxBusy):
                drain(app.registry, factory, backend, timeout=0.2)
            drain_quietly(app.registry)  # logs, does not raise
            with factory() as fresh:
                assert fresh.scalar(select(func.count(SearchOutbox.id)).where(SearchOutbox.node_id == node_id)) >= 1
        finally:
            os.close(fd)
        assert backend.doc_count() == 0
        assert drain(app.registry, factory, backend) >= 1
        assert backend.doc_count() == 1
    finally:
        tm = transaction.TransactionManager(explicit=True)
        with tm:
            session = get_tm_session(factory, tm)
            request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": session})
            content.delete(request, session.get(Node, node_id), unrestricted=True)
        drain(app.registry, factory, backend)
        assert backend.doc_count() == 0


# --- permissions --------------------------------------------------------------------------------

MAY_VIEW = {  # state → who may find it
    "private": {"editor", "reviewer", "manager"},
    "pending": {"editor", "reviewer", "manager"},
    "published": set(WHO),
}


@pytest.fixture
def three_states(app, testapp, tokens, town) -> dict[str, str]:
    """One page per state in 黄梅镇, all mentioning 权限矩阵; state → path."""
    items = {state: add(testapp, tokens["editor"], town.path, "Page", title=f"权限矩阵{state}",
                        body=f"<p>权限矩阵之{state}</p>") for state in MAY_VIEW}
    run(testapp, tokens["editor"], items["pending"], "submit")
    publish(testapp, tokens, items["published"])
    return {state: path_of(item["@id"]) for state, item in items.items()}


@pytest.mark.parametrize("who", WHO)
def test_each_user_finds_exactly_what_they_may_view(app, testapp, dbsession, backend, tokens, three_states, who):
    index_now(app.registry, dbsession, backend)
    expected = {three_states[state] for state, allowed in MAY_VIEW.items() if who in allowed}
    assert found_by(testapp, "权限矩阵", tokens[who]) == expected
    for path in expected:  # what search finds, the user may open
        testapp.get(path, headers=tokens[who], status=200)
    for path in set(three_states.values()) - expected:  # 404: a private item answers as a missing one
        assert testapp.get(path, headers=tokens[who], status="*").status_int in (302, 401, 403, 404)
    body = api_search(testapp, tokens[who], SearchableText="权限矩阵")
    assert body["items_total"] == len(expected)
    assert sum(c["count"] for c in body["facets"]["unit"]) == len(expected)


@pytest.mark.parametrize("when", ["future-effective", "past-expiry"])
def test_out_of_date_items_are_hidden_from_the_public(app, testapp, dbsession, backend, tokens, town, when):
    dates = {"future-effective": {"effective": "2099-01-01T00:00:00+08:00"},
             "past-expiry": {"expires": "2020-01-01T00:00:00+08:00"}}[when]
    item = add(testapp, tokens["editor"], town.path, "Page", title="时效之页", body="<p>时效窗口</p>", **dates)
    publish(testapp, tokens, item)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "时效窗口", tokens["anonymous"]) == set()
    assert testapp.get(path_of(item["@id"]), status="*").status_int in (302, 401, 403, 404)


@pytest.mark.parametrize("when", ["future-effective", "past-expiry"])
@pytest.mark.parametrize("state", ["private", "published"])
def test_out_of_date_items_are_found_by_their_editor(app, testapp, dbsession, backend, tokens, town, when, state):
    dates = {"future-effective": {"effective": "2099-01-01T00:00:00+08:00"},
             "past-expiry": {"expires": "2020-01-01T00:00:00+08:00"}}[when]
    item = add(testapp, tokens["editor"], town.path, "Page", title="时效之页", body="<p>时效窗口</p>", **dates)
    if state == "published":
        publish(testapp, tokens, item)
    index_now(app.registry, dbsession, backend)
    testapp.get(path_of(item["@id"]), headers=tokens["editor"], status=200)
    assert found_by(testapp, "时效窗口", tokens["editor"]) == {path_of(item["@id"])}


def test_after_retract_the_public_no_longer_finds_it(app, testapp, dbsession, backend, tokens, town):
    item = add(testapp, tokens["editor"], town.path, "Page", title="撤回之页", body="<p>撤回测试</p>")
    publish(testapp, tokens, item)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "撤回测试", {}) == {path_of(item["@id"])}
    run(testapp, tokens["reviewer"], item, "retract")
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "撤回测试", {}) == set()
    assert found_by(testapp, "撤回测试", tokens["editor"]) == {path_of(item["@id"])}


def test_a_reader_role_on_a_folder_makes_the_private_items_below_findable(app, testapp, dbsession, backend, tokens,
                                                                          town):
    folder = add(testapp, tokens["editor"], town.path, "Folder", title="共享栏目", column_kind="其他")
    inner = add(testapp, tokens["editor"], path_of(folder["@id"]), "Folder", title="子栏目", column_kind="其他")
    item = add(testapp, tokens["editor"], path_of(inner["@id"]), "Page", title="共享之页", body="<p>本地角色</p>")
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "本地角色", tokens["other-editor"]) == set()
    testapp.post_json(path_of(folder["@id"]) + "@sharing",
                      {"entries": [{"id": "user:other-editor", "roles": {"Reader": True}}]},
                      headers={**JSON, **tokens["manager"]}, status=204)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "本地角色", tokens["other-editor"]) == {path_of(item["@id"])}
    testapp.get(path_of(item["@id"]), headers=tokens["other-editor"], status=200)
    # blocking inheritance below the grant takes it away again
    testapp.post_json(path_of(inner["@id"]) + "@sharing", {"inherit": False},
                      headers={**JSON, **tokens["manager"]}, status=204)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "本地角色", tokens["other-editor"]) == set()


def test_an_editor_added_later_finds_the_units_private_items(app, tm, testapp, dbsession, backend, tokens, town):
    item = add(testapp, tokens["editor"], town.path, "Page", title="后加编辑", body="<p>新编辑可检索</p>")
    index_now(app.registry, dbsession, backend)
    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})  # as `portal user add`
    add_user(dbsession, "late-editor", PASSWORD, [], ["黄梅镇"], request=request)
    late = {"Authorization": api_token(testapp, "late-editor")["Authorization"]}
    testapp.get(path_of(item["@id"]), headers=late, status=200)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "新编辑可检索", late) == {path_of(item["@id"])}


def test_deleting_a_folder_unindexes_everything_below(app, testapp, dbsession, backend, tokens, town):
    folder = add(testapp, tokens["editor"], town.path, "Folder", title="待删栏目", column_kind="其他")
    inner = add(testapp, tokens["editor"], path_of(folder["@id"]), "Folder", title="待删子栏目", column_kind="其他")
    items = [add(testapp, tokens["editor"], path, "Page", title=f"待删之页{n}", body="<p>删除级联</p>")
             for n, path in enumerate([path_of(folder["@id"]), path_of(inner["@id"])])]
    keep = add(testapp, tokens["editor"], town.path, "Page", title="留下之页", body="<p>删除级联</p>")
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "删除级联", tokens["editor"]) == {path_of(i["@id"]) for i in items + [keep]}
    testapp.delete(path_of(folder["@id"]), headers={**JSON, **tokens["editor"]}, status=204)
    assert {op for _n, op in outbox(dbsession)} == {UNINDEX}
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "删除级联", tokens["editor"]) == {path_of(keep["@id"])}
    assert found_by(testapp, "删除级联", tokens["manager"]) == {path_of(keep["@id"])}


def test_renaming_a_folder_moves_the_documents_below(app, testapp, dbsession, backend, tokens, town):
    folder = add(testapp, tokens["editor"], town.path, "Folder", title="旧栏目", column_kind="其他", id="old-column")
    item = add(testapp, tokens["editor"], path_of(folder["@id"]), "Page", title="搬家之页", body="<p>改名跟随</p>",
               id="moving")
    publish(testapp, tokens, folder)  # an item is public only while every container above it is
    publish(testapp, tokens, item)
    index_now(app.registry, dbsession, backend)
    assert found_by(testapp, "改名跟随", {}) == {f"{town.path}old-column/moving/"}
    token = login(testapp, "manager")  # renaming a published item changes public URLs: not an editor's call
    testapp.post(f"{town.path}old-column/@@rename", {"csrf_token": token, "name": "new-column"}, status=302)
    testapp.reset()
    index_now(app.registry, dbsession, backend)
    assert page_hits(testapp, "改名跟随") == [(f"{town.path}new-column/moving/", "搬家之页")]
    assert api_paths(testapp, "改名跟随") == {f"{town.path}new-column/moving/"}
    testapp.get(f"{town.path}new-column/moving/", status=200)


def test_a_draft_of_a_published_item_does_not_replace_what_the_public_finds(app, testapp, dbsession, backend, tokens,
                                                                             town):
    item = add(testapp, tokens["editor"], town.path, "Page", title="公开标题甲", body="<p>草稿隔离正文</p>")
    publish(testapp, tokens, item)
    res = testapp.patch_json(path_of(item["@id"]), {"title": "草稿标题乙", "body": "<p>草稿独有内容</p>"},
                             headers={**JSON, **tokens["editor"]})
    assert res.status_int == 202
    index_now(app.registry, dbsession, backend)
    assert page_hits(testapp, "草稿隔离正文") == [(path_of(item["@id"]), "公开标题甲")]
    assert [i["title"] for i in api_search(testapp, SearchableText="草稿隔离正文")["items"]] == ["公开标题甲"]
    assert page_hits(testapp, "草稿标题乙") == []
    assert page_hits(testapp, "草稿独有内容") == []
    # once approved, the new version is what everyone finds
    run(testapp, tokens["reviewer"], item, "publish")
    index_now(app.registry, dbsession, backend)
    assert page_hits(testapp, "草稿独有内容") == [(path_of(item["@id"]), "草稿标题乙")]
    assert page_hits(testapp, "草稿隔离正文") == []


# --- recall and ranking through the page --------------------------------------------------------

@pytest.fixture
def recall_docs(app, testapp, dbsession, backend, tokens, town) -> dict[str, str]:
    bodies = {
        "zhuanwang": ("关于电子政务专网建设的通知", "<p>建成覆盖县乡的电子政务专网。</p>", "梅政办发〔2011〕108号"),
        "bianmin": ("关于便民服务中心的通知", "<p>各乡镇便民服务中心实现互联互通。</p>", "梅政办发〔2011〕10号"),
        "xietong": ("关于协同办公系统的通知", "<p>正式启用协同办公系统。</p>", "梅政办发〔2012〕108号"),
        # every character of the phrases above, but none of the phrases
        "decoy": ("关于政务工作的通知", "<p>电子政务建设，专网维护；便民服务，中心工作；协同推进，办公用品。"
                  "梅政办发2011年第108号文件已废止。</p>", ""),
    }
    paths = {}
    for key, (title, body, number) in bodies.items():
        doc = add(testapp, tokens["editor"], town.path, "Disclosure", title=title, body=body, doc_number=number,
                  subject="综合政务", genre="通知")
        publish(testapp, tokens, doc)
        paths[key] = path_of(doc["@id"])
    index_now(app.registry, dbsession, backend)
    return paths


@pytest.mark.parametrize("query, key", [("电子政务专网", "zhuanwang"), ("便民服务中心", "bianmin"),
                                        ("协同办公", "xietong")])
def test_exact_recall_of_phrases(testapp, recall_docs, query, key):
    assert {p for p, _t in page_hits(testapp, query)} == {recall_docs[key]}
    assert api_paths(testapp, query) == {recall_docs[key]}


def test_quoted_phrase_must_match_as_a_whole(testapp, recall_docs):
    both_words = {p for p, _t in page_hits(testapp, "电子政务 专网")}
    assert both_words == {recall_docs["zhuanwang"], recall_docs["decoy"]}
    assert {p for p, _t in page_hits(testapp, '"电子政务 专网"')} == {recall_docs["zhuanwang"]}
    assert {p for p, _t in page_hits(testapp, "“电子政务专网”")} == {recall_docs["zhuanwang"]}


@pytest.mark.parametrize("typed", ["梅政办发〔2011〕108号", "梅政办发(2011)108号", "梅政办发（2011）108号",
                                   "梅政办发[2011]108号", "梅政办发 [2011] 108 号"])
def test_doc_number_in_any_bracket_style_finds_that_document_first(testapp, recall_docs, typed):
    hits = page_hits(testapp, typed)
    assert hits and hits[0][0] == recall_docs["zhuanwang"]
    body = api_search(testapp, SearchableText=typed)
    assert path_of(body["items"][0]["@id"]) == recall_docs["zhuanwang"]
    assert body["items"][0]["doc_number"] == "梅政办发〔2011〕108号"


def test_hits_highlight_the_query(app, testapp, recall_docs):
    res = search_page(testapp, "协同办公")
    assert "<mark>协同办公</mark>" in res.text


# --- facets, filters, sorting, paging -----------------------------------------------------------

@pytest.fixture
def faceted(app, testapp, dbsession, backend, tokens, town, other_town) -> dict[str, str]:
    """Four published items mentioning 春耕备耕, in two units, of three types and two subjects."""
    made = {
        "d1": add(testapp, tokens["editor"], town.path, "Disclosure", title="春耕备耕通知一", subject="综合政务",
                  genre="通知", body="<p>春耕备耕</p>"),
        "d2": add(testapp, tokens["editor"], town.path, "Disclosure", title="春耕备耕通知二",
                  subject="农业、林业、水利", genre="通告", body="<p>春耕备耕</p>"),
        "page": add(testapp, tokens["editor"], town.path, "Page", title="春耕备耕指南", body="<p>春耕备耕</p>"),
    }
    news = add(testapp, tokens["other-editor"], other_town.path, "News", title="孔垄镇春耕备耕动态",
               body="<p>春耕备耕</p>")
    for key in ("d1", "d2", "page"):
        publish(testapp, tokens, made[key])
    run(testapp, tokens["other-editor"], news, "submit")
    run(testapp, tokens["reviewer"], news, "publish")
    made["news"] = news
    index_now(app.registry, dbsession, backend)
    return {k: path_of(v["@id"]) for k, v in made.items()}


def expected_facets() -> dict[str, dict[str, int]]:
    return {"unit": {"黄梅镇": 3, "孔垄镇": 1}, "type": {"Disclosure": 2, "Page": 1, "News": 1},
            "subject": {"综合政务": 1, "农业、林业、水利": 1}, "year": {this_year(): 4}}


def test_facets_with_counts_on_the_page(testapp, faceted):
    res = search_page(testapp, "春耕备耕")
    assert facets_on_page(res) == expected_facets()


def test_facets_with_counts_in_the_api(testapp, faceted):
    body = api_search(testapp, SearchableText="春耕备耕")
    assert body["items_total"] == 4
    facets = {name: {v["value"]: v["count"] for v in values} for name, values in body["facets"].items()}
    assert facets == expected_facets()
    assert body["facets"]["unit"][0] == {"value": "黄梅镇", "count": 3}  # most frequent first


def test_filters_on_the_page(testapp, faceted):
    assert {p for p, _t in page_hits(testapp, "春耕备耕", subject="综合政务")} == {faceted["d1"]}
    assert {p for p, _t in page_hits(testapp, "春耕备耕", type="Disclosure")} == {faceted["d1"], faceted["d2"]}
    assert {p for p, _t in page_hits(testapp, "春耕备耕", type=["News", "Page"])} == {faceted["news"],
                                                                                   faceted["page"]}
    assert {p for p, _t in page_hits(testapp, "春耕备耕", unit="孔垄镇")} == {faceted["news"]}
    assert {p for p, _t in page_hits(testapp, "春耕备耕", unit="孔垄镇", type="Disclosure")} == set()
    # with a filter chosen, the other facets count within it
    res = search_page(testapp, "春耕备耕", unit="黄梅镇")
    assert facets_on_page(res)["type"] == {"Disclosure": 2, "Page": 1}


def test_filters_in_the_api(testapp, faceted):
    assert api_paths(testapp, "春耕备耕", portal_type="Disclosure") == {faceted["d1"], faceted["d2"]}
    assert api_paths(testapp, "春耕备耕", unit="孔垄镇") == {faceted["news"]}
    assert api_paths(testapp, "春耕备耕", subject="农业、林业、水利") == {faceted["d2"]}
    assert api_paths(testapp, "春耕备耕", year=this_year()) == set(faceted.values())
    assert api_paths(testapp, "春耕备耕", year="1999") == set()


def test_browsing_a_filter_without_words(testapp, faceted):
    assert {p for p, _t in page_hits(testapp, "", type="Disclosure")} == {faceted["d1"], faceted["d2"]}


def test_sort_by_date_puts_the_newest_first(testapp, faceted):
    newest_first = [faceted["news"], faceted["page"], faceted["d2"], faceted["d1"]]  # order of publication
    assert [p for p, _t in page_hits(testapp, "春耕备耕", sort="date")] == newest_first
    body = api_search(testapp, SearchableText="春耕备耕", sort_on="effective", sort_order="reverse")
    assert [path_of(i["@id"]) for i in body["items"]] == newest_first
    oldest_first = api_search(testapp, SearchableText="春耕备耕", sort_on="effective")  # plone.restapi's default
    assert [path_of(i["@id"]) for i in oldest_first["items"]] == newest_first[::-1]


def test_search_within_a_unit_finds_only_its_items(app, testapp, faceted, town, other_town):
    assert {p for p, _t in page_hits(testapp, "春耕备耕", where=town.path)} == {faceted["d1"], faceted["d2"],
                                                                                faceted["page"]}
    assert {p for p, _t in page_hits(testapp, "春耕备耕", where=other_town.path)} == {faceted["news"]}
    body = api_search(testapp, where=other_town.path, SearchableText="春耕备耕")
    assert [path_of(i["@id"]) for i in body["items"]] == [faceted["news"]]
    assert body["@id"].startswith(f"{HOST}{other_town.path}@search")
    res = search_page(testapp, "春耕备耕", where=town.path)
    assert f'action="{HOST}{town.path}@@search"' in res.text


@pytest.fixture
def twelve(app, testapp, dbsession, backend, tokens, town) -> list[str]:
    """Twelve private pages mentioning 分页测试 (the editor finds them all)."""
    paths = [path_of(add(testapp, tokens["editor"], town.path, "Page", title=f"分页测试{n:02d}",
                         body="<p>分页测试</p>", id=f"p{n:02d}")["@id"]) for n in range(12)]
    index_now(app.registry, dbsession, backend)
    return paths


def test_paging_on_the_page(testapp, tokens, twelve):
    first = search_page(testapp, "分页测试", tokens["editor"])
    doc = lxml.html.fromstring(first.text)
    assert len(doc.xpath('//ol[@class="hits"]/li')) == 10
    nxt = doc.xpath('//nav[@class="pager"]/a')
    assert len(nxt) == 1 and "page=2" in nxt[0].get("href")
    second = testapp.get(path_of(nxt[0].get("href")), headers=tokens["editor"])
    seen = page_hits(testapp, "分页测试", tokens["editor"]) + [
        (path_of(a.get("href")), a.text_content())
        for a in lxml.html.fromstring(second.text).xpath('//ol[@class="hits"]/li/h2/a')]
    assert len(seen) == 12 and {p for p, _t in seen} == set(twelve)
    assert lxml.html.fromstring(second.text).xpath('//ol[@class="hits"]/@start') == ["11"]


def test_batching_in_the_api(testapp, tokens, twelve):
    seen: list[str] = []
    for start in (0, 5, 10):
        body = api_search(testapp, tokens["editor"], SearchableText="分页测试", b_start=start, b_size=5)
        assert body["items_total"] == 12
        seen += [path_of(i["@id"]) for i in body["items"]]
        assert ("prev" in body["batching"]) == (start > 0)
        assert ("next" in body["batching"]) == (start < 10)
    assert len(seen) == 12 and set(seen) == set(twelve)
    odd = api_search(testapp, tokens["editor"], SearchableText="分页测试", b_start=3, b_size=5)
    assert [path_of(i["@id"]) for i in odd["items"]] == seen[3:8]
    small = api_search(testapp, tokens["editor"], SearchableText="分页测试", b_size=100)
    assert "batching" not in small and len(small["items"]) == 12


def test_batching_links_keep_the_query(testapp, tokens, twelve):
    body = api_search(testapp, tokens["editor"], SearchableText="分页测试", b_size=5)
    seen = [path_of(i["@id"]) for i in body["items"]]
    while "next" in body.get("batching", {}):
        res = testapp.get(path_of(body["batching"]["next"]), headers={**JSON, **tokens["editor"]})
        body = res.json
        assert body["items_total"] == 12
        seen += [path_of(i["@id"]) for i in body["items"]]
    assert sorted(seen) == sorted(twelve)


# --- the @search JSON ---------------------------------------------------------------------------

def test_api_items(testapp, recall_docs, town):
    body = api_search(testapp, SearchableText="协同办公")
    assert body["@id"] == f"{HOST}/@search?SearchableText=" + urllib.parse.quote("协同办公")
    assert body["items_total"] == 1
    item = body["items"][0]
    assert item["@id"] == HOST + recall_docs["xietong"].rstrip("/")  # plone.restapi's: no trailing slash
    assert (item["@type"], item["title"], item["review_state"], item["unit"]) == (
        "Disclosure", "关于协同办公系统的通知", "published", "黄梅镇")
    assert item["index_number"].startswith("421127-001/")
    assert item["published"] and "协同办公" in item["highlights"]["text"]
    assert "batching" not in body


def test_api_published_is_the_same_instant_as_the_items(app, testapp, dbsession, backend, tokens, town):
    item = add(testapp, tokens["editor"], town.path, "Page", title="时间格式", body="<p>时间格式</p>")
    publish(testapp, tokens, item)
    index_now(app.registry, dbsession, backend)
    found = api_search(testapp, SearchableText="时间格式")["items"][0]["published"]
    own = testapp.get(path_of(item["@id"]), headers=JSON).json["published"]
    assert dt.datetime.fromisoformat(found).tzinfo is not None
    assert dt.datetime.fromisoformat(found) == dt.datetime.fromisoformat(own)


def test_api_without_words_is_a_catalog_query(testapp, backend, town):
    """As in plone.restapi: no text (or a blank one) lists what the filters choose, containers too."""
    body = api_search(testapp, SearchableText="", where=town.path, sort_on="path", b_size=1000)
    assert body["items"] == api_search(testapp, where=town.path, sort_on="path", b_size=1000)["items"]
    assert body["items"][0]["@id"] == HOST + town.path.rstrip("/") and "message" not in body
    assert body["items_total"] == len(body["items"]) > 1


# --- any query string is safe -------------------------------------------------------------------

NASTY = [
    '"', '"unbalanced', "unbalanced”", "「半个", "(", ")", "[", "]]", "{", "((电子政务", "梅政办发〔2011",
    "AND", "OR", "NOT", "AND OR NOT", "电子政务 AND 专网", "NOT 专网", "*", "?", "电子*", "政?", "***",
    "title:x", "id:1", "allowed:system.Everyone", "state:private", "content:专网", "x" * 10_000,
    "电" * 10_000, "\x00", "a\x00b", "\x01\x02\x1f\x7f", "\t\n\r", "\u200b\u200e\ufeff", "😀", "电子😀政务",
    "👨‍👩‍👧‍👦", "%", "%00", "%%", "\\", "\\\\\"", "<script>alert(1)</script>", "' OR 1=1 --", "^", "~2",
    "a~", "+-!", "/", "//", "?page=2", "&", "=", "ℌ𝔢𝔩𝔩𝔬", "ｆｕｌｌｗｉｄｔｈ", "\u0301", "\ue000", "\U0010ffff",
]


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_any_query_is_answered_without_error(app, testapp, dbsession, backend, tokens, town, text):
    item = add(testapp, tokens["editor"], town.path, "Page", title="安全查询", body="<p>电子政务专网 x</p>")
    index_now(app.registry, dbsession, backend)
    for headers in ({}, tokens["editor"]):
        search_page(testapp, text, headers)
        search_page(testapp, text, headers, where=town.path, sort="date", page=text[:50])
        body = api_search(testapp, headers, SearchableText=text, b_start=text[:20], b_size=text[:20],
                          portal_type=text[:200], unit=text[:50])
        assert body["items_total"] >= 0
        for hit in body["items"] if text.strip() else ():  # no words: a listing of the site
            assert hit["@id"] == item["@id"]


def test_a_percent_encoded_nul_in_the_url(testapp, backend):
    testapp.get("/@@search?q=%00%00", status=200)
    testapp.get("/@search?SearchableText=%00&b_size=%00", headers=JSON, status=200)


def test_page_parameters_out_of_range(testapp, backend):
    for page in ("0", "-1", "99999999999999999999", "abc", ""):
        search_page(testapp, "测试", page=page)
    for start, size in (("-5", "0"), ("1e9", "1e9"), ("0", "100000"), ("999999999999", "1")):
        api_search(testapp, SearchableText="测试", b_start=start, b_size=size)


VISITOR_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=VISITOR_TEXT)
def test_api_answers_any_text(testapp, backend, text):
    body = api_search(testapp, SearchableText=text)
    assert body["items_total"] >= 0 and isinstance(body["items"], list)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=VISITOR_TEXT)
def test_page_answers_any_text(testapp, backend, text):
    search_page(testapp, text)

"""Concurrent writes against the running app: every creation succeeds, with its own 索引号 and URL name.

Issue 8: 50 disclosure creations at once took 125 s on SQLite, because a transaction that had read
could not become a writer while others wrote ("database is locked", or waiting and failing again);
on PostgreSQL the first documents of a unit's year raced to insert the 索引号 counter row (a 409
for the losers), and same-title items raced for the URL name (a 409 instead of a free name). Here
real threads POST to a real server (tests/integration/conftest.py's `live_portal`) on SQLite and,
with `--db=postgresql`, on PostgreSQL. Times are bench/writes.py's business; these tests assert
the behaviour: all created, 索引号 unique and gap-free, names free.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import insert, select

from content_types.disclosure import Disclosure
from portal import content
from portal.content import ContentError
from portal.models import Node, Unit
from portal.slugs import slugify
from tests.integration.conftest import EDITORS, TOWN, Client, LivePortal

CLIENTS = 12
TITLE = "关于做好春季农业生产工作的通知"


def clients(live: LivePortal, n: int) -> list[Client]:
    """`n` logged-in API clients, spread over the editors of 黄梅镇 (one token each)."""
    out = []
    for i in range(n):
        client = Client(live.url)
        client.login(EDITORS[i % len(EDITORS)])
        out.append(client)
    return out


def at_once(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def town_path(live: LivePortal) -> str:
    with live.session() as session:
        return session.scalar(select(Unit.path).where(Unit.title == TOWN))


def disclosures(live: LivePortal) -> list[tuple[str, str]]:
    """(URL name, 索引号) of every disclosure of 黄梅镇, as committed."""
    with live.session() as session:
        town = session.scalar(select(Unit).where(Unit.title == TOWN))
        return [(d.name, d.index_number) for d in session.scalars(
            select(Disclosure).where(Node.parent_id == town.id))]


def serials(numbers: list[str]) -> list[int]:
    return sorted(int(n.rsplit("-", 1)[1]) for n in numbers)


@pytest.mark.parametrize("same_title", [False, True], ids=["titles", "same-title"])
def test_concurrent_disclosure_creations_all_succeed(live_portal: LivePortal, same_title: bool):
    path = town_path(live_portal)
    calls = []
    for i, client in enumerate(clients(live_portal, CLIENTS)):
        title = TITLE if same_title else f"{TITLE}（{i}）"
        body = {"@type": "Disclosure", "title": title, "subject": "农业、林业、水利", "genre": "通知"}
        calls.append(lambda client=client, body=body: client.call("POST", path, body))
    results = at_once(calls)

    assert [status for status, _body in results] == [201] * CLIENTS, [r for r in results if r[0] != 201][:3]
    rows = disclosures(live_portal)
    numbers = [number for _name, number in rows]
    assert len(rows) == CLIENTS
    assert serials(numbers) == list(range(1, CLIENTS + 1))  # unique and gap-free
    assert sorted(body["index_number"] for _status, body in results) == sorted(numbers)
    names = {name for name, _number in rows}
    assert len(names) == CLIENTS
    if same_title:
        base = slugify(TITLE)
        assert names == {base} | {f"{base}-{n}" for n in range(2, CLIENTS + 1)}


def test_concurrent_same_title_pages_get_free_names(live_portal: LivePortal):
    path = town_path(live_portal)
    calls = [lambda client=client: client.call("POST", path, {"@type": "Page", "title": "工作动态"})
             for client in clients(live_portal, CLIENTS)]
    results = at_once(calls)
    assert [status for status, _body in results] == [201] * CLIENTS, [r for r in results if r[0] != 201][:3]
    names = {body["@id"].rstrip("/").rsplit("/", 1)[-1] for _status, body in results}
    assert names == {"gongzuodongtai"} | {f"gongzuodongtai-{n}" for n in range(2, CLIENTS + 1)}


def test_a_write_that_waited_for_another_reads_what_it_committed(live_portal: LivePortal, db_kind: str):
    """SQLite: while another connection holds the write lock, a POST waits for it and then succeeds.

    With a plain BEGIN the request read a snapshot first, waited for the lock, and once the other
    transaction committed it could no longer write from that snapshot: a 500 ("database is locked").
    BEGIN IMMEDIATE waits before reading. A GET meanwhile does not wait at all.
    """
    if db_kind != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    path = town_path(live_portal)
    client = clients(live_portal, 1)[0]
    database = live_portal.engine.url.database
    holder = sqlite3.connect(database, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE nodes SET title = title WHERE path = '/'")
    try:
        result: list[Any] = []
        writer = threading.Thread(target=lambda: result.append(
            client.call("POST", path, {"@type": "Page", "title": "等待写锁"})))
        writer.start()
        t0 = time.perf_counter()
        status, _body = client.call("GET", path)
        assert status == 200 and time.perf_counter() - t0 < 2  # readers never wait for the writer
        time.sleep(0.5)  # the POST is waiting for the lock now
        assert not result
    finally:
        holder.execute("COMMIT")
        holder.close()
    writer.join(timeout=30)
    assert result and result[0][0] == 201, result


def test_a_script_request_writes_with_the_lock_taken_up_front(live_portal: LivePortal, db_kind: str):
    """`portal` commands run as script requests: they write, so on SQLite they begin with the lock."""
    if db_kind != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    from portal.cli import make_request

    request = make_request(live_portal.registry)
    with request.tm:
        request.dbsession.execute(select(Node.id).limit(1))
        other = sqlite3.connect(live_portal.engine.url.database, isolation_level=None, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_a_writer_waits_its_turn_longer_than_sqlite_would(live_portal: LivePortal, db_kind: str):
    """SQLite: writers of one process queue for each other however long the line is; SQLite's own
    busy handler would give up after busy_timeout (5 s) with "database is locked" (a 500)."""
    if db_kind != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    from portal.cli import make_request

    path = town_path(live_portal)
    client = clients(live_portal, 1)[0]
    request = make_request(live_portal.registry)  # a `portal` command's request: it writes
    request.tm.begin()
    try:
        request.dbsession.execute(select(Node.id).limit(1))  # its transaction has begun: it holds the lock
        result: list[Any] = []
        writer = threading.Thread(target=lambda: result.append(
            client.call("POST", path, {"@type": "Page", "title": "排队写入"})))
        writer.start()
        time.sleep(6)  # longer than busy_timeout
        assert not result, result
    finally:
        request.tm.abort()
    writer.join(timeout=30)
    assert result and result[0][0] == 201, result


def test_a_name_taken_between_choosing_and_writing_is_chosen_again(live_portal: LivePortal, monkeypatch):
    """The race of two same-title creations, staged in one process: the name `create` picked is
    taken by the time it writes; it picks the next free one (a name the caller asked for is refused)."""
    from portal.cli import make_request
    from portal.models import User
    from portal.security import act_as

    picked = []
    real_free_name = content.free_name

    def stale_free_name(container: Node, base: str) -> str:
        picked.append(base)
        return base if len(picked) == 1 else real_free_name(container, base)

    request = make_request(live_portal.registry)
    request.tm.begin()
    try:
        session = request.dbsession
        act_as(request, session.scalar(select(User).where(User.login == EDITORS[0])))
        town = session.scalar(select(Unit).where(Unit.title == TOWN))
        first = content.create(request, town, "Page", {"title": "通知"})
        monkeypatch.setattr(content, "free_name", stale_free_name)
        second = content.create(request, town, "Page", {"title": "通知"})
        assert (first.name, second.name) == ("tongzhi", "tongzhi-2")
        assert len(picked) == 2
        # a name asked for, taken meanwhile by another request (not among the loaded children):
        # the check asks the database, so it is refused before anything is written
        session.execute(insert(Node.__table__).values(type="Node", parent_id=town.id, name="gonggao",
                                                      path=f"{town.path}gonggao/"))
        with pytest.raises(ContentError) as e:
            content.create(request, town, "Page", {"title": "公告"}, name="gonggao")
        assert e.value.field == "name"
    finally:
        request.tm.abort()  # nothing of this staging is kept

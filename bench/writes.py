"""Concurrent writes: N clients create a disclosure document in one unit at the same moment.

Each creation takes the unit's next 索引号 from a counter row, so the writes queue on that row.
On SQLite a transaction that reads first and writes later (a plain BEGIN) cannot become a writer
while another one writes: it fails with "database is locked", or waits in the busy handler, and
this is what made 50 concurrent creations take two minutes. The script shows what the same burst
costs now, on both databases:

* the app is started as in production (production.ini's settings and 8 waitress threads, on a
  free loopback port), once on its own SQLite file and once on a throwaway PostgreSQL server
  (tests/pgserver.py);
* N editors of 黄梅镇 log in through the JSON API (`@login`, Bearer tokens; argon2 is set cheap,
  logging in is not what is measured), and one creation alone is timed in another unit (the
  cost of a request that waits for nothing; 黄梅镇's first 索引号 of the year is left to the burst);
* the N clients POST a Disclosure to /huangmeizhen/ together (a barrier releases them);
* it prints the wall time of the burst (release to last answer), p50/p99 per request, the
  statuses, and whether the 索引号 handed out are unique and gap-free (serials 1..N of the unit
  and year) and the URL names unique.

It prints figures and asserts nothing about time (tests/integration/test_concurrent_writes.py
asserts the behaviour).

    .venv/bin/python bench/writes.py                    # 50 clients, SQLite and PostgreSQL
    .venv/bin/python bench/writes.py --clients 20 --db sqlite
    .venv/bin/python bench/writes.py --same-title       # every client uses the same title
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import transaction
from pyramid.paster import get_appsettings
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content_types.disclosure import Disclosure  # noqa: E402
from portal import main as make_app  # noqa: E402
from portal.accounts import add_user  # noqa: E402
from portal.cli import app_request  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Node, Unit, get_engine, get_tm_session  # noqa: E402
from portal.units import set_up_site  # noqa: E402

PASSWORD = "bench-password-42"
UNIT = "黄梅镇"
OTHER_UNIT = "孔垄镇"  # where one creation alone is timed: 黄梅镇's 索引号 counter must not exist before the burst


def app_settings(url: str, work: Path) -> dict[str, Any]:
    """production.ini's settings, with this run's database, directories and a cheap argon2."""
    settings = dict(get_appsettings(str(ROOT / "production.ini")))
    settings.update({
        "sqlalchemy.url": url,
        "portal.session_secret": "bench-secret-" + "x" * 40,
        "portal.blobs_dir": str(work / "blobs"),
        "search.index_dir": str(work / "index"),
        "portal.argon2_time_cost": "1",
        "portal.argon2_memory_cost": "1024",
        "portal.argon2_parallelism": "1",
    })
    return settings


def prepare(settings: dict[str, Any], clients: int) -> Any:
    """Migrate, load the units, add the editors; returns the WSGI app."""
    engine = get_engine(settings)
    upgrade(engine)
    engine.dispose()
    app = make_app({}, **settings)
    with app_request(app.registry) as request:
        session = request.dbsession
        set_up_site(request)
        for i in range(clients):
            add_user(session, f"bench-editor-{i}", PASSWORD, [], [UNIT] + ([OTHER_UNIT] if i == 0 else []),
                     request=request)
    return app


class Server:
    """waitress serving the app in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: Any, threads: int) -> None:
        from waitress.server import create_server
        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="bench")
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.task_dispatcher.shutdown(timeout=10)  # first: a finishing task still signals the server
        self.server.close()


def call(port: int, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request(method, path, json.dumps(body).encode("utf-8"),
                     {"Content-Type": "application/json", "Accept": "application/json", **headers})
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data or b"null")
        except ValueError:
            return response.status, data[:200]
    finally:
        conn.close()


def burst(port: int, unit_path: str, other_path: str, clients: int,
          same_title: bool) -> tuple[float, list[tuple[float, int, Any]]]:
    """Log every client in, then release them together: the wall time from the release to the last
    answer, and (seconds, status, body) per request."""
    tokens = []
    for i in range(clients):
        status, body = call(port, "POST", "/@login", {"login": f"bench-editor-{i}", "password": PASSWORD}, {})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body}")
        tokens.append(body["token"])
    # one creation alone first, in another unit: what a request costs without waiting (and the
    # caches warmed); the burst's unit gets its first 索引号 of the year in the burst, as on 1 January
    t0 = time.perf_counter()
    status, body = call(port, "POST", other_path, {"@type": "Disclosure", "title": "单独创建", "subject": "综合政务",
                                                  "genre": "通知"}, {"Authorization": f"Bearer {tokens[0]}"})
    if status != 201:
        raise SystemExit(f"a single creation failed: {status} {body}")
    print(f"one creation alone: {time.perf_counter() - t0:.3f} s")
    barrier = threading.Barrier(clients)
    results: list[Any] = [None] * clients
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * clients

    def client(i: int) -> None:
        title = "关于做好春季农业生产工作的通知" if same_title else f"关于做好春季农业生产工作的通知（{i}）"
        body = {"@type": "Disclosure", "title": title, "subject": "农业、林业、水利", "genre": "通知",
                "body": "<p>各村（社区）：请认真做好春季农业生产工作。</p>"}
        barrier.wait()
        t0 = time.perf_counter()
        status, answer = call(port, "POST", unit_path, body, {"Authorization": f"Bearer {tokens[i]}"})
        t1 = time.perf_counter()
        results[i] = (t1 - t0, status, answer)
        spans[i] = (t0, t1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(end for _start, end in spans) - min(start for start, _end in spans), results


def index_numbers(app: Any) -> list[str]:
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        session = get_tm_session(app.registry["dbsession_factory"], tm)
        unit = session.scalar(select(Unit).where(Unit.title == UNIT))
        return list(session.scalars(select(Disclosure.index_number).where(Node.parent_id == unit.id)))


def unit_path(app: Any, title: str) -> str:
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        session = get_tm_session(app.registry["dbsession_factory"], tm)
        return session.scalar(select(Unit.path).where(Unit.title == title))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(kind: str, url: str, work: Path, clients: int, threads: int, same_title: bool) -> None:
    settings = app_settings(url, work)
    app = prepare(settings, clients)
    path, other_path = unit_path(app, UNIT), unit_path(app, OTHER_UNIT)
    server = Server(app, threads)
    print(f"\n=== {kind}: {clients} concurrent creates, waitress threads={threads}"
          f"{', same title' if same_title else ''} ===")
    try:
        wall, results = burst(server.port, path, other_path, clients, same_title)
    finally:
        server.close()
    times = [r[0] for r in results]
    statuses = Counter(r[1] for r in results)
    numbers = index_numbers(app)
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    created = statuses.get(201, 0)
    names = [r[2].get("@id", "").rstrip("/").rsplit("/", 1)[-1] for r in results
             if r[1] == 201 and isinstance(r[2], dict)]
    print(f"wall time of the burst: {wall:.2f} s")
    print(f"per request: p50 {percentile(times, 0.5):.3f} s, p99 {percentile(times, 0.99):.3f} s, "
          f"max {max(times):.3f} s")
    print("statuses: " + ", ".join(f"{status} x {n}" for status, n in sorted(statuses.items())))
    for seconds, status, answer in results:
        if status != 201:
            print(f"  first failure: {status} {str(answer)[:300]}")
            break
    print(f"索引号 in the database: {len(numbers)}; unique: {len(set(numbers)) == len(numbers)}; "
          f"gap-free (1..{len(serials)}): {serials == list(range(1, len(serials) + 1))}; "
          f"one per created item: {len(numbers) == created}")
    print(f"URL names unique: {len(set(names)) == len(names)} ({len(names)} created)")
    app.registry["dbsession_factory"].kw["bind"].dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--threads", type=int, default=8, help="waitress threads (production.ini: 8)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--same-title", action="store_true", help="every client creates an item of the same title")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": the burst itself

    if args.db in ("sqlite", "both"):
        work = Path(tempfile.mkdtemp(prefix="writes-bench-"))
        try:
            run("SQLite", f"sqlite:///{work / 'portal.db'}", work, args.clients, args.threads, args.same_title)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.db in ("postgresql", "both"):
        from tests.pgserver import start_postgresql
        server = start_postgresql()
        work = Path(tempfile.mkdtemp(prefix="writes-bench-"))
        try:
            run("PostgreSQL", server.url, work, args.clients, args.threads, args.same_title)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            server.stop()


if __name__ == "__main__":
    main()

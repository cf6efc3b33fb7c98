"""A running portal for tests that need real concurrency: waitress on a free loopback port, in a thread.

WebTest calls the app in the test's own thread and transaction, so it can never show what several
requests committing at once do. Here every test gets its own database -- a new SQLite file, or a new
database on the suite's PostgreSQL server (`--db=postgresql`, dropped afterwards) -- migrated, with
the units, six editors of 黄梅镇 and a reviewer, its own blob store and its own search index, served
by a real server with the development setting `search.drain_after_commit = true`. Clients talk to it
over HTTP (`Client`), as a browser or a script would.

`indexed_documents` reads the Whoosh index directly, not through the backend, so that the tests
compare the index with the database through a reading the product's own code has no part in.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import webtest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from waitress.server import create_server
from whoosh import index as whoosh_index

from portal import main
from portal.accounts import add_user
from portal.cli import app_request
from portal.migrate import upgrade
from portal.models import get_engine
from portal.units import set_up_site
from search.backend import prepare_document
from search.indexer import all_documents
from tests.conftest import PASSWORD, test_settings

HOST = "http://example.com"
JSON = {"Accept": "application/json"}
EDITORS = tuple(f"editor{i}" for i in range(1, 7))
REVIEWER = "reviewer"
TOWN = "黄梅镇"

# The app's settings; `{db}`, `{blobs}` and `{index}` are filled in per test. As an .ini file this is
# what a second process (`portal indexer`) reads.
INI = """\
[app:main]
use = egg:huangmei-portal
pyramid.default_locale_name = zh_CN
sqlalchemy.url = {db}
retry.attempts = 3
portal.session_secret = integration-test-secret-0123456789-0123456789
portal.secure_cookies = false
portal.blobs_dir = {blobs}
portal.max_upload_size = 2MB
portal.argon2_time_cost = 1
portal.argon2_memory_cost = 1024
portal.argon2_parallelism = 1
search.index_dir = {index}
search.drain_after_commit = true
"""


@dataclass
class LivePortal:
    url: str
    ini: Path
    settings: dict[str, Any]
    app: Any
    engine: Engine
    index_dir: Path
    logins: list[str] = field(default_factory=list)

    @property
    def registry(self) -> Any:
        return self.app.registry

    def session(self) -> Any:
        return self.registry["dbsession_factory"]()


@pytest.fixture
def database_url(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the suite's kind (dropped afterwards on PostgreSQL)."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    name = f"portal_live_{uuid.uuid4().hex[:12]}"
    server = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            # a client of the test (a subprocess, the app's pool) may still be connected
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(text(f'DROP DATABASE "{name}"'))
        server.dispose()


@pytest.fixture
def live_portal(database_url: str, tmp_path: Path) -> Iterator[LivePortal]:
    ini = tmp_path / "live.ini"
    ini.write_text(INI.format(db=database_url, blobs=tmp_path / "blobs", index=tmp_path / "index"), "utf-8")
    settings = test_settings(database_url, tmp_path / "blobs", tmp_path / "index",
                             **{"retry.attempts": "3", "search.drain_after_commit": "true"})
    engine = get_engine(settings)
    upgrade(engine)
    app = main({}, **{**settings, "portal.engine": engine})
    with app_request(app.registry) as request:
        session = request.dbsession
        set_up_site(request)
        for login in EDITORS:
            add_user(session, login, PASSWORD, [], [TOWN], request=request)
        add_user(session, REVIEWER, PASSWORD, ["reviewers"], [], request=request)
    server = create_server(app, host="127.0.0.1", port=0, threads=8, channel_timeout=30)
    stopping = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # select() on a socket closed by the shutdown below
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=serve, name="live-portal", daemon=True)
    thread.start()
    try:
        yield LivePortal(url=f"http://127.0.0.1:{server.effective_port}", ini=ini, settings=settings, app=app,
                         engine=engine, index_dir=tmp_path / "index", logins=[*EDITORS, REVIEWER])
    finally:
        stopping.set()
        while server._map:  # as webtest's StopableWSGIServer: close every channel, and the loop ends
            for channel in list(server._map.values()):
                channel.handle_close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
        app.registry["search_backend"].close()
        engine.dispose()


class Client:
    """A JSON API client with its own Bearer token (one per thread: urllib opens a connection per call)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.headers = {"Accept": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = path if path.startswith("http") else self.base + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                status, raw = res.status, res.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def login(self, login: str, password: str = PASSWORD) -> None:
        status, body = self.call("POST", "/@login", {"login": login, "password": password})
        assert status == 200, (status, body)
        self.headers["Authorization"] = f"Bearer {body['token']}"


def indexed_documents(index_dir: Path) -> dict[str, dict[str, Any]]:
    """Every document in the live index generation, with `text` and `allowed` as they went in."""
    gen = (index_dir / "CURRENT").read_text("utf-8").strip()
    ix = whoosh_index.open_dir(str(index_dir / gen))
    try:
        with ix.reader() as reader:
            allowed: dict[int, set[str]] = defaultdict(set)
            for term in reader.lexicon("allowed"):
                name = term.decode("utf-8") if isinstance(term, bytes) else term
                for docnum in reader.postings("allowed", term).all_ids():
                    allowed[docnum].add(name)
            return {stored["id"]: {**stored["doc"], "text": stored.get("body", ""), "allowed": allowed[docnum]}
                    for docnum, stored in reader.iter_docs()}
    finally:
        ix.close()


def database_documents(live: LivePortal) -> dict[str, dict[str, Any]]:
    """What `search.documents.document` builds from the database now, as the backend would store it."""
    with live.session() as session:
        out = {}
        for doc in all_documents(live.registry, session):
            prepared = prepare_document(doc)
            prepared["allowed"] = set(prepared["allowed"])
            out[prepared["id"]] = prepared
        return out


def index_differences(live: LivePortal, fields: tuple[str, ...] | None = None) -> list[str]:
    """Every way the index differs from the database (empty: they agree)."""
    want, have = database_documents(live), indexed_documents(live.index_dir)
    out = [f"missing {i} {want[i]['path']} ({want[i]['state']})" for i in sorted(set(want) - set(have), key=int)]
    out += [f"extra {i} {have[i].get('path')}" for i in sorted(set(have) - set(want), key=int)]
    for i in sorted(set(want) & set(have), key=int):
        names = fields or tuple(sorted(set(want[i]) | set(have[i])))
        for name in names:
            if want[i].get(name) != have[i].get(name):
                out.append(f"stale {i} {want[i]['path']}: {name} indexed {have[i].get(name)!r}, "
                           f"database {want[i].get(name)!r}")
    return out


# -- clients of the page cache's tests (test_page_cache*.py) ---------------------------------------

def browser(app: Any) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "10.0.0.9"})


def token(client: webtest.TestApp, login: str) -> dict[str, str]:
    res = client.post_json("/@login", {"login": login, "password": PASSWORD})
    return {**JSON, "Authorization": f"Bearer {res.json['token']}"}


def path_of(item: dict[str, Any]) -> str:
    return item["@id"].removeprefix(HOST).rstrip("/") + "/"


def published_news(client: webtest.TestApp, where: str, title: str) -> dict[str, Any]:
    editor, reviewer = token(client, "editor1"), token(client, REVIEWER)
    item = client.post_json(where, {"@type": "News", "title": title, "text": {
        "data": "<p>正文</p>", "content-type": "text/html", "encoding": "utf-8"}}, headers=editor, status=201).json
    client.post_json(path_of(item) + "@workflow/submit", {}, headers=editor)
    client.post_json(path_of(item) + "@workflow/publish", {}, headers=reviewer)
    return item


@pytest.fixture
def visitor(live_portal: LivePortal) -> webtest.TestApp:
    return browser(live_portal.app)


@pytest.fixture
def staff(live_portal: LivePortal) -> webtest.TestApp:
    """The editors' and reviewers' own app process on the same database and page store (the reviewer
    logs in without the second factor here, which tests/functional/test_second_factor.py covers)."""
    return browser(main({}, **{**live_portal.settings, "portal.engine": live_portal.engine,
                               "portal.require_second_factor": "false", "search.drain_on_start": "false"}))

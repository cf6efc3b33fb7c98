"""The page cache's parts without a server: tags of pages and changes, entries and stores, and
serving an entry (nonce, validators)."""
from __future__ import annotations

import gzip
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from portal.pagecache.changes import ChangeStamp
from portal.pagecache.store import Entry, FileStore, MemoryStore
from portal.pagecache.tags import prefixes
from portal.pagecache.middleware import PageCacheMiddleware, cache_key
from portal.pagecache.tween import etag_of
from portal.settings import PortalSettings, SettingsError


def entry(key: str = "http://example.com/\n", body: bytes = b"<p>x</p>", **kw) -> Entry:
    values = dict(key=key, tags=("tree:1", "nav", "site"), versions=(3, 1, 77), etag="abc",
                  last_modified=1_700_000_000.0, stored_at=time.time(), max_age=60, status=200,
                  headers=(("Content-Type", "text/html; charset=UTF-8"),), nonce="", body=body)
    return Entry(**{**values, **kw})


def test_prefixes_are_every_container_of_a_path() -> None:
    assert prefixes("/a/b/c/") == ["/", "/a/", "/a/b/", "/a/b/c/"]
    assert prefixes("/") == ["/"]


def test_the_etag_follows_the_versions_and_nothing_else() -> None:
    tags = ("tree:1", "site")
    assert etag_of("k", tags, (1, 5)) == etag_of("k", tags, (1, 5))
    assert etag_of("k", tags, (2, 5)) != etag_of("k", tags, (1, 5))
    assert etag_of("other", tags, (1, 5)) != etag_of("k", tags, (1, 5))


def test_an_entry_is_fresh_within_its_max_age() -> None:
    assert entry().fresh()
    assert not entry(stored_at=time.time() - 61).fresh()


def test_the_memory_store_keeps_the_most_recent_within_its_bytes() -> None:
    store = MemoryStore(max_bytes=4 * 1600)
    for i in range(5):
        store.put(entry(key=str(i), body=b"x" * 1000))
    assert store.get("0") is None and store.get("4") is not None
    assert store.used <= store.max_bytes


def test_the_file_store_is_shared_and_whole(tmp_path: Path) -> None:
    one = FileStore(tmp_path, MemoryStore(1 << 20))
    two = FileStore(tmp_path, MemoryStore(1 << 20))
    kept = entry(body="黄梅县".encode() + b"\n\x00binary")
    one.put(kept)
    assert two.get(kept.key) == kept
    assert not list(tmp_path.glob("*/*.tmp"))


def test_the_file_store_prunes_the_oldest(tmp_path: Path) -> None:
    store = FileStore(tmp_path, MemoryStore(1 << 20), max_files=10)
    for i in range(30):
        store.put(entry(key=str(i)))
    store.prune()
    assert len(list(tmp_path.glob("*/*"))) <= 10


class Served:
    def __init__(self, middleware: PageCacheMiddleware, entry: Entry, headers: dict[str, str] | None = None,
                 method: str = "GET") -> None:
        environ = {"REQUEST_METHOD": method, **{"HTTP_" + k.upper().replace("-", "_"): v
                                                for k, v in (headers or {}).items()}}
        self.body = b"".join(middleware.serve(environ, self.start_response, entry, "hit"))

    def start_response(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = int(status.split()[0]), dict(headers)


def middleware() -> PageCacheMiddleware:
    return PageCacheMiddleware(app=None, store=None, engine=create_engine("sqlite://"))


def test_serving_replaces_the_kept_nonce_with_a_new_one_each_time() -> None:
    kept = entry(body=b'<script nonce="' + b"K" * 22 + b'">1</script>', nonce="K" * 22,
                 headers=(("Content-Type", "text/html"), ("Content-Security-Policy", "script-src 'nonce-" + "K" * 22 + "'")))
    one, two = Served(middleware(), kept), Served(middleware(), kept)
    for served in (one, two):
        nonce = served.headers["Content-Security-Policy"].split("'nonce-")[1].rstrip("'")
        assert nonce != "K" * 22 and served.body == f'<script nonce="{nonce}">1</script>'.encode()
        assert served.headers["X-Portal-Cache"] == "hit" and served.headers["ETag"] == '"abc"'
    assert one.body != two.body


def test_a_client_that_has_it_gets_304() -> None:
    assert Served(middleware(), entry(), {"If-None-Match": '"abc"'}).status == 304
    assert Served(middleware(), entry(), {"If-None-Match": 'W/"abc", "x"'}).status == 304
    assert Served(middleware(), entry(), {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"}).status == 304
    assert Served(middleware(), entry(), {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"}).status == 200
    assert Served(middleware(), entry(), {"If-None-Match": '"old"'}).status == 200
    not_modified = Served(middleware(), entry(), {"If-None-Match": '"abc"'})
    assert not_modified.body == b"" and "Content-Security-Policy" not in not_modified.headers


def test_a_kept_page_is_compressed_for_clients_that_accept_it() -> None:
    page = entry(body="<p>黄梅县人民政府</p>".encode() * 200)
    zipped = Served(middleware(), page, {"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.body) == page.body
    assert "Content-Encoding" not in Served(middleware(), page).headers
    assert Served(middleware(), page, method="HEAD").body == b""


def test_only_reads_in_their_own_transaction_without_a_token_have_a_key() -> None:
    base = {"REQUEST_METHOD": "GET", "HTTP_HOST": "example.com", "PATH_INFO": "/a/", "QUERY_STRING": "b=1",
            "wsgi.url_scheme": "http", "HTTP_ACCEPT": "text/html"}
    assert cache_key(base) == "http://example.com/a/?b=1\ntext/html"
    assert cache_key({**base, "REQUEST_METHOD": "POST"}) is None
    assert cache_key({**base, "HTTP_AUTHORIZATION": "Bearer x"}) is None
    assert cache_key({**base, "HTTP_COOKIE": "analytics=1"}) == cache_key(base)
    assert cache_key({**base, "app.dbsession": object()}) is None


def test_a_session_has_keys_of_its_own() -> None:
    base = {"REQUEST_METHOD": "GET", "HTTP_HOST": "example.com", "PATH_INFO": "/a/", "wsgi.url_scheme": "http"}
    one = cache_key({**base, "HTTP_COOKIE": "a=1; portal_session=xyz"})
    assert one.startswith(cache_key(base) + "\nsession:") and "xyz" not in one
    assert cache_key({**base, "HTTP_COOKIE": 'portal_session="xyz"; a=2'}) == one  # quoted or not
    assert cache_key({**base, "HTTP_COOKIE": "portal_session=xyz2"}) != one


def test_a_sessions_page_stays_in_memory(tmp_path: Path) -> None:
    store = FileStore(tmp_path, MemoryStore(1 << 20))
    store.put(replace(entry(), key="k\nsession:abc", personal=True))
    assert store.get("k\nsession:abc").personal and not list(tmp_path.glob("*/*"))
    assert Served(middleware(), replace(entry(), personal=True)).headers["Cache-Control"] == "private, no-cache"


def test_the_store_setting_is_one_of_three() -> None:
    base = {"sqlalchemy.url": "sqlite://", "portal.session_secret": "s" * 40}
    assert PortalSettings.parse(base).page_cache == "file"
    assert PortalSettings.parse({**base, "portal.page_cache": "OFF"}).page_cache == "off"
    with pytest.raises(SettingsError, match="portal.page_cache"):
        PortalSettings.parse({**base, "portal.page_cache": "sometimes"})


class FakeApp:
    """Pyramid as the middleware sees it: the tween marks the answer to keep (PENDING)."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers, self.calls = headers, 0

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        from portal.pagecache.tween import CANDIDATE, PENDING
        self.calls += 1
        if environ.get(CANDIDATE):
            environ[PENDING] = entry(key=environ[CANDIDATE], body=b"")
        start_response("200 OK", [("Content-Type", "text/html"), ("ETag", '"abc"'), *self.headers])
        return [b"<p>page</p>" if environ["REQUEST_METHOD"] == "GET" else b""]


class Kept:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def put(self, entry: Entry) -> None:
        self.entries[entry.key] = entry


def call(app: PageCacheMiddleware, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    got: list[Any] = []
    environ = {"REQUEST_METHOD": method, "HTTP_HOST": "example.com", "PATH_INFO": "/a/", "wsgi.url_scheme": "http"}
    body = b"".join(app(environ, lambda status, headers, exc=None: got.extend([status, dict(headers)])))
    return got[0], got[1], body


def test_a_head_request_is_never_kept() -> None:
    store = Kept()
    app = PageCacheMiddleware(FakeApp([]), store, create_engine("sqlite://"))
    call(app, "HEAD")
    assert store.entries == {}


def test_an_answer_that_sets_a_cookie_after_the_tween_is_not_kept_and_is_private() -> None:
    store = Kept()
    app = PageCacheMiddleware(FakeApp([("Set-Cookie", "portal_session=abc")]), store, create_engine("sqlite://"))
    status, headers, body = call(app)
    assert store.entries == {} and body == b"<p>page</p>"
    assert headers["Cache-Control"] == "private, no-cache" and "ETag" not in headers


def test_a_kept_answer_is_stored_whole_with_its_final_headers() -> None:
    store = Kept()
    app = PageCacheMiddleware(FakeApp([("X-Frame-Options", "SAMEORIGIN")]), store, create_engine("sqlite://"))
    status, headers, body = call(app)
    (kept,) = store.entries.values()
    assert kept.body == b"<p>page</p>" and ("X-Frame-Options", "SAMEORIGIN") in kept.headers
    assert headers["X-Portal-Cache"] == "miss" and body == b"<p>page</p>"


class CountingReader:
    """The versions every kept page was rendered with; counts the times it was asked."""

    def __init__(self, versions: tuple[int, ...]) -> None:
        self.current, self.asked = versions, 0

    def versions(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        self.asked += 1
        return self.current


def test_a_kept_page_is_checked_again_only_after_the_stamp_changed(tmp_path: Path) -> None:
    stamp = ChangeStamp(tmp_path / "changes")
    store = MemoryStore(1 << 20)
    kept = entry(key="http://example.com/a/\n", tags=("tree:1",), versions=(3,))
    store.put(kept)
    cache = PageCacheMiddleware(app=None, store=store, engine=create_engine("sqlite://"), stamp=stamp)
    cache.reader = CountingReader((3,))
    assert [cache.lookup(kept.key) for _ in range(3)] == [kept] * 3 and cache.reader.asked == 1
    stamp.renew()  # someone committed something
    cache.reader.current = (4,)  # which this page shows
    assert cache.lookup(kept.key) is None and cache.reader.asked == 2
    without = PageCacheMiddleware(app=None, store=store, engine=create_engine("sqlite://"))  # `database`
    without.reader = CountingReader((3,))
    assert [without.lookup(kept.key) for _ in range(2)] == [kept] * 2 and without.reader.asked == 2


def test_the_stamp_is_shared_and_renewed_by_a_commit_that_bumped_tags(tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from portal.models.pagetags import PageTag
    from portal.pagecache.changes import watch
    from portal.pagecache.tags import bump

    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    PageTag.__table__.create(engine)
    stamp, other_process = ChangeStamp(tmp_path / "changes"), ChangeStamp(tmp_path / "changes")
    watch(engine, stamp)
    factory = sessionmaker(bind=engine)
    before = other_process.read()
    with factory() as session:
        session.execute(PageTag.__table__.select())
        session.commit()  # nothing bumped
    assert other_process.read() == before
    with factory() as session:
        bump(session, {"tree:1"})
        session.rollback()
    assert other_process.read() == before
    with factory() as session:
        bump(session, {"tree:1"})
        assert other_process.read() == before  # not before the commit
        session.commit()
    assert other_process.read() != before and other_process.read() == stamp.read()

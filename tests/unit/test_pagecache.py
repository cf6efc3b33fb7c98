"""The page cache's parts without a server: tags of pages and changes, entries and stores, and
serving an entry (nonce, validators)."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyramid.request import Request

from portal.pagecache.store import Entry, FileStore, MemoryStore
from portal.pagecache.tags import prefixes
from portal.pagecache.tween import etag_of, respond
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


def serving(headers: dict[str, str] | None = None) -> Request:
    request = Request.blank("/", headers=headers or {})
    request.csp_nonce = "N" * 22
    return request


def test_serving_replaces_the_kept_nonce_with_the_requests_own() -> None:
    kept = entry(body=b'<script nonce="' + b"K" * 22 + b'">1</script>', nonce="K" * 22)
    response = respond(serving(), kept)
    assert response.body == b'<script nonce="' + b"N" * 22 + b'">1</script>'
    assert response.headers["X-Portal-Cache"] == "hit" and response.headers["ETag"] == '"abc"'


def test_a_client_that_has_it_gets_304() -> None:
    assert respond(serving({"If-None-Match": '"abc"'}), entry()).status_int == 304
    assert respond(serving({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"}), entry()).status_int == 304
    assert respond(serving({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"}), entry()).status_int == 200
    assert respond(serving({"If-None-Match": '"old"'}), entry()).status_int == 200


def test_the_store_setting_is_one_of_three() -> None:
    base = {"sqlalchemy.url": "sqlite://", "portal.session_secret": "s" * 40}
    assert PortalSettings.parse(base).page_cache == "file"
    assert PortalSettings.parse({**base, "portal.page_cache": "OFF"}).page_cache == "off"
    with pytest.raises(SettingsError, match="portal.page_cache"):
        PortalSettings.parse({**base, "portal.page_cache": "sometimes"})

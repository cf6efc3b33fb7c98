"""The page cache's front door: a WSGI middleware around the Pyramid app that answers kept pages
before Pyramid makes a request object, runs its tweens or its subscribers.

A kept page costs here a fraction of what it cost inside Pyramid (no request extensions, no
retry policy, no traversal): one query of the tags' versions (none while the machine's change
stamp stays what it was when they were last found current: .changes) and a copy of the stored
bytes with a new CSP nonce. Everything else goes through the app as before, marked as a candidate
when it may be kept (and as a session's, with a session cookie: .tween); when the tween inside
decided to keep the answer (`PENDING`), the middleware stores it with the headers the client gets
(the security headers included), and compresses it on the way out for clients that accept gzip
(kept pages are kept whole; the compression tween leaves them).
"""
from __future__ import annotations

import email.utils
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterable

from ..compression import MIN_SIZE, compressible_type, gzip_bytes, header_accepts_gzip
from ..headers import CSP
from .changes import ChangeStamp
from .store import Entry, Store
from .tags import VersionReader, read_versions
from .tween import CANDIDATE, PENDING, PERSONAL, STATUS, not_modified, session_cookie, validator_headers

log = logging.getLogger(__name__)
MAX_KEY = 2048
MAX_CURRENT = 50_000  # kept pages whose versions were found current, remembered per process
# Headers the middleware writes itself on every answer from the cache.
OWN = frozenset({"etag", "cache-control", "vary", "last-modified", "content-length", "content-encoding",
                 STATUS.lower(), "date"})


def cache_key(environ: dict[str, Any]) -> str | None:
    """The request's key, or None when it may not be answered from the cache: not a GET or HEAD,
    a Bearer token, or a caller's own transaction (a script's or a test's, whose changes are not
    committed). With a session cookie, the key is that session's (a digest of the cookie)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "app.dbsession" in environ:
        return None
    if "HTTP_AUTHORIZATION" in environ:
        return None
    session = session_cookie(environ)
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    query = environ.get("QUERY_STRING", "")
    key = (f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}"
           f"{environ.get('PATH_INFO', '')}{'?' + query if query else ''}\n{environ.get('HTTP_ACCEPT', '')}")
    if session is not None:
        key += f"\nsession:{hashlib.sha256(session.encode()).hexdigest()[:32]}"
    return key if len(key) <= MAX_KEY else None


class PageCacheMiddleware:
    def __init__(self, app: Any, store: Store | None, engine: Any, stamp: ChangeStamp | None = None) -> None:
        self.app = app
        self.store = store
        self.engine = engine
        self.reader = VersionReader(engine)
        self.stamp = stamp
        self._current: dict[str, tuple[bytes, str]] = {}  # key -> (stamp, etag) its versions were current at
        self._gzipped: dict[tuple[str, str], bytes] = {}  # (key, etag) -> gzip of a body without nonce
        self._gz_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the router's registry, request factory, ...

    def lookup(self, key: str) -> Entry | None:
        entry = self.store.get(key) if self.store is not None else None
        if entry is None or not entry.fresh():
            return None
        stamp = self.stamp.read() if self.stamp is not None else None  # before the versions (.changes)
        if stamp is not None and self._current.get(key) == (stamp, entry.etag):
            return entry  # nothing committed since its versions were found current
        versions = self.reader.versions(entry.tags)
        if versions is None:
            with self.engine.connect() as connection:
                versions, _last = read_versions(connection, entry.tags)
        if versions != entry.versions:
            return None
        if stamp is not None:
            if len(self._current) > MAX_CURRENT:
                self._current.clear()
            self._current[key] = (stamp, entry.etag)
        return entry

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = cache_key(environ)
        if key is None:
            return self.app(environ, start_response)
        try:
            entry = self.lookup(key)
        except Exception:  # noqa: BLE001 - e.g. the database is down: the app answers (its 500 page)
            log.warning("page cache: could not read the versions of %s", key.split("\n", 1)[0], exc_info=True)
            return self.app(environ, start_response)
        if entry is not None:
            return self.serve(environ, start_response, entry, "hit")
        if environ["REQUEST_METHOD"] != "GET":
            return self.app(environ, start_response)  # a HEAD's answer has no body to keep
        environ[CANDIDATE] = key
        if "\nsession:" in key:
            environ[PERSONAL] = True
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            if exc_info is not None or environ.get(PENDING) is None:
                return start_response(status, headers, exc_info)
            captured[:] = [status, headers]
            return lambda data: None  # Pyramid returns its body; it never writes

        body_iter = self.app(environ, capture)
        pending: Entry | None = environ.get(PENDING)
        if pending is None or not captured:
            return body_iter
        if any(k.lower() == "set-cookie" for k, _v in captured[1]):
            # a response callback (a session touched by the page) set a cookie after the tween
            # decided: this answer is personal after all
            validators = {"etag", "cache-control", "last-modified", STATUS.lower()}
            start_response(captured[0], [*((k, v) for k, v in captured[1] if k.lower() not in validators),
                                         ("Cache-Control", "private, no-cache")])
            return body_iter
        try:
            body = b"".join(body_iter)
        finally:
            if hasattr(body_iter, "close"):
                body_iter.close()
        headers = tuple((k, v) for k, v in captured[1] if k.lower() not in OWN)
        entry = replace(pending, status=int(captured[0].split(" ", 1)[0]), headers=headers, body=body)
        if self.store is not None:
            self.store.put(entry)
        return self.serve(environ, start_response, entry, "miss", nonce=entry.nonce)

    def serve(self, environ: dict[str, Any], start_response: Callable[..., Any], entry: Entry, status: str,
              nonce: str | None = None) -> Iterable[bytes]:
        """The entry as the answer: 304 when the client has it, else its bytes with a new nonce
        (`nonce`: the one it was rendered with, for the request that rendered it)."""
        if not_modified(environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"), entry):
            start_response("304 Not Modified", [*validator_headers(entry), ("Date", now())])
            return []
        body, headers = entry.body, list(entry.headers)
        fresh = nonce or (secrets.token_urlsafe(16) if entry.nonce else "")
        if entry.nonce and fresh != entry.nonce:
            if entry.nonce.encode() in body:
                body = body.replace(entry.nonce.encode(), fresh.encode())
            headers = [(k, v.replace(entry.nonce, fresh) if k == CSP else v) for k, v in headers]
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if (len(body) >= MIN_SIZE and compressible_type(content_type)
                and header_accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))):
            body = self.gzipped(entry, body)
            headers.append(("Content-Encoding", "gzip"))
        headers += [*validator_headers(entry), (STATUS, status), ("Content-Length", str(len(body)))]
        start_response(f"{entry.status} OK", headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def gzipped(self, entry: Entry, body: bytes) -> bytes:
        if entry.nonce and entry.nonce.encode() in entry.body:
            return gzip_bytes(body)  # the body changes with every nonce
        cache_key_ = (entry.key, entry.etag)
        zipped = self._gzipped.get(cache_key_)
        if zipped is None:
            zipped = gzip_bytes(body)
            with self._gz_lock:
                if len(self._gzipped) > 2048:
                    self._gzipped.clear()
                self._gzipped[cache_key_] = zipped
        return zipped


def now() -> str:
    return email.utils.formatdate(time.time(), usegmt=True)

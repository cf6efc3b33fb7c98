"""A minimal in-memory stand-in for the Solr core CKAN 2.12 talks to -- test support code only.

Why: CKAN cannot create an organisation or a package without Solr (every write indexes the
package and fails with SearchIndexError otherwise), and no Solr can be installed on these
machines: no package registry reachable from them carries a Solr server (Debian has only Solr
clients; the PyPI and npm "solr" packages are clients or download Solr from Apache, which is not
reachable). So the test CKAN is pointed at this small HTTP server instead. It is not Solr and
makes no claim to relevance ranking: it keeps CKAN's index documents in a dict and answers the
calls CKAN (through pysolr) makes, well enough for CKAN's own pages and actions to work.

Implemented (paths under any ``/solr/<core>``):
  * ``select`` (GET, or POST form): ``q`` and ``fq`` in the Lucene syntax CKAN itself generates --
    ``field:value``, ``field:"quoted"``, ``field:(a OR b)``, ``*:*``, ``field:prefix*``,
    ``+``/``-``/``NOT``, ``AND``/``OR``, parentheses, bare words (case-insensitive substring over
    name, title, notes, tags, text, res_name, res_description); ``defType=dismax|edismax`` (all
    words must occur); ``rows``, ``start``, ``sort`` (string order), ``fl``, ``facet.field`` with
    ``facet.mincount`` and ``facet.limit``.
  * ``update``: a JSON list of documents (add or replace by ``index_id``), XML ``<delete>`` by id
    or by query, ``<commit/>``/``<optimize/>`` (no-ops: everything is visible at once).
  * ``schema`` and ``admin/file?file=schema.xml`` (the schema name CKAN checks), ``admin/ping``,
    ``/solr/admin/cores``.
  * ``/_standin/calls``: counts per method and path, so a test can see whether CKAN wrote to its
    index (``POST /update``); ``SolrStandin.calls`` gives the same in-process.
Not implemented: range queries (``[a TO b]``), local params (``{!...}``), fuzzy/proximity/boosts,
scoring, highlighting, spellcheck, stats, numeric or date sorting (values sort as strings), more
than one core (every core name shares one index), persistence. An unsupported query is answered
with HTTP 400 and a Solr-shaped error, so it fails loudly instead of returning wrong results.

Stdlib only, so it runs in the test process (as a thread) or alone: ``python -m
tests.ckan_support.solr_standin PORT``.
"""
from __future__ import annotations

import json
import re
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

SCHEMA_NAME = "ckan-2.12"  # CKAN refuses a Solr whose schema name is not ckan-<its version>
TEXT_FIELDS = ("name", "title", "notes", "tags", "text", "res_name", "res_description")

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]


class Unsupported(Exception):
    """A query or request this stand-in does not understand (answered with HTTP 400)."""


# -- query language -------------------------------------------------------------------------------

def _values(doc: Doc, field: str) -> list[str]:
    value = doc.get(field)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _unquote(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return raw.replace("\\", "")


def _leaf(field: str | None, raw: str) -> Predicate:
    """One term: a bare word searches the text fields; `field:value` compares exactly."""
    if raw.startswith(("[", "{")):
        raise Unsupported(f"range or local params: {raw}")
    want = _unquote(raw)
    if field is None:
        word = want.lower()
        return lambda d: word in " ".join(" ".join(_values(d, f)) for f in TEXT_FIELDS).lower()
    if field == "*" and want == "*":
        return lambda d: True
    if want == "*":
        return lambda d: bool(_values(d, field))
    if want.endswith("*") and not raw.startswith('"'):
        return lambda d: any(v.startswith(want[:-1]) for v in _values(d, field))
    return lambda d: want in _values(d, field)


_TOKEN = re.compile(r"""\s*(?:
    (?P<open>\() | (?P<close>\)) | (?P<op>AND|OR|NOT)(?=[\s(]|$) | (?P<op2>&&|\|\|) | (?P<sign>[+-])(?=\S)
    | (?P<field>(?:[A-Za-z_][\w.]*|\*)): | (?P<quoted>"(?:[^"\\]|\\.)*") | (?P<word>[^\s()"]+) )""", re.X)


def _tokens(query: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while query[pos:].strip():
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise Unsupported(query[pos:])
        pos = match.end()
        kind, value = next((k, v) for k, v in match.groupdict().items() if v is not None)
        if kind == "op2":
            kind, value = "op", "AND" if value == "&&" else "OR"
        out.append((kind, value))
    return out


class _Parser:
    """Recursive descent: or := and (OR and)*; and := [+-NOT] clause ...; clause := (or) | field:x | x."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str | None, str | None]:
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self) -> tuple[str | None, str | None]:
        token = self.peek()
        self.i += 1
        return token

    def parse_or(self, field: str | None = None) -> Predicate:
        alternatives = [self.parse_and(field)]
        while self.peek() == ("op", "OR"):
            self.take()
            alternatives.append(self.parse_and(field))
        return lambda d: any(a(d) for a in alternatives)

    def parse_and(self, field: str | None) -> Predicate:
        required: list[Predicate] = []
        while True:
            kind, value = self.peek()
            if kind in (None, "close") or (kind, value) == ("op", "OR"):
                break
            if (kind, value) == ("op", "AND"):
                self.take()
                continue
            negate = False
            if kind == "sign":
                negate = self.take()[1] == "-"
            elif (kind, value) == ("op", "NOT"):
                self.take()
                negate = True
            clause = self.parse_clause(field)
            required.append((lambda d, c=clause: not c(d)) if negate else clause)
        return lambda d: all(r(d) for r in required)

    def parse_clause(self, field: str | None) -> Predicate:
        kind, value = self.take()
        if kind == "open":
            inner = self.parse_or(field)
            if self.take()[0] != "close":
                raise Unsupported("unbalanced parentheses")
            return inner
        if kind == "field":
            if self.peek()[0] == "open":
                return self.parse_clause(value)
            next_kind, next_value = self.take()
            if next_kind not in ("quoted", "word"):
                raise Unsupported(f"no value after {value}:")
            return _leaf(value, next_value or "")
        if kind in ("quoted", "word"):
            return _leaf(field, value or "")
        raise Unsupported(f"unexpected {kind} {value!r}")


def compile_query(query: str) -> Predicate:
    query = query.strip()
    if not query or query == "*:*":
        return lambda d: True
    parser = _Parser(_tokens(query))
    predicate = parser.parse_or()
    if parser.i != len(parser.tokens):
        raise Unsupported(query)
    return predicate


# -- the index ------------------------------------------------------------------------------------

class SolrStandin:
    """The in-memory index and its HTTP server; `start()` returns the core URL for CKAN's solr_url."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def search(self, params: dict[str, list[str]]) -> dict[str, Any]:
        q = params.get("q", ["*:*"])[0]
        rows = int(params.get("rows", ["10"])[0])
        start = int(params.get("start", ["0"])[0])
        if params.get("defType", [""])[0] in ("dismax", "edismax") and q.strip() != "*:*":
            words = [_leaf(None, w) for w in re.findall(r'"[^"]*"|\S+', q)]
            q_pred: Predicate = lambda d: all(w(d) for w in words)
        else:
            q_pred = compile_query(q)
        filters = [compile_query(fq) for fq in params.get("fq", [])]
        with self.lock:
            found = [d for d in self.docs.values() if q_pred(d) and all(f(d) for f in filters)]
        sort = [part.split() for part in params.get("sort", [""])[0].split(",") if part.strip()]
        for field, *direction in reversed(sort):
            if field != "score":
                found.sort(key=lambda d: (_values(d, field) or [""])[0],
                           reverse=bool(direction) and direction[0].lower() == "desc")
        facets = {field: self._facet(found, field, params) for field in params.get("facet.field", [])}
        page = found[start:start + rows] if rows >= 0 else found[start:]
        fields = [f for f in re.split(r"[,\s]+", params.get("fl", ["*"])[0]) if f]
        if fields and "*" not in fields:
            page = [{k: d[k] for k in fields if k in d} for d in page]
        return {"responseHeader": {"status": 0, "QTime": 0},
                "response": {"numFound": len(found), "start": start, "docs": page},
                "facet_counts": {"facet_fields": facets, "facet_queries": {}, "facet_ranges": {}}}

    @staticmethod
    def _facet(docs: list[Doc], field: str, params: dict[str, list[str]]) -> list[Any]:
        counts: dict[str, int] = {}
        for doc in docs:
            for value in _values(doc, field):
                counts[value] = counts.get(value, 0) + 1
        mincount = int(params.get("facet.mincount", ["1"])[0])
        limit = int(params.get("facet.limit", ["50"])[0])
        items = sorted(((v, c) for v, c in counts.items() if c >= mincount), key=lambda vc: (-vc[1], vc[0]))
        return [x for pair in (items[:limit] if limit >= 0 else items) for x in pair]

    def update(self, body: bytes, content_type: str) -> None:
        if "json" in content_type:
            docs = json.loads(body or b"[]")
            with self.lock:
                for doc in docs if isinstance(docs, list) else [docs]:
                    self.docs[str(doc.get("index_id") or doc["id"])] = doc
            return
        root = ET.fromstring(body)
        if root.tag in ("commit", "optimize"):
            return
        if root.tag != "delete":
            raise Unsupported(f"update body <{root.tag}>")
        with self.lock:
            for element in root:
                if element.tag == "id":
                    gone = {k for k, d in self.docs.items() if element.text in (k, d.get("id"))}
                elif element.tag == "query":
                    pred = compile_query(element.text or "")
                    gone = {k for k, d in self.docs.items() if pred(d)}
                else:
                    raise Unsupported(f"<delete><{element.tag}>")
                for key in gone:
                    del self.docs[key]

    # -- HTTP ---------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port by default) in a daemon thread; return the core URL."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="solr-standin", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/solr/ckan"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler_for(standin: SolrStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # CKAN calls it a lot; stay quiet
            pass

        def _send(self, code: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj: Any, code: int = 200) -> None:
            self._send(code, json.dumps(obj).encode())

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            path = url.path.rstrip("/")
            params = parse_qs(url.query, keep_blank_values=True)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
            content_type = self.headers.get("Content-Type", "")
            key = f"{method} {re.sub(r'^/solr/[^/]+', '', path)}"
            with standin.lock:
                standin.calls[key] = standin.calls.get(key, 0) + 1
            try:
                if path.endswith("/select"):
                    if method == "POST" and "x-www-form-urlencoded" in content_type:
                        params.update(parse_qs(body.decode(), keep_blank_values=True))
                    return self._json(standin.search(params))
                if path.endswith("/update"):
                    standin.update(body, content_type)
                    return self._json({"responseHeader": {"status": 0, "QTime": 0}})
                if path.endswith(("/schema", "/admin/file")):
                    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<schema name="{SCHEMA_NAME}" version="1.6"/>\n'
                    return self._send(200, xml.encode(), "application/xml; charset=utf-8")
                if path.endswith("/admin/ping"):
                    return self._json({"responseHeader": {"status": 0}, "status": "OK"})
                if path.endswith("/admin/cores"):
                    return self._json({"responseHeader": {"status": 0}, "status": {"ckan": {"name": "ckan"}}})
                if path.endswith("/_standin/calls"):
                    with standin.lock:
                        return self._json(dict(standin.calls))
                return self._json({"error": {"msg": f"the stand-in has no {path}", "code": 404}}, 404)
            except (Unsupported, ValueError, KeyError, ET.ParseError) as exc:
                return self._json({"error": {"msg": f"the Solr stand-in cannot handle this: {exc!r}", "code": 400}},
                                  400)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler


def main() -> None:
    standin = SolrStandin()
    print(f"Solr stand-in: {standin.start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

"""plone.restapi's `@search`, on every item: a catalog query, and full-text search with
`SearchableText`.

Without `SearchableText` (or with a blank one) it is the catalog query of portal.api.query: the
items below the context (itself included) that match the filters, sorted as asked (by path by
default), containers included, as Plone lists them.

With `SearchableText` the full-text engine finds the matches, which it ranks by relevance; it
answers on its own -- with `score`, `highlights` and the `facets` of the search page -- when the
query asks for nothing it lacks: relevance order, one path without `path.depth`, filters among
`portal_type`, `review_state`, `unit`, `year`, `subject` and `genre`. Otherwise its best
MAX_MATCHES matches go through the catalog query, which filters and orders them (a text query
sorted by date orders its 1000 most relevant matches). The engine indexes content, not containers
(columns and units are navigation): a text query finds no container.

Items are plone.restapi's summaries (`@id`, `@type`, `type_title`, `title`, `description`,
`review_state`, ...) with the `metadata_fields` asked for (`_all`: every one), or whole items with
`fullobjects`; batched by `b_start`/`b_size` (25 by default).
"""
from __future__ import annotations

from typing import Any

from pyramid.view import view_config
from sqlalchemy import select

from portal.api.errors import json_response
from portal.api.query import CatalogQuery, parse, run
from portal.api.serialize import batch_params, batching, item, item_url, metadata_fields, summary
from portal.models import Node
from portal.pagecache import INDEX_TAG, also_shows

from .backend import FACET_FIELDS, SearchQuery
from .views import as_utc, message

MAX_MATCHES = 1000
ENGINE_PAGE = 100  # the engine's largest page (search.whoosh_query.MAX_PAGE_SIZE)
# catalog query filters the engine has, by their name there
ENGINE_FILTERS = {"portal_type": "type", "review_state": "state", "unit": "unit", "year": "year"}
ENGINE_FIELDS = ("subject", "genre")


def engine_filters(query: CatalogQuery) -> dict[str, list[str]] | None:
    """The query as the engine's filters, or None when it asks for more than the engine has."""
    if any(key != "relevance" for key, _desc in query.sort) or query.depth is not None or len(query.paths) != 1:
        return None
    if set(query.filters) - set(ENGINE_FILTERS) or set(query.fields) - set(ENGINE_FIELDS):
        return None
    return {**{ENGINE_FILTERS[k]: v for k, v in query.filters.items()}, **query.fields}


def engine_query(request: Any, query: CatalogQuery, text: str, filters: dict[str, list[str]], page: int,
                 size: int) -> SearchQuery:
    path = query.paths[0]
    return SearchQuery(text=text, principals=request.principals, filters=filters,
                       path_prefix=None if path == "/" else path, page=page, page_size=size,
                       facets=FACET_FIELDS)


def nodes_by_id(request: Any, ids: list[int]) -> dict[int, Node]:
    return {n.id: n for n in request.dbsession.scalars(select(Node).where(Node.id.in_(ids)))} if ids else {}


def entry(request: Any, node: Node, names: list[str], full: bool) -> dict[str, Any]:
    return item(request, node) if full else summary(request, node, names)


def ranked(request: Any, query: CatalogQuery, text: str, filters: dict[str, list[str]], start: int, size: int,
           names: list[str], full: bool) -> dict[str, Any]:
    """The engine on its own: relevance order, scores, highlights and facets."""
    backend = request.search_backend
    page = start // size + 1  # b_start need not fall on a page boundary: fetch the pages that cover it
    results = backend.query(engine_query(request, query, text, filters, page, size))
    hits = results.hits[start % size:]
    if start % size:
        hits += backend.query(engine_query(request, query, text, filters, page + 1, size)).hits[: start % size]
    found = nodes_by_id(request, [int(h.id) for h in hits])
    items = []
    for hit in hits:
        node = found.get(int(hit.id))
        if node is None:  # deleted since it was indexed; the outbox will take it out
            continue
        items.append({**entry(request, node, names, full), "unit": hit.fields.get("unit"),
                      "doc_number": hit.fields.get("doc_number"), "index_number": hit.fields.get("index_number"),
                      "published": as_utc(hit.fields.get("published")), "score": hit.score,
                      "highlights": hit.highlights})
    body: dict[str, Any] = {"items": items, "items_total": results.total, "facets": {
        name: [{"value": v, "count": c} for v, c in values] for name, values in results.facets.items()}}
    if results.messages:
        body["message"] = message(request, results)
    return body


def matches(request: Any, query: CatalogQuery, text: str) -> tuple[list[int], str]:
    """The engine's best MAX_MATCHES matches below the query's first path, most relevant first."""
    ids: list[int] = []
    note = ""
    for page in range(1, MAX_MATCHES // ENGINE_PAGE + 1):
        results = request.search_backend.query(engine_query(request, query, text, {}, page, ENGINE_PAGE))
        note = note or message(request, results)
        ids += [int(h.id) for h in results.hits]
        if len(ids) >= results.total or not results.hits:
            break
    return ids, note


@view_config(context=Node, name="@search", request_method="GET", permission="view")
def search(context: Node, request: Any) -> Any:
    query = parse(request)
    text = request.params.get("SearchableText", "").strip()
    if text:
        also_shows(request, INDEX_TAG)  # full-text results follow the index, applied after the commit
    start, size = batch_params(request)
    names, full = metadata_fields(request), request.params.get("fullobjects", "") not in ("", "0", "false")
    url = f"{item_url(request, context)}/@search"
    filters = engine_filters(query) if text else None
    if filters is not None:
        body = ranked(request, query, text, filters, start, size, names, full)
    else:
        ids, note = matches(request, query, text) if text else (None, "")
        nodes, total = run(request, query, start, size, ids)
        body = {"items": [entry(request, node, names, full) for node in nodes], "items_total": total}
        if note:
            body["message"] = note
    links = batching(request, url, body["items_total"], start, size)
    return json_response({"@id": f"{url}?{request.query_string}" if request.query_string else url, **body,
                          **({"batching": links} if links else {})})

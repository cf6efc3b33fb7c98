"""The search page (portal-wide, or within one unit); `@search`, its JSON counterpart, is search.api.

Both ask the backend with the principals of the current user, so the index itself filters by
permission (Plone's allowedRolesAndUsers idea): counts, facets and pages never include an item
the user may not view.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from pyramid.view import view_config

from portal.facets import Chosen, Entry, bounded, newest_first, unit_order
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.pagecache import INDEX_TAG, also_shows
from portal.registry import content_types

from .backend import CST, FACET_FIELDS, SearchQuery, SearchResults

PAGE_SIZE = 10
FACET_TITLES = {"unit": _("Unit"), "type": _("Type"), "subject": _("Subject class"), "year": _("Year")}


def int_param(request: Any, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.params.get(name, default))))
    except (TypeError, ValueError):
        return default


def search(request: Any, context: Node, text: str, filters: dict[str, list[str]], sort: str, page: int,
           page_size: int) -> SearchResults:
    query = SearchQuery(text=text, principals=request.principals, filters=filters,
                        path_prefix=context.path if isinstance(context, Unit) else None,
                        sort="date" if sort == "date" else "relevance", page=page, page_size=page_size,
                        facets=FACET_FIELDS)
    return request.search_backend.query(query)


def message(request: Any, results: SearchResults) -> str:
    """What the engine has to tell the visitor, in their language ("" if nothing)."""
    return "；".join(request.localizer.translate(m) for m in results.messages)


def as_utc(value: Any) -> str | None:
    """The backend keeps naive China time; the API speaks UTC with the offset, as the item API does."""
    if value is None:
        return None
    return value.replace(tzinfo=CST).astimezone(dt.timezone.utc).isoformat()


def filters_from(request: Any, names: dict[str, str]) -> dict[str, list[str]]:
    """{index field: values} from request parameters named by `names` ({param: field})."""
    out: dict[str, list[str]] = {}
    for param, field in names.items():
        values = [v[:100] for v in request.params.getall(param) if isinstance(v, str) and v.strip()][:20]
        if values:
            out[field] = values
    return out


@view_config(context=Portal, name="search", permission="view", renderer="themes:default/templates/search.pt",
             kept_for_users=True)
@view_config(context=Unit, name="search", permission="view", renderer="themes:default/templates/search.pt",
             kept_for_users=True)
def search_page(context: Node, request: Any) -> dict[str, Any]:
    also_shows(request, INDEX_TAG)  # results follow the index, which is applied after the commit
    text = request.params.get("q", "")
    filters = filters_from(request, {f: f for f in FACET_FIELDS})
    sort = request.params.get("sort", "relevance")
    page = int_param(request, "page", 1, 1, 1000)
    results = search(request, context, text, filters, sort, page, PAGE_SIZE)
    base = {"q": text, "sort": sort, **filters}

    def link(**change: Any) -> str:
        params = {**base, **change}
        params = {k: v for k, v in params.items() if v not in (None, "", [])}
        return request.resource_url(context, "@@search") + "?" + urlencode(params, doseq=True)

    def toggle(field: str, value: str) -> str:
        current = list(filters.get(field, []))
        current = [v for v in current if v != value] if value in current else current + [value]
        return link(**{field: current, "page": None})

    translate = request.localizer.translate
    type_titles = {name: info.title for name, info in content_types(request.registry).items()}

    def label(field: str, value: str) -> str:
        return translate(type_titles[value]) if field == "type" and value in type_titles else value

    facets = []
    for field, counted in results.facets.items():
        if not counted:
            continue
        entries = [Entry(label(field, v), toggle(field, v), n, v in filters.get(field, [])) for v, n in counted]
        order = unit_order(request) if field == "unit" else newest_first if field == "year" else None
        facets.append(bounded(field, translate(FACET_TITLES.get(field, field)), entries, order))
    applied = [Chosen(translate(FACET_TITLES.get(field, field)), label(field, v), toggle(field, v))
               for field, values in filters.items() for v in values]
    pages = max(1, (results.total + PAGE_SIZE - 1) // PAGE_SIZE)
    return {"q": text, "results": results, "message": message(request, results), "filters": filters,
            "sort": sort, "page": page, "pages": pages, "link": link, "facets": facets, "applied": applied,
            "clear": link(**{f: None for f in filters}, page=None), "type_titles": type_titles,
            "within": context if isinstance(context, Unit) else None}

"""RSS 2.0 and Atom 1.0 feeds of the newest public items, built with lxml, and the
`<link rel="alternate">` entries that announce them.

A feed is public whoever asks: it lists what `public_now` lets everyone see, never a draft a
logged-in reader could open, so the page cache keeps one copy for every reader (it is tagged like
the page of its context: a publication below bumps the context's tree). The core builds the
feeds of a column (its own children), of a unit and of the portal (the newest dated items
anywhere below); packages add feeds of their own with the same builder (`entries`, `render`) and
announce them with `config.add_feed_links(provider)`.

Entries keep their identity through renames and moves: the guid (RSS) and id (Atom) is the item's
UID as a `urn:uuid:`, not its URL. Dates are China time: RFC 822 in RSS, RFC 3339 in Atom.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from lxml import etree, html
from pyramid.response import Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .i18n import _
from .models import Node, Portal, Unit
from .registry import content_types, type_info
from .schemas import to_local
from .visibility import public_children_now, public_now

RSS, ATOM = "rss", "atom"
MEDIA_TYPES = {RSS: "application/rss+xml", ATOM: "application/atom+xml"}
VIEW_NAMES = {RSS: "rss.xml", ATOM: "atom.xml"}
KIND_LABELS = {RSS: "RSS", ATOM: "Atom"}
SIZE = 20
EXCERPT = 200  # characters of text when an item has no description
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
LANGUAGE = "zh-CN"
PROVIDERS = "portal.feed_link_providers"

FeedLink = tuple[str, str, str]  # (media type, title, URL): one <link rel="alternate">


@dataclass(frozen=True)
class Entry:
    title: str
    url: str
    id: str  # urn:uuid:... of the item's UID
    published: dt.datetime  # naive UTC, as stored
    updated: dt.datetime
    summary: str
    author: str = ""  # 来源 / 发布机构, where the type has one
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    title: str
    page_url: str  # the HTML page the feed follows
    url: str  # the feed itself
    description: str
    publisher: str  # the site: Atom wants an author for entries that have none
    updated: dt.datetime  # naive UTC
    entries: Sequence[Entry] = field(default_factory=tuple)


# --- the XML --------------------------------------------------------------------------------------

def rfc822(moment: dt.datetime) -> str:
    return email.utils.format_datetime(to_local(moment))


def rfc3339(moment: dt.datetime) -> str:
    return to_local(moment).isoformat(timespec="seconds")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def rss(feed: Feed) -> bytes:
    root = etree.Element("rss", nsmap={"atom": ATOM_NS, "dc": DC_NS}, version="2.0")
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.page_url)
    _sub(channel, "description", feed.description)
    _sub(channel, "language", LANGUAGE.lower())
    _sub(channel, "lastBuildDate", rfc822(feed.updated))
    _sub(channel, f"{{{ATOM_NS}}}link", href=feed.url, rel="self", type=MEDIA_TYPES[RSS])
    for entry in feed.entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        _sub(item, "link", entry.url)
        _sub(item, "guid", entry.id, isPermaLink="false")
        _sub(item, "pubDate", rfc822(entry.published))
        _sub(item, "description", entry.summary)
        if entry.author:  # RSS's <author> is an e-mail address; a name is dc:creator
            _sub(item, f"{{{DC_NS}}}creator", entry.author)
        for category in entry.categories:
            _sub(item, "category", category)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def atom(feed: Feed) -> bytes:
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", LANGUAGE)
    a = f"{{{ATOM_NS}}}"
    _sub(root, a + "id", feed.url)
    _sub(root, a + "title", feed.title)
    _sub(root, a + "subtitle", feed.description)
    _sub(root, a + "updated", rfc3339(feed.updated))
    _sub(root, a + "link", href=feed.page_url, rel="alternate", type="text/html")
    _sub(root, a + "link", href=feed.url, rel="self", type=MEDIA_TYPES[ATOM])
    _sub(_sub(root, a + "author"), a + "name", feed.publisher)
    for entry in feed.entries:
        item = _sub(root, a + "entry")
        _sub(item, a + "id", entry.id)
        _sub(item, a + "title", entry.title)
        _sub(item, a + "link", href=entry.url, rel="alternate", type="text/html")
        _sub(item, a + "published", rfc3339(entry.published))
        _sub(item, a + "updated", rfc3339(entry.updated))
        _sub(item, a + "summary", entry.summary, type="text")
        if entry.author:
            _sub(_sub(item, a + "author"), a + "name", entry.author)
        for category in entry.categories:
            _sub(item, a + "category", term=category)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def render(feed: Feed, kind: str) -> Response:
    body = rss(feed) if kind == RSS else atom(feed)
    return Response(body=body, content_type=MEDIA_TYPES[kind], charset="utf-8")


# --- entries from items -------------------------------------------------------------------------

def plain_text(value: str) -> str:
    """Text of stored HTML (sanitised on write) with its whitespace collapsed."""
    if not value or not value.strip():
        return ""
    if "<" in value:
        value = html.fragment_fromstring(value, create_parent="div").text_content()
    return re.sub(r"\s+", " ", value).strip()


def excerpt(text: str, size: int = EXCERPT) -> str:
    return text if len(text) <= size else text[:size].rstrip() + "…"


def summary_of(request: Any, node: Node) -> str:
    """The item's description, else the start of the first of its type's text fields that has text."""
    if node.description and node.description.strip():
        return node.description.strip()
    info = type_info(request.registry, node.type)
    for name in info.text_fields if info else ():
        text = plain_text(getattr(node, name, "") or "")
        if text:
            return excerpt(text)
    return ""


def source_of(request: Any, node: Node) -> str:
    info = type_info(request.registry, node.type)
    return str(getattr(node, info.source_field, "") or "").strip() if info and info.source_field else ""


def column_title(node: Node) -> str | None:
    """The title of the column an item is in (none for an item loose in a unit or the portal)."""
    parent = node.parent
    return parent.title if parent is not None and not isinstance(parent, (Portal, Unit)) else None


def entry_id(node: Node) -> str:
    """The item's UID as a URN: it stays when the item is renamed or moved."""
    try:
        return uuid.UUID(hex=node.uid).urn
    except ValueError:  # (every UID the portal makes is a UUID's 32 hex digits)
        return f"urn:portal:{node.uid}"


def entries(request: Any, nodes: Iterable[Node],
            categories: Callable[[Node], Iterable[str]] | None = None) -> list[Entry]:
    """Feed entries of `nodes` (already public): `categories(node)` adds to the column's title."""
    out = []
    for node in nodes:
        published = node.published or node.modified
        extra = tuple(c for c in (categories(node) if categories else ()) if c)
        out.append(Entry(
            title=node.title, url=request.application_url + node.path, id=entry_id(node),
            published=published, updated=max(published, node.modified), summary=summary_of(request, node),
            author=source_of(request, node),
            categories=tuple(dict.fromkeys(c for c in (column_title(node), *extra) if c))))
    return out


def newest(request: Any, conditions: list[Any], query: Any = None, limit: int = SIZE) -> list[Node]:
    """The newest `limit` nodes where `conditions` hold (public ones: the caller's conditions
    include `public_now` or `public_children_now`), their parents loaded with them."""
    query = select(Node) if query is None else query
    return list(request.dbsession.scalars(query.where(*conditions).options(selectinload(Node.parent))
                                          .order_by(Node.published.desc(), Node.id.desc()).limit(limit)))


def items_of(request: Any, context: Node) -> list[Node]:
    """What the feed of `context` lists: a column its own public children; a unit or the portal
    the newest public dated items (news, documents) anywhere below it."""
    if isinstance(context, (Portal, Unit)):
        dated = [info.name for info in content_types(request.registry).values() if info.dated]
        return newest(request, [Node.path.like(f"{context.path}_%"), Node.type.in_(dated), *public_now()])
    return newest(request, public_children_now(context))


def lineage_title(context: Node) -> str:
    """"新闻动态 - 黄梅镇 - 黄梅县人民政府": the context and what lies above it."""
    return " - ".join(n.title for n in context.lineage())


def feed_of(request: Any, context: Node, title: str, description: Any, page_url: str, url: str,
            items: Sequence[Node], categories: Callable[[Node], Iterable[str]] | None = None) -> Feed:
    root = next(n for n in context.lineage() if n.parent_id is None)
    listed = entries(request, items, categories)
    updated = max((e.updated for e in listed), default=context.published or context.modified)
    return Feed(title=title, page_url=page_url, url=url, description=request.localizer.translate(description),
                publisher=getattr(root, "sponsor", "") or root.title, updated=updated, entries=listed)


def context_feed(request: Any, context: Node, kind: str) -> Response:
    """The feed of a column, a unit or the portal (portal.views.feeds)."""
    title = lineage_title(context)
    description = context.description or _("The newest items of ${title}", mapping={"title": context.title})
    feed = feed_of(request, context, title, description, request.application_url + context.path,
                   f"{request.application_url}{context.path}@@{VIEW_NAMES[kind]}", items_of(request, context))
    return render(feed, kind)


# --- announcing them ------------------------------------------------------------------------------

def links(request: Any, context: Node, title: str, view_names: dict[str, str]) -> list[FeedLink]:
    """The RSS and Atom links of one feed of `context` (`view_names`: kind -> view name)."""
    base = request.application_url + context.path
    return [(MEDIA_TYPES[kind], f"{title} ({KIND_LABELS[kind]})", f"{base}@@{view_names[kind]}")
            for kind in (RSS, ATOM)]


def core_links(request: Any, context: Node) -> list[FeedLink]:
    """A column, a unit and the portal announce their own feeds; an item its container's."""
    node: Node | None = context
    while node is not None and not node.folderish:
        node = node.parent
    return links(request, node, lineage_title(node), VIEW_NAMES) if node is not None else []


def feed_links(request: Any, context: Node | None) -> list[FeedLink]:
    """Every feed a page of `context` announces: (media type, title, URL), for
    `<link rel="alternate" type=... title=... href=...>` in the page's head. Read from the
    context and its parents only (already loaded): no query."""
    if context is None:
        return []
    found: list[FeedLink] = []
    for provider in (core_links, *request.registry.get(PROVIDERS, ())):
        found.extend(provider(request, context))
    return found


def add_feed_links(config: Any, provider: Callable[[Any, Node], list[FeedLink]]) -> None:
    """`config.add_feed_links(provider)`: `provider(request, context)` gives the links of a
    package's own feeds that the page of `context` announces."""
    def register() -> None:
        config.registry.setdefault(PROVIDERS, []).append(provider)
    config.action(None, register)


def includeme(config: Any) -> None:
    config.add_directive("add_feed_links", add_feed_links)

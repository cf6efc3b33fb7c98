"""What the master template needs to draw the site around a page."""
from __future__ import annotations

import datetime as dt
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from pyramid.csrf import get_csrf_token
from pyramid.i18n import get_localizer
from sqlalchemy import select

from portal.content import REVISION_KINDS, display_names, rejections
from portal.feeds import feed_links
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.pagecache.tags import NAV, read_versions
from portal.registry import AddChoice, add_choices, type_info
from portal.schemas import to_local
from portal.uploads import human_size
from portal.views.contents import can_manage_contents
from portal.workflow import STATES, TRANSITIONS, allowed_transitions



NAV_MEMO = "themes.layout.top_units"


class Layout:
    def __init__(self, request: Any, context: Any) -> None:
        self.request = request
        self.context = context if isinstance(context, Node) else None

    def t(self, term: Any) -> str:
        if isinstance(term, str) and not hasattr(term, "domain"):
            term = _(term)
        return get_localizer(self.request).translate(term)

    @cached_property
    def root(self) -> Portal | None:
        if isinstance(self.context, Node):
            return next(n for n in self.context.lineage() if n.parent_id is None)  # type: ignore[return-value]
        return self.request.dbsession.scalar(select(Portal).where(Node.path == "/"))

    @cached_property
    def user(self) -> Any:
        return self.request.identity

    @cached_property
    def csrf_token(self) -> str:
        return get_csrf_token(self.request)

    @cached_property
    def unit(self) -> Unit | None:
        return self.context.unit() if self.context is not None else None

    @cached_property
    def top_units(self) -> list[tuple[str, list[SimpleNamespace]]]:
        """Units directly under the root, by kind, for the navigation: (kind, [unit's title and
        url]). Every page shows them, so they are read once per version of the navigation (the
        page cache's `nav` tag, bumped by any change of a unit) rather than per page; a request
        inside a caller's transaction (a script, a test) reads them itself."""
        if "app.dbsession" in self.request.environ:
            return self._read_top_units()
        (version,), _last = read_versions(self.request.dbsession, (NAV,))
        key = (version, self.application_url, self.root.id)
        memo = self.request.registry.get(NAV_MEMO)
        if memo is None or memo[0] != key:
            memo = self.request.registry[NAV_MEMO] = (key, self._read_top_units())
        return memo[1]

    def _read_top_units(self) -> list[tuple[str, list[SimpleNamespace]]]:
        units = self.request.dbsession.execute(
            select(Node.title, Node.path, Unit.kind).select_from(Unit)
            .where(Node.parent_id == self.root.id, Node.state == "published").order_by(Node.position)).all()
        groups: dict[str, list[SimpleNamespace]] = {}
        for title, path, kind in units:
            groups.setdefault(kind, []).append(SimpleNamespace(title=title, url=self.application_url + path))
        return [(kind, groups[kind]) for kind in Unit.KINDS if kind in groups]

    @cached_property
    def feed_links(self) -> list[tuple[str, str, str]]:
        """The feeds the page announces in its head: (media type, title, URL) (portal.feeds)."""
        return feed_links(self.request, self.context)

    def breadcrumbs(self) -> list[Node]:
        if self.context is None:
            return []
        return list(reversed(list(self.context.lineage())))

    @cached_property
    def application_url(self) -> str:
        return self.request.application_url

    def url(self, node: Node, *elements: str, **kw: Any) -> str:
        """An item's page from its stored path (names are URL-safe: portal.slugs), without the
        walk up the parents of `resource_url`: the navigation alone links 83 units."""
        if not elements and not kw and node.path:
            return self.application_url + node.path
        return self.request.resource_url(node, *elements, **kw)

    def static(self, path: str) -> str:
        return self.request.static_url(f"themes:default/static/{path}")

    def fmt(self, value: dt.datetime | dt.date | None, with_time: bool = True) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            local = to_local(value)
            return local.strftime("%Y-%m-%d %H:%M") if with_time else local.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d")

    def size(self, size: int) -> str:
        return human_size(size)

    def state_title(self, node: Node) -> str:
        return self.state_name(node.state)

    def state_name(self, state: str) -> str:
        return self.t(STATES[state].title) if state in STATES else state

    def transition_title(self, name: str, source: str) -> str:
        t = next((t for t in TRANSITIONS if t.name == name and t.source == source), None)
        return self.t(t.title) if t else name

    def revision_kind(self, kind: str) -> str:
        return self.t(REVISION_KINDS.get(kind, kind))

    def field_title(self, node: Node, name: str) -> str:
        """The label the edit form gives a field."""
        info = type_info(self.request.registry, node.type)
        schema = info.schema(self.request, node) if info else None
        return self.t(schema[name].title) if schema is not None and name in schema else name

    def type_title(self, node: Node) -> str:
        info = type_info(self.request.registry, node.type)
        return self.t(info.title) if info else node.type

    def can(self, permission: str, node: Node | None = None) -> bool:
        node = node or self.context
        return node is not None and bool(self.request.has_permission(permission, node))

    @cached_property
    def actions(self) -> list[tuple[str, str]]:
        """The staff tabs of the current item: (label, url)."""
        node = self.context
        if node is None or self.user is None:
            return []
        tabs = [(_("View"), self.url(node), "view")]
        if self.can("edit"):
            tabs.append((_("Edit"), self.url(node, "@@edit"), "edit"))
        if node.folderish and self.can("view") and can_manage_contents(self.request, node):
            tabs.append((_("Contents"), self.url(node, "@@contents"), "contents"))
        if node.folderish and self.can("manage"):
            tabs.append((_("Sharing"), self.url(node, "@@sharing"), "sharing"))
        if self.can("history"):
            tabs.append((_("History"), self.url(node, "@@history"), "history"))
        return [(self.t(label), url) for label, url, _name in tabs]

    @cached_property
    def rejection(self) -> SimpleNamespace | None:
        """The reviewer's rejection the item still carries (see portal.content.rejections), for the
        banner of its page: shown to the people who may see its history, which records it."""
        node = self.context
        if node is None or self.user is None or node.parent_id is None or not self.can("history"):
            return None
        event = rejections(self.request, [node]).get(node.id)
        if event is None:
            return None
        by = display_names(self.request, [event.actor]).get(event.actor or "", event.actor or "")
        return SimpleNamespace(change=event.to_state == "published", by=by, at=event.at, comment=event.comment)

    @cached_property
    def transitions(self) -> list[Any]:
        if self.context is None or self.user is None or self.context.parent_id is None:
            return []
        return allowed_transitions(self.request, self.context)

    @cached_property
    def add_choices(self) -> list[AddChoice]:
        """The add menu (portal.registry.add_choices): what belongs here, then what belongs in
        one of its columns."""
        if self.context is None or self.user is None:
            return []
        return add_choices(self.request, self.context)

    @cached_property
    def addable(self) -> list[Any]:
        """The types added here, in the context itself (the menu's select)."""
        return [c.info for c in self.add_choices if not c.elsewhere]

    @cached_property
    def add_elsewhere(self) -> list[tuple[str, str]]:
        """The menu's entries that lead to a column's add form: ("新闻 → 新闻动态", url)."""
        return [(f"{self.t(c.info.title)} → {c.container.title}",
                 self.url(c.container, "@@add", query={"type": c.info.name}))
                for c in self.add_choices if c.elsewhere]

    def flash(self) -> list[str]:
        """The messages waiting for this browser. Only a session that holds some is touched:
        popping from an empty one would set a session cookie on every anonymous page."""
        session = self.request.session
        return session.pop_flash() if "_f_" in session else []

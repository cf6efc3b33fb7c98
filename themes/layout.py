"""What the master template needs to draw the site around a page."""
from __future__ import annotations

import datetime as dt
from functools import cached_property
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from pyramid.csrf import get_csrf_token
from pyramid.i18n import get_localizer
from sqlalchemy import select, tuple_

from portal.content import REVISION_KINDS, display_names, rejections
from portal.feeds import feed_links, source_of
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.pagecache import also_shows
from portal.pagecache.memo import versioned
from portal.pagecache.tags import NAV, read_versions
from portal.registry import AddChoice, add_choices, content_types, type_info
from portal.schemas import to_local
from portal.uploads import human_size
from portal.visibility import public_children_now
from portal.views.contents import can_manage_contents
from portal.workflow import PUBLIC_STATES, STATES, TRANSITIONS, allowed_transitions



NAV_MEMO = "themes.layout.navigation"
# The county portal's sections that are pages directly under the root (made by the demo, edited
# by the site's managers): 走进黄梅, 政务服务, 互动交流. 政务公开 is the 信息公开目录.
MAIN_PAGES = (("zjhm", _("About Huangmei")), ("zwfw", _("Government services")), ("hdjl", _("Interaction")))
# the national 我为政府网站找错 form (its script's link, without the script), the MIIT's ICP
# records, the Ministry of Public Security's records, and the 党政机关网站标识's page
REPORT_ERROR_URL = "https://zfwzgl.www.gov.cn/exposure/jiucuo.html"
ICP_URL = "https://beian.miit.gov.cn/"
POLICE_URL = "https://beian.mps.gov.cn/#/query/webSearch?code="
CONAC_URL = "https://bszs.conac.cn/sitename?method=show&id="
# (setting, value, label) of the display switches (portal.views.display)
DISPLAY_SWITCHES = (("text", "large", _("Larger text")), ("text", "normal", _("Normal text")),
                    ("contrast", "high", _("High contrast")), ("contrast", "normal", _("Normal colours")))


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
    def navigation(self) -> SimpleNamespace:
        """What is directly under the root, for the navigation: `units` by kind, (kind, [unit's
        title and url]), and the root's public `pages` by name. Every page shows them, so they
        are read once per version of the navigation (the page cache's `nav` tag, bumped by any
        change directly under the root) rather than per page; a request inside a caller's
        transaction (a script, a test) reads them itself."""
        if "app.dbsession" in self.request.environ:
            return self._read_navigation()
        (version,), _last = read_versions(self.request.dbsession, (NAV,))
        key = (version, self.application_url, self.root.id)
        memo = self.request.registry.get(NAV_MEMO)
        if memo is None or memo[0] != key:
            memo = self.request.registry[NAV_MEMO] = (key, self._read_navigation())
        return memo[1]

    @property
    def top_units(self) -> list[tuple[str, list[SimpleNamespace]]]:
        return self.navigation.units

    def _read_navigation(self) -> SimpleNamespace:
        units = self.request.dbsession.execute(
            select(Node.title, Node.path, Unit.kind, Unit.short_name).select_from(Unit)
            .where(Node.parent_id == self.root.id, Node.state == "published").order_by(Node.position)).all()
        groups: dict[str, list[SimpleNamespace]] = {}
        for title, path, kind, short in units:
            groups.setdefault(kind, []).append(SimpleNamespace(title=title, short=short or title,
                                                               url=self.application_url + path))
        pages = self.request.dbsession.execute(
            select(Node.name, Node.title, Node.path).where(*public_children_now(self.root), Node.name.in_(
                [name for name, _title in MAIN_PAGES]))).all()
        return SimpleNamespace(units=[(kind, groups[kind]) for kind in Unit.KINDS if kind in groups],
                               pages={name: SimpleNamespace(title=title, url=self.application_url + path)
                                      for name, title, path in pages})

    # -- the site's chrome: whose site this is, its navigation, footer and page meta ------------

    @cached_property
    def site(self) -> SimpleNamespace:
        """Whose site the page belongs to: the unit's sub-site (its own name, banner and columns)
        or the county portal."""
        unit = self.unit
        if unit is not None:
            banner = self.url(unit, "@@images", "banner", "large") if unit.banner else None
            return SimpleNamespace(title=unit.full_name or unit.title, url=self.url(unit), unit=unit, banner=banner)
        return SimpleNamespace(title=self.root.title, url=self.url(self.root), unit=None, banner=None)

    @cached_property
    def page_title(self) -> str:
        """"Item - unit - county portal", the way Chinese government sites name their pages."""
        parts = [self.context.title] if self.context is not None and self.context.parent_id is not None \
            and self.context is not self.site.unit else []
        if self.site.unit is not None:
            parts.append(self.site.unit.title)
        return " - ".join([*parts, self.root.title])

    @cached_property
    def main_nav(self) -> list[SimpleNamespace]:
        """The bar under the header: the unit's home, columns and catalogue on a sub-site; the
        county portal's sections elsewhere (those of its pages that exist and are public)."""
        here = self.request.path_url
        if self.site.unit is not None:
            unit = self.site.unit
            # kept per version of the unit's header (`node:<unit>`: a change of one of its columns)
            columns = versioned(self.request, (f"node:{unit.id}",), ("unit columns", unit.id), lambda: [
                tuple(row) for row in self.request.dbsession.execute(
                    select(Node.title, Node.path).where(*public_children_now(unit), Node.type.in_(self.column_types))
                    .order_by(Node.position))])
            entries = [(self.t(_("Unit home")), self.url(unit))]
            entries += [(title, self.application_url + path) for title, path in columns]
            entries.append((self.t(_("Disclosure catalogue")), self.url(unit, "@@xxgk")))
        else:
            pages = self.navigation.pages
            entries = [(self.t(_("Home")), self.url(self.root))]
            for name, title in MAIN_PAGES:
                if name in pages:
                    entries.append((self.t(title), pages[name].url))
                if name == "zjhm":  # 政务公开: the 信息公开目录, after 走进黄梅
                    entries.append((self.t(_("Government affairs")), self.url(self.root, "@@xxgk")))
        best = max((url for _t, url in entries if here == url or here.startswith(url.rstrip("/") + "/")),
                   key=len, default=None)
        return [SimpleNamespace(title=title, url=url, current=url == best) for title, url in entries]

    @cached_property
    def column_types(self) -> list[str]:
        """The folderish types that are not sites: a unit's columns."""
        return [info.name for info in content_types(self.request.registry).values()
                if info.folderish and info.factory not in (Portal, Unit)]

    @cached_property
    def footer(self) -> SimpleNamespace:
        """The conventions of a government site's footer: its 网站地图, the national 我为政府网站找错
        form for this page, the ICP and 公安 records linked to where they can be checked, and the
        党政机关网站标识 when the site has one."""
        root = self.root
        police_code = "".join(ch for ch in root.police_record if ch.isdigit())
        return SimpleNamespace(
            sitemap=self.url(root, "@@sitemap"),
            report_error=f"{REPORT_ERROR_URL}?{urlencode({'site_code': root.site_code, 'url': self.request.url})}",
            icp=ICP_URL, police=f"{POLICE_URL}{police_code}" if police_code else POLICE_URL.split("#")[0],
            conac=f"{CONAC_URL}{root.conac_code}" if root.conac_code else None)

    @cached_property
    def meta_tags(self) -> list[tuple[str, str]]:
        """The page's meta tags in the national template's words (国办发〔2017〕47号, 政府网站网页设计
        规范): the site's on every page, the column's on column pages and items, the article's on items."""
        root, ctx = self.root, self.context
        tags = [("SiteName", root.title), ("SiteDomain", self.request.host), ("SiteIDCode", root.site_code)]
        if ctx is None or ctx.parent_id is None:
            return tags
        column = ctx if ctx.folderish else ctx.parent
        tags += [("ColumnName", column.title), ("ColumnDescription", column.description or column.title),
                 ("ColumnKeywords", getattr(column, "keywords", "") or column.title),
                 ("ColumnType", getattr(column, "column_kind", "") or self.type_title(column))]
        if ctx.folderish:
            return tags
        unit = self.unit
        source = source_of(self.request, ctx) or (unit.full_name if unit else root.sponsor)
        description = ctx.description or getattr(ctx, "summary", "") or ctx.title
        tags += [("ArticleTitle", ctx.title), ("PubDate", self.fmt(ctx.published or ctx.modified)),
                 ("ContentSource", source), ("Keywords", getattr(ctx, "keywords", "") or ctx.title),
                 ("Author", source), ("Description", description[:200])]
        picture = self.picture(ctx)
        if picture:
            tags.append(("Image", picture))
        tags.append(("Url", self.url(ctx)))
        return tags

    @cached_property
    def neighbours(self) -> SimpleNamespace | None:
        """上一篇 and 下一篇 of a published item: the next newer and the next older public item of
        its column. The page then also shows its column's listing (`tree:<column>`), so that a
        publish beside it renews the links."""
        ctx = self.context
        if ctx is None or ctx.folderish or ctx.parent is None or ctx.published is None \
                or ctx.state not in PUBLIC_STATES or not ctx.is_public_now():
            return None
        column = f"tree:{ctx.parent_id}"
        also_shows(self.request, column)

        def read() -> tuple[Any, Any]:
            base = select(Node.title, Node.path).where(*public_children_now(ctx.parent)).limit(1)
            here = tuple_(Node.published, Node.id)
            newer = self.request.dbsession.execute(base.where(here > (ctx.published, ctx.id))
                                                   .order_by(Node.published, Node.id)).first()
            older = self.request.dbsession.execute(base.where(here < (ctx.published, ctx.id))
                                                   .order_by(Node.published.desc(), Node.id.desc())).first()
            return (tuple(newer) if newer else None), (tuple(older) if older else None)

        newer, older = versioned(self.request, (column,), ("neighbours", ctx.id), read)
        link = (lambda row: SimpleNamespace(title=row[0], url=self.application_url + row[1]) if row else None)
        return SimpleNamespace(newer=link(newer), older=link(older))

    def picture(self, node: Node) -> str | None:
        """The URL of the first picture among the item's upload fields."""
        info = type_info(self.request.registry, node.type)
        for name in (info.file_fields if info else ()):
            ref = getattr(node, name, None)
            if isinstance(ref, dict) and str(ref.get("content_type", "")).startswith("image/"):
                return self.url(node, "@@images", name, "preview")
        return None

    @cached_property
    def display_links(self) -> list[SimpleNamespace]:
        """The larger-text and high-contrast switches (portal.views.display): plain links, so they
        work without JavaScript; which of each pair shows is decided by the visitor's own
        stylesheet, so the page itself stays the same for everyone (and cacheable)."""
        back = self.request.path_qs
        return [SimpleNamespace(title=self.t(title), css=f"display-{setting}-{value}",
                                url=self.url(self.root, "@@display", query={setting: value, "came_from": back}))
                for setting, value, title in DISPLAY_SWITCHES]

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

"""The feeds of the 信息公开目录: the newest public disclosure documents, county-wide
(`/@@xxgk-rss.xml`, `/@@xxgk-atom.xml`) and per unit (`/<unit>/@@xxgk-rss.xml`, ...), built by
the core's feed builder (portal.feeds) with the document's 发布机构 as author and its 主题分类
beside its column as categories."""
from __future__ import annotations

from typing import Any

from pyramid.view import view_config
from sqlalchemy import select

from portal import feeds
from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.visibility import public_now

from .disclosure import Disclosure

VIEW_NAMES = {feeds.RSS: "xxgk-rss.xml", feeds.ATOM: "xxgk-atom.xml"}
CATALOGUE = _("Government information disclosure catalogue")


def documents(request: Any, context: Node) -> list[Disclosure]:
    # the type named, so the database walks (type, state, published), as the catalogue does
    conditions = [Node.type == Disclosure.__mapper__.polymorphic_identity, *public_now()]
    if isinstance(context, Unit):
        conditions.append(Node.path.like(f"{context.path}%"))
    return feeds.newest(request, conditions, select(Disclosure))


def title_of(request: Any, context: Node) -> str:
    return f"{request.localizer.translate(CATALOGUE)} - {feeds.lineage_title(context)}"


@view_config(context=Portal, name=VIEW_NAMES[feeds.RSS], permission="view")
@view_config(context=Unit, name=VIEW_NAMES[feeds.RSS], permission="view")
@view_config(context=Portal, name=VIEW_NAMES[feeds.ATOM], permission="view")
@view_config(context=Unit, name=VIEW_NAMES[feeds.ATOM], permission="view")
def catalogue_feed(context: Node, request: Any) -> Any:
    kind = feeds.RSS if request.view_name == VIEW_NAMES[feeds.RSS] else feeds.ATOM
    base = request.application_url + context.path
    title = title_of(request, context)
    feed = feeds.feed_of(request, context, title,
                         _("The newest documents of the government information disclosure catalogue of ${title}",
                           mapping={"title": context.title}),
                         f"{base}@@xxgk", f"{base}@@{VIEW_NAMES[kind]}", documents(request, context),
                         categories=lambda doc: (doc.subject,))
    return feeds.render(feed, kind)


def catalogue_links(request: Any, context: Node) -> list[feeds.FeedLink]:
    """The portal's pages announce the county-wide catalogue's feeds; a unit's catalogue page
    (`@@xxgk`) its own."""
    if isinstance(context, Portal) or (isinstance(context, Unit) and request.view_name == "xxgk"):
        return feeds.links(request, context, title_of(request, context), VIEW_NAMES)
    return []


def includeme(config: Any) -> None:
    config.add_feed_links(catalogue_links)
    config.scan(__name__)

"""The files every site has at its root -- sitemap.xml (and its parts), robots.txt, favicon.ico --
and the HTML 网站地图 (`/@@sitemap`). All but the icon are kept by the page cache like any page
of the root: a change anywhere bumps the root's tree tag."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.path import AssetResolver
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from .. import sitemaps
from ..models import Portal
from . import template

SITEMAP_PART_ROUTE = "sitemap-part"
FAVICON = "themes:default/static/favicon.ico"
FAVICON_MAX_AGE = 7 * 24 * 3600
XML = "application/xml"

# Staff screens and personal pages: nothing for a search engine, and the login form invites
# password guessing. Each name `n` becomes `Disallow: /*@n`: `*` matches any address (Baidu,
# Sogou, 360 and Google read it) and a rule is a prefix, so it stands for the page `@@n` and the
# API's endpoint `@n` of every item, and `@login` for `@@login-code` and `@login-renew` too.
# `search`: the search pages, endless combinations of query and filters.
DISALLOWED_VIEWS = ("login", "logout", "second-factor", "account", "my-items", "review-queue", "users", "groups",
                    "audit", "edit", "add", "contents", "sharing", "history", "rename", "restore", "transition",
                    "image-list", "search", "workflow", "types", "vocabularies", "navigation", "breadcrumbs",
                    "actions", "components")
FILTERED_LISTINGS = "portal.robots.filtered_listings"


def add_filtered_listing(config: Any, view_name: str) -> None:
    """`config.add_filtered_listing("xxgk")`: a listing whose filters make endless addresses (one
    per combination). robots.txt keeps its unfiltered pages and leaves the filtered ones out;
    every item it lists is in the sitemap anyway."""
    def register() -> None:
        config.registry.setdefault(FILTERED_LISTINGS, []).append(view_name)
    config.action(("portal-filtered-listing", view_name), register)


def robots_lines(base: str, filtered_listings: list[str]) -> list[str]:
    lines = ["User-agent: *"]
    for name in filtered_listings:  # the longest matching rule decides: paging stays allowed
        lines += [f"Allow: /*@@{name}?page=", f"Disallow: /*@@{name}?"]
    lines += [f"Disallow: /*@{view}" for view in DISALLOWED_VIEWS]
    return [*lines, "", f"Sitemap: {base}/sitemap.xml"]


@view_config(context=Portal, name="robots.txt", permission="view")
def robots(context: Portal, request: Any) -> Response:
    lines = robots_lines(request.application_url, request.registry.get(FILTERED_LISTINGS, []))
    return Response("\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")


@view_config(context=Portal, name="favicon.ico")
def favicon(context: Portal, request: Any) -> Response:
    """Browsers ask every site for /favicon.ico, whatever the page's <link rel="icon"> says."""
    path = AssetResolver().resolve(FAVICON).abspath()
    return FileResponse(path, request=request, content_type="image/vnd.microsoft.icon", cache_max_age=FAVICON_MAX_AGE)


@view_config(context=Portal, name="sitemap.xml", permission="view")
def sitemap(context: Portal, request: Any) -> Response:
    """The whole list, or past `sitemaps.LIMIT` addresses the index of its parts."""
    base, session = request.application_url, request.dbsession
    if sitemaps.count(session) <= sitemaps.LIMIT:
        body = sitemaps.urlset(session, base)
    else:
        body = sitemaps.index(session, base)
    return Response(body=body, content_type=XML, charset="utf-8")


@view_config(route_name=SITEMAP_PART_ROUTE, context=Portal, permission="view")
def sitemap_part(context: Portal, request: Any) -> Response:
    part = int(request.matchdict["number"])
    if not 1 <= part <= sitemaps.parts_of(sitemaps.count(request.dbsession)):
        raise HTTPNotFound()
    return Response(body=sitemaps.urlset(request.dbsession, request.application_url, part), content_type=XML,
                    charset="utf-8")


@view_config(context=Portal, name="sitemap", permission="view", renderer=template("sitemap.pt"),
             kept_for_users=True)
def sitemap_page(context: Portal, request: Any) -> dict[str, Any]:
    return sitemaps.structure(request, context)


def includeme(config: Any) -> None:
    config.add_route(SITEMAP_PART_ROUTE, r"/sitemap-{number:\d+}.xml")
    config.add_directive("add_filtered_listing", add_filtered_listing)

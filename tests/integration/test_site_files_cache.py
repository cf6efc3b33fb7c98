"""Feeds, sitemaps and robots.txt are kept by the page cache like pages (portal.pagecache), and a
publication reaches every kept one that shows it on the very next request."""
from __future__ import annotations

from lxml import etree
import webtest

from tests.integration.conftest import path_of, published_news

FEEDS = ["/huangmeizhen/xwdt/@@rss.xml", "/huangmeizhen/xwdt/@@atom.xml", "/huangmeizhen/@@rss.xml",
         "/huangmeizhen/@@atom.xml", "/@@rss.xml", "/@@atom.xml"]


def test_feeds_and_the_sitemap_are_kept_until_a_publication_shows_in_them(staff: webtest.TestApp,
                                                                          visitor: webtest.TestApp) -> None:
    pages = [*FEEDS, "/sitemap.xml", "/@@sitemap", "/robots.txt"]
    for page in pages:
        first = visitor.get(page)
        again = visitor.get(page)
        assert (first.headers["X-Portal-Cache"], again.headers["X-Portal-Cache"]) == ("miss", "hit"), page
        assert again.body == first.body and again.headers["Content-Type"] == first.headers["Content-Type"], page
        assert first.headers["Cache-Control"] == "public, max-age=60", page
    item = published_news(staff, "/huangmeizhen/xwdt/", "镇政府召开春耕生产工作会议")
    url = "http://example.com" + path_of(item)
    for page in FEEDS:
        res = visitor.get(page)
        assert res.headers["X-Portal-Cache"] == "miss" and "镇政府召开春耕生产工作会议" in res.text, page
        etree.fromstring(res.body)  # still a whole feed
    sitemap = visitor.get("/sitemap.xml")
    assert sitemap.headers["X-Portal-Cache"] == "miss" and f"<loc>{url}</loc>" in sitemap.text
    assert visitor.get("/huangmeizhen/xwdt/@@rss.xml").headers["X-Portal-Cache"] == "hit"  # kept again


def test_a_kept_feed_answers_its_validators_with_304(visitor: webtest.TestApp) -> None:
    feed = visitor.get("/huangmeizhen/@@atom.xml")
    res = visitor.get("/huangmeizhen/@@atom.xml", headers={"If-None-Match": feed.headers["ETag"]}, status=304)
    assert res.body == b""

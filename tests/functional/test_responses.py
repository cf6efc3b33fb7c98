"""What every response costs the visitor: no session cookie for the anonymous, gzip for text."""
from __future__ import annotations

import gzip

import pytest
from webob import Request


ANONYMOUS_PAGES = ("/", "/huangmeizhen/", "/@@xxgk", "/@@datasets", "/@@search?q=%E9%BB%84%E6%A2%85", "/catalog.ttl")


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_an_anonymous_get_sets_no_cookie(testapp, town, path):
    response = testapp.get(path)
    assert "Set-Cookie" not in response.headers, response.headers.get("Set-Cookie")


def raw_get(testapp, path: str, **headers: str):
    """The response as it leaves the app (webtest would decode the gzip for us)."""
    request = Request.blank(path, headers=headers, environ=testapp.extra_environ)
    return request.get_response(testapp.app)


def test_text_is_gzipped_for_clients_that_ask(testapp, town):
    plain = raw_get(testapp, "/")
    zipped = raw_get(testapp, "/", **{"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.body) * 3 < len(plain.body)
    page = gzip.decompress(zipped.body).decode()
    assert "黄梅" in page and page.count("<html") == 1 and len(page.encode()) == len(plain.body)


def test_no_gzip_without_the_header_or_for_small_or_stored_files(testapp, town):
    assert "Content-Encoding" not in raw_get(testapp, "/").headers  # curl and wrk send no Accept-Encoding
    assert "Content-Encoding" not in raw_get(testapp, "/", **{"Accept-Encoding": "gzip;q=0"}).headers
    static = raw_get(testapp, "/static/forms.css", **{"Accept-Encoding": "gzip"})
    assert static.status_int == 200 and "Content-Encoding" not in static.headers  # streamed from disk as stored

"""The error pages a visitor meets: 404, 403 and 500 in Chinese with the status they name and what
to do next (首页, 网站地图, a search box); the 500 page says nothing of the failure and is drawn
even when the database is broken. API clients keep their JSON errors (portal.api.errors)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import webtest
from lxml import html

from portal import main
from portal.pagecache.store import Entry
from tests.conftest import api_token, login, test_settings

JSON = {"Accept": "application/json"}
HOST = "http://example.com"


def next_steps(res: webtest.TestResponse) -> None:
    """The page offers the home page, the site map and a search of the site, in Chinese."""
    page = html.fromstring(res.body)
    main_ = page.find(".//main")
    links = {a.text_content().strip(): a.get("href") for a in main_.iter("a")}
    assert links["返回首页"] == f"{HOST}/" and links["网站地图"] == f"{HOST}/@@sitemap"
    form = main_.find(".//form[@role='search']")
    assert form.get("action") == f"{HOST}/@@search" and form.get("method") == "get"
    field = form.find(".//input[@name='q']")
    assert form.find(f".//label[@for='{field.get('id')}']").text_content().strip()  # a labelled box
    assert form.get("aria-label")  # told apart from the header's search landmark


def test_a_missing_page_is_a_404_in_chinese_with_what_to_do_next(testapp: webtest.TestApp) -> None:
    res = testapp.get("/no-such-page/", status=404)
    assert res.content_type == "text/html"
    assert "页面不存在" in res.text and "您访问的页面不存在或已被删除" in res.text
    next_steps(res)


def test_api_clients_keep_the_json_404(testapp: webtest.TestApp) -> None:
    res = testapp.get("/no-such-page/", headers=JSON, status=404)
    assert res.content_type == "application/json"
    assert res.json["type"] == "NotFound" and res.json["context"] == HOST and res.json["message"]


def test_a_refusal_is_a_403_in_chinese_with_what_to_do_next(testapp: webtest.TestApp, users: Any) -> None:
    login(testapp, "editor")
    res = testapp.get("/@@audit", status=403)  # managers only
    assert "无权访问" in res.text and "您没有执行此操作的权限" in res.text
    next_steps(res)


def test_api_clients_keep_the_json_403(testapp: webtest.TestApp, users: Any) -> None:
    res = testapp.get("/@users", headers=api_token(testapp, "editor"), status=403)
    assert res.json["type"] == "Forbidden" and res.json["message"]


def test_an_unexpected_failure_is_a_500_in_chinese_that_tells_nothing(testapp: webtest.TestApp, town: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr("portal.views.pages.latest", broken)
    res = testapp.get(town.path, status=500)
    assert "出错了" in res.text and "请稍后再试" in res.text
    assert "secret detail" not in res.text and "Traceback" not in res.text and "RuntimeError" not in res.text
    assert "<title>出错了 - 黄梅县人民政府</title>" in res.text  # the site's name, as traversal read it
    next_steps(res)


@pytest.fixture
def broken_database(tmp_path: Path) -> Path:
    """A database file that is no database: every connection fails as soon as it is used."""
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not an SQLite database" * 100)
    return path


@pytest.fixture
def broken_app(broken_database: Path, tmp_path: Path) -> Any:
    settings = test_settings(f"sqlite:///{broken_database}", tmp_path / "blobs", tmp_path / "index",
                             **{"search.drain_on_start": "false", "portal.page_cache": "memory"})
    return main({}, **settings)


def test_the_500_page_is_drawn_when_the_database_is_broken(broken_app: Any) -> None:
    client = webtest.TestApp(broken_app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "10.0.0.1"})
    res = client.get("/huangmeizhen/", status=500)
    assert res.content_type == "text/html"
    assert "出错了" in res.text and "not a database" not in res.text and "Traceback" not in res.text
    next_steps(res)
    api = client.get("/huangmeizhen/", headers=JSON, status=500)
    assert api.json["type"] == "InternalServerError" and "database" not in api.text


def test_a_kept_page_whose_versions_cannot_be_read_is_left_to_the_app(broken_app: Any) -> None:
    """The page cache reads its versions before the app runs: a broken database there is not a
    bare server error but the app's 500 page."""
    key = f"{HOST}/\n"
    broken_app.store.put(Entry(key=key, tags=("tree:1", "nav", "site"), versions=(1, 1, 1), etag="x",
                               last_modified=None, stored_at=time.time(), max_age=60, status=200,
                               headers=(("Content-Type", "text/html; charset=UTF-8"),), nonce="",
                               body=b"<p>old page</p>"))
    client = webtest.TestApp(broken_app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "10.0.0.1"})
    res = client.get("/", status=500)
    assert "出错了" in res.text and "old page" not in res.text

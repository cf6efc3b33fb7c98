"""A column's page for visitors: its public children, newest first, a page of 20 at a time, counted
and cut in the database (portal.views.pages.public_children); staff see their drafts too."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import webtest

from portal.views.pages import PAGE_SIZE
from tests.conftest import login
from tests.functional.test_private_items import make


def titles(res: webtest.TestResponse) -> list[str]:
    return re.findall(r"第(\d+)号通知", res.text)


def test_a_visitor_pages_through_the_public_children_newest_first(testapp: webtest.TestApp, request_as: Any,
                                                                  town: Any) -> None:
    manager = request_as("manager")
    column = make(manager, town, "Folder", "published", title="通知公告栏")
    start = dt.datetime(2026, 1, 1)
    for i in range(1, 46):
        node = make(manager, column, "News", "published", title=f"第{i}号通知")
        node.published = start + dt.timedelta(days=i)
    make(manager, column, "News", "private", title="第99号通知")  # never listed for visitors
    expired = make(manager, column, "News", "published", title="第98号通知")
    expired.expires = dt.datetime(2020, 1, 1)
    manager.dbsession.flush()
    first = testapp.get(column.path)
    assert titles(first) == [str(i) for i in range(45, 45 - PAGE_SIZE, -1)]
    last = testapp.get(column.path, {"page": "3"})
    assert titles(last) == [str(i) for i in range(5, 0, -1)]
    assert titles(testapp.get(column.path, {"page": "99"})) == titles(last)  # kept within the pages
    assert titles(testapp.get(column.path, {"page": "x"})) == titles(first)
    login(testapp, "manager")
    assert "99" in titles(testapp.get(column.path))  # staff see the draft, newest first


def test_every_user_sees_in_a_column_page_what_the_policy_lets_them_view(request_as: Any, town: Any) -> None:
    """The SQL pages (visitors; users who view every child) list exactly what asking the security
    policy child by child lists, for each kind of user."""
    from portal.views.pages import item_view, paged, visible

    manager = request_as("manager")
    column = make(manager, town, "Folder", "published", title="政策文件栏")
    for i, state in enumerate(["published", "private", "pending", "published", "private"] * 5):
        node = make(manager, column, "News", state, title=f"第{i}号通知")
        node.published = dt.datetime(2026, 1, 1) + dt.timedelta(days=i) if state == "published" else None
    manager.dbsession.flush()
    from portal.cli import make_request

    for who in (None, "manager", "editor", "other_editor", "reviewer"):
        request = request_as(who) if who else make_request(manager.registry, {
            k: manager.environ[k] for k in ("tm.manager", "app.dbsession")})
        expected = visible(request, column.values())
        expected.sort(key=lambda n: (n.published or n.modified, n.id), reverse=True)
        for page in ("1", "2"):
            request.GET["page"] = page
            listed = item_view(column, request)["items"]
            assert [n.title for n in listed] == [n.title for n in paged(request, expected)["items"]], (who, page)

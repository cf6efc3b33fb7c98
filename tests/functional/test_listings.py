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

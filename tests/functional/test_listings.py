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


def test_deep_pages_read_from_their_first_row_list_what_offset_would(request_as: Any, town: Any) -> None:
    """Past page `NEAR` a page is read from its first row (portal.batching), not by walking every
    row before it: for visitors (published, newest first), for staff (drafts by their last change)
    and in the 信息公开目录, every page holds what cutting the whole ordered list would give."""
    from sqlalchemy import select

    from content_types.disclosure import Disclosure
    from content_types.disclosure_catalogue import catalogue
    from portal.batching import NEAR
    from portal.cli import make_request
    from portal.views.pages import item_view

    manager = request_as("manager")
    column = make(manager, town, "Folder", "published", title="工作动态栏")
    start = dt.datetime(2025, 1, 1)
    for i in range((NEAR + 4) * PAGE_SIZE + 7):
        state = "private" if i % 9 == 4 else "published"
        node = make(manager, column, "News" if i % 10 == 0 else "Disclosure", state, title=f"第{i}号通知")
        # ties on the date on purpose: the id decides between them, as in the SQL order
        node.published = start + dt.timedelta(days=i // 3) if state == "published" else None
        node.modified = start + dt.timedelta(days=i // 3, hours=1)
    manager.dbsession.flush()
    children = list(column.values())
    visitor = make_request(manager.registry, {k: manager.environ[k] for k in ("tm.manager", "app.dbsession")})

    def newest(nodes: Any, key: Any = lambda n: n.published) -> list[int]:
        return [n.id for n in sorted(nodes, key=lambda n: (key(n), n.id), reverse=True)]

    def page_of(ordered: list[int], page: int) -> list[int]:
        return ordered[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]

    cases = [(visitor, newest(n for n in children if n.state == "published")),
             (manager, newest(children, key=lambda n: n.published or n.modified))]
    for request, ordered in cases:
        pages = (len(ordered) + PAGE_SIZE - 1) // PAGE_SIZE
        assert pages > NEAR + 1
        for page in (1, NEAR, NEAR + 1, pages):
            request.GET["page"] = str(page)
            assert [n.id for n in item_view(column, request)["items"]] == page_of(ordered, page), page

    public = newest(d for d in visitor.dbsession.scalars(select(Disclosure).where(Disclosure.path.like(f"{town.path}%")))
                    if all(n.state == "published" for n in d.lineage() if n.parent_id is not None))
    pages = (len(public) + PAGE_SIZE - 1) // PAGE_SIZE
    assert pages > NEAR + 1
    for page in (NEAR + 1, pages):
        visitor.GET["page"] = str(page)
        shown = catalogue(visitor, town)
        assert (shown["total"], shown["page"]) == (len(public), page)
        assert [d.id for d in shown["docs"]] == page_of(public, page)

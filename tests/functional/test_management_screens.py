"""Management screens refuse on GET the people who cannot use them (the login form for an anonymous
visitor, 403 for a page they may view, 404 for an item they may not view), and the history shows
people by their display name."""
from __future__ import annotations

import lxml.html
import pytest

from portal import content
from tests.conftest import login
from tests.functional.test_workflow_pages import new_page, pending_page, transition  # noqa: F401 -- fixture


def has_management_controls(html: str) -> bool:
    doc = lxml.html.fromstring(html)
    return bool(doc.xpath('//input[@type="checkbox" and @name="names"] | //button[@name="delete"]'))


def tab_urls(html: str) -> list[str]:
    return [a.get("href") for a in lxml.html.fromstring(html).xpath("//a[@href]")]


@pytest.fixture
def column(request_as, town, dbsession):
    """A published column of 黄梅镇 with a private page in it."""
    request = request_as("manager")
    folder = content.create(request, town, "Folder", {"title": "工作动态", "column_kind": "动态"})
    content.transition(request, folder, "submit")
    content.transition(request, folder, "publish")
    content.create(request_as("editor"), folder, "Page", {"title": "草稿", "body": "<p>正文</p>"})
    dbsession.flush()
    return folder


def test_unit_editor_uses_the_contents_screen(testapp, users, town, column):
    login(testapp, "editor")
    for node in (town, column):
        res = testapp.get(f"{node.path}@@contents")
        assert has_management_controls(res.text)
    assert f"http://example.com{column.path}@@contents" in tab_urls(testapp.get(column.path).text)


def test_anonymous_visitor_is_sent_to_login_from_contents(testapp, users, town, column):
    testapp.reset()
    for node in (town, column):
        res = testapp.get(f"{node.path}@@contents", status=302)
        assert "/@@login?" in res.location


def test_other_units_editor_is_refused_contents(testapp, users, town, column):
    token = login(testapp, "other-editor")
    for node in (town, column):
        res = testapp.get(f"{node.path}@@contents", status=403)
        assert not has_management_controls(res.text)
    assert not any(u.endswith("@@contents") for u in tab_urls(testapp.get(column.path).text))
    # a delete is refused at once, not after a confirmation page
    names = [c.name for c in column.children]
    testapp.post(f"{column.path}@@contents", {"csrf_token": token, "delete": "1", "names": names}, status=403)
    assert [c.name for c in column.children] == names


def test_contents_of_an_item_they_may_not_view_is_missing(testapp, users, town, request_as, dbsession):
    folder = content.create(request_as("editor"), town, "Folder", {"title": "内部栏目", "column_kind": "动态"})
    dbsession.flush()
    login(testapp, "other-editor")
    testapp.get(f"{folder.path}@@contents", status=404)


@pytest.mark.parametrize("path", ["@@sharing", "@@history", "@@rename", "@@edit", "@@add?type=Page"])
def test_other_management_views_refuse_on_get(testapp, users, column, path):
    login(testapp, "other-editor")
    testapp.get(f"{column.path}{path}", status=403)
    testapp.reset()
    assert "/@@login?" in testapp.get(f"{column.path}{path}", status=302).location


@pytest.mark.parametrize("who,path,status", [
    (None, "/@@review-queue", 302), ("editor", "/@@review-queue", 403), (None, "/@@my-items", 302)])
def test_portal_management_views_refuse_on_get(testapp, users, who, path, status):
    if who:
        login(testapp, who)
    testapp.get(path, status=status)


def test_history_shows_display_names(testapp, dbsession, users, pending_page):
    users["editor"].fullname = "编辑李明"
    users["reviewer"].fullname = ""  # falls back to the login
    dbsession.flush()
    token = login(testapp, "reviewer")
    transition(testapp, token, pending_page, "reject", comment="请补充")
    login(testapp, "editor")
    doc = lxml.html.fromstring(testapp.get(f"{pending_page.path}@@history").text)
    revisions, events = doc.xpath('//table[contains(@class, "listing")]')[-2:]
    revision_by = {r.xpath("./td")[2].text_content().strip() for r in revisions.xpath("./tbody/tr")}
    event_by = [r.xpath("./td")[3].text_content().strip() for r in events.xpath("./tbody/tr")]
    assert revision_by == {"编辑李明"}
    assert event_by == ["reviewer", "编辑李明"]  # newest first: the rejection, then the submission


def test_make_serve_prints_the_address_of_the_ini(tmp_path):
    """`make serve` says where the server listens, as its ini sets it (not a fixed address)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if shutil.which("make") is None:
        pytest.skip("no make")
    root = Path(__file__).resolve().parents[2]
    results = []
    for server in ("listen = 0.0.0.0:7000 [::1]:7000", "host = 10.1.1.1\nport = 8081"):
        ini = tmp_path / "x.ini"
        ini.write_text(f"[server:main]\nuse = egg:waitress#main\n{server}\n")
        dry = subprocess.run(["make", "-s", "-n", "-o", "install", "serve", f"INI={ini}",
                              f"BIN={Path(sys.executable).parent}"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.splitlines()
        echo = [line for line in dry if "pserve" not in line]
        results.append(subprocess.run(echo[0], shell=True, cwd=root, capture_output=True, text=True,
                                      check=True).stdout.strip())
    assert results == ["serving on http://0.0.0.0:7000 http://[::1]:7000 (Ctrl-C stops)",
                       "serving on http://10.1.1.1:8081 (Ctrl-C stops)"]

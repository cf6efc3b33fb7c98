"""Issue 8, part D: what is private stays unconfirmed, and who may change the portal's structure.

- A private item looks exactly like a missing one (404, the same page or JSON) to whoever may not
  view it, anonymous or logged in, on pages and API alike; the contents screen's selections
  (delete confirmation, move, submit) ignore names the user may not view; a redirect never names
  a private item's new address; `superseded_by` does not confirm another unit's private 索引号.
- Editing, renaming and deleting a unit needs `manage`; renaming a published item needs `review`.
- An item is public only while every container above it is: by URL, in SQL listings (the unit
  home, the 信息公开目录) and in search (`allowed`).
- Ownership counts only while the owner holds a writing role there; the sharing screen lists the
  items whose owners lost theirs.
"""
from __future__ import annotations

import re
from urllib.parse import quote
from typing import Any

import pytest
import webtest
from pyramid.authorization import Everyone
from sqlalchemy import select

from portal import content
from portal.models import LocalRole, Node
from portal.sharing import orphaned, set_roles
from portal.visibility import public_now, viewers
from search import WhooshBackend
from search.indexer import apply_outbox
from tests.conftest import api_token, csrf_token, login

JSON = {"Accept": "application/json"}
HOST = "http://example.com"


# --- helpers ------------------------------------------------------------------------------------

def make(request: Any, container: Node, type_name: str = "Page", state: str = "private", **data: Any) -> Node:
    """An item made by the request's user, brought to `state` with no checks (set-up)."""
    data.setdefault("title", "测试")
    if type_name == "Folder":
        data.setdefault("column_kind", "通知公告")
    if type_name == "Disclosure":
        data.setdefault("subject", "综合政务")
        data.setdefault("genre", "通知")
    node = content.create(request, container, type_name, data)
    if state != "private":
        content.set_state(request, node, state, "test")
    request.dbsession.flush()
    return node


NONCE = re.compile(r"nonce(-|=\"?)[A-Za-z0-9_+/=-]+")


def same_answer(a: webtest.TestResponse, b: webtest.TestResponse, a_path: str, b_path: str) -> None:
    """Two answers are the same but for the requested address, which pages echo (the login link,
    the display switches, the 我为政府网站找错 link: plain or URL-encoded), and the per-response
    script nonce."""
    def normal(res: webtest.TestResponse, path: str) -> tuple[list[tuple[str, str]], str]:
        strip = ("Set-Cookie", "Content-Length", "Date")
        headers = sorted((k, NONCE.sub("nonce", v.replace(path, "@PATH@"))) for k, v in res.headerlist
                         if k not in strip)
        text = res.text.replace(path, "@PATH@").replace(quote(path, safe=""), "@PATH@")
        return headers, NONCE.sub("nonce", text)

    assert a.status_int == b.status_int
    assert normal(a, a_path) == normal(b, b_path)


@pytest.fixture
def editor_request(request_as: Any) -> Any:
    return request_as("editor")


@pytest.fixture
def draft(editor_request: Any, town: Any) -> Node:
    """A private page of 黄梅镇 with a title worth hiding."""
    return make(editor_request, town, title="机密草稿标题")


# --- a private item looks missing ---------------------------------------------------------------

@pytest.mark.parametrize("who", [None, "other-editor"])
@pytest.mark.parametrize("view", ["", "@@edit", "@@contents", "@@history", "@@sharing"])
def test_a_private_page_answers_as_a_missing_one(testapp, users, town, draft, who, view):
    """Anonymous or another unit's editor: the same 404 page for the draft as for a missing item
    (it used to be a redirect to the login form, or a 403)."""
    if who:
        login(testapp, who)
    missing = f"{town.path}no-such-item/"
    private = testapp.get(draft.path + view, status=404)
    assert "机密草稿标题" not in private.text
    same_answer(private, testapp.get(missing + view, status=404), draft.path, missing)


@pytest.mark.parametrize("who", [None, "other-editor"])
def test_a_private_item_is_a_json_404_like_a_missing_one(testapp, users, town, draft, who):
    headers = api_token(testapp, who) if who else JSON
    missing = f"{town.path}no-such-item/"
    for method, extra in (("get", {}), ("patch_json", {"params": {"title": "x"}}), ("delete", {}),
                          ("post_json", {"params": {"@type": "Page", "title": "x"}})):
        private = getattr(testapp, method)(draft.path, headers=headers, status=404, **extra)
        absent = getattr(testapp, method)(missing, headers=headers, status=404, **extra)
        assert private.json == absent.json == {"type": "NotFound", "message": private.json["message"],
                                               "context": f"http://example.com{town.path}".rstrip("/")}
    for endpoint in ("@workflow/submit", "@sharing"):
        private = testapp.post_json(draft.path + endpoint, {}, headers=headers, status=404)
        assert private.json == testapp.post_json(missing + endpoint, {}, headers=headers, status=404).json
    assert testapp.get(draft.path + "@history", headers=headers, status=404).json == \
        testapp.get(missing + "@history", headers=headers, status=404).json


def test_a_form_post_to_a_private_item_answers_as_a_missing_one(testapp, users, town, draft):
    """With or without the CSRF token: the permission is checked first, and it looks missing."""
    missing = f"{town.path}no-such-item/"
    for data in ({"transition": "submit"}, {"transition": "submit", "csrf_token": csrf_token(testapp.get("/@@login"))}):
        same_answer(testapp.post(draft.path + "@@transition", data, status=404),
                    testapp.post(missing + "@@transition", data, status=404), draft.path, missing)


def test_who_may_view_but_not_act_still_gets_403_or_the_login_form(testapp, users, town, editor_request):
    """Only what may not be viewed looks missing: a published item keeps its honest refusals."""
    page = make(editor_request, town, state="published", title="公开页面")
    assert testapp.get(page.path + "@@edit", status=302).location.startswith(f"{HOST}/@@login")
    testapp.get(page.path + "@history", headers=JSON, status=401)
    login(testapp, "other-editor")
    testapp.get(page.path + "@@edit", status=403)
    testapp.patch_json(page.path, {"title": "x"}, headers=api_token(testapp, "other-editor"), status=403)


def test_the_owner_and_staff_still_open_the_draft(testapp, users, draft):
    for who in ("editor", "reviewer", "manager"):
        login(testapp, who)
        assert "机密草稿标题" in testapp.get(draft.path).text


def test_the_old_address_of_a_renamed_private_item_does_not_tell_its_new_one(testapp, users, town, draft):
    login(testapp, "editor")
    token = csrf_token(testapp.get(draft.path + "@@rename"))
    old = draft.path
    testapp.post(old + "@@rename", {"csrf_token": token, "name": "xin-mingzi"}, status=302)
    assert testapp.get(old, status=301).location == f"{HOST}{town.path}xin-mingzi/"  # who may view: redirected
    testapp.reset()
    res = testapp.get(old, status=404)
    assert "xin-mingzi" not in res.text and "Location" not in res.headers
    res = testapp.get(old, headers=JSON, status=404)
    assert "Location" not in res.headers


# --- the contents screen's selections -----------------------------------------------------------

def test_delete_confirmation_names_only_what_one_may_delete(testapp, users, town, draft):
    """The finding: an anonymous session's own CSRF token listed the titles of named drafts."""
    testapp.reset()
    token = csrf_token(testapp.get("/@@login"))
    res = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "delete": "1", "names": [draft.name]},
                       status=403)  # the contents screen is not theirs at all
    assert "机密草稿标题" not in res.text
    missing = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "delete": "1", "names": ["no-such"]},
                           status=403)
    assert missing.text == res.text

    token = login(testapp, "other-editor")
    res = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "delete": "1", "names": [draft.name]},
                       status=403)
    assert "机密草稿标题" not in res.text


def test_delete_confirmation_leaves_out_what_one_may_view_but_not_delete(testapp, users, town, editor_request, draft):
    published = make(editor_request, town, state="published", title="已发布页面")
    token = login(testapp, "editor")
    res = testapp.post(f"{town.path}@@contents",
                       {"csrf_token": token, "delete": "1", "names": [draft.name, published.name]})
    confirm = re.search(r'<div class="confirm.*?</div>', res.text, re.S).group(0)
    assert "机密草稿标题" in confirm and "已发布页面" not in confirm
    assert "1" in res.text  # the flash: one selected item was left out


def test_confirmed_delete_ignores_what_one_may_not_view(testapp, dbsession, users, town, draft, request_as):
    """A name one may not view is treated as missing: no 403 to tell it exists, and nothing goes."""
    token = login(testapp, "other-editor")
    answers = [testapp.post(f"{town.path}@@contents", {"csrf_token": token, "confirm-delete": "1", "names": names},
                            status=403).text  # not their contents screen: refused before any name is read
               for names in ([draft.name], ["no-such"])]
    assert answers[0] == answers[1]
    # the unit's editor uses the screen, but a draft kept out of their sight is not there for them
    as_manager = request_as("manager")
    hidden = make(as_manager, town, title="经理草稿")
    set_roles(as_manager, hidden, {}, inherit=False)
    token = login(testapp, "editor")
    for names in ([hidden.name], ["no-such"]):
        res = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "confirm-delete": "1", "names": names})
        assert res.status_int == 302
    dbsession.flush()
    assert dbsession.get(Node, draft.id) is not None and dbsession.get(Node, hidden.id) is not None


def test_moving_a_hidden_item_is_refused_like_a_missing_one(testapp, users, town, draft):
    token = login(testapp, "other-editor")
    hidden = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "move": f"{draft.name}:up"}, status="*")
    absent = testapp.post(f"{town.path}@@contents", {"csrf_token": token, "move": "no-such:up"}, status="*")
    assert hidden.status_int == absent.status_int and hidden.text == absent.text


def test_moving_steps_over_items_one_may_not_see(testapp, dbsession, users, town, request_as):
    as_manager = request_as("manager")
    folder = make(as_manager, town, "Folder", state="published", title="栏目")
    first = make(as_manager, folder, state="published", title="一")
    hidden = make(as_manager, folder, title="二")
    set_roles(as_manager, hidden, {}, inherit=False)  # the manager's draft, out of the editor's sight
    third = make(as_manager, folder, state="published", title="三")
    token = login(testapp, "editor")  # Editor of 黄梅镇: may reorder the folder
    assert "二" not in testapp.get(f"{folder.path}@@contents").text
    testapp.post(f"{folder.path}@@contents", {"csrf_token": token, "move": f"{third.name}:up"}, status=302)
    dbsession.expire(folder, ["children"])
    assert [c.name for c in folder.children if c is not hidden] == [third.name, first.name]


# --- 索引号 of other units ---------------------------------------------------------------------

def test_superseded_by_does_not_confirm_another_units_private_index_number(
        testapp, users, town, other_town, editor_request, request_as):
    private = make(editor_request, town, "Disclosure", title="未公开文件")
    public = make(editor_request, town, "Disclosure", state="published", title="已公开文件")
    headers = api_token(testapp, "other-editor")

    def refusal(value: str) -> Any:
        res = testapp.post_json(other_town.path, {"@type": "Disclosure", "title": "新文件", "subject": "综合政务",
                                                  "genre": "通知", "superseded_by": value},
                                headers=headers, status="*")
        return res.status_int, res.json["error"]["errors"] if res.status_int == 400 else None

    status, errors = refusal(private.index_number)
    assert status == 400
    assert errors[0]["message"].replace(private.index_number, "X") == \
        refusal("421127-999/2000-99999")[1][0]["message"].replace("421127-999/2000-99999", "X")
    assert refusal(public.index_number)[0] == 201  # a published one may be named
    # in the owner's own unit the private one may be named
    res = testapp.post_json(town.path, {"@type": "Disclosure", "title": "新文件", "subject": "综合政务", "genre": "通知",
                                        "superseded_by": private.index_number},
                            headers=api_token(testapp, "editor"), status=201)
    assert res.json["superseded_by"] == private.index_number


# --- units and renames --------------------------------------------------------------------------

def test_an_editor_cannot_edit_or_rename_their_unit(testapp, dbsession, users, town):
    """Its names and org_code go into every future 索引号: editing a unit needs `manage`."""
    token = login(testapp, "editor")
    testapp.get(f"{town.path}@@edit", status=403)
    testapp.post(f"{town.path}@@rename", {"csrf_token": token, "name": "jia"}, status=403)
    headers = api_token(testapp, "editor")
    testapp.patch_json(town.path, {"org_code": "421127-999", "title": "假"}, headers=headers, status=403)
    testapp.post_json(town.path, {"@type": "Page", "title": "栏目页"}, headers=headers, status=201)  # still adds
    dbsession.flush()
    dbsession.expire(town)
    assert town.org_code == "421127-001" and town.name != "jia"
    # a reviewer may not take a unit offline either
    testapp.post_json(town.path + "@workflow/retract", {}, headers=api_token(testapp, "reviewer"), status=403)


def test_a_manager_edits_and_renames_a_unit(testapp, dbsession, users, town):
    headers = api_token(testapp, "manager")
    testapp.patch_json(town.path, {"contact": "0713-0000000"}, headers=headers, status=204)
    token = login(testapp, "manager")
    testapp.post(f"{town.path}@@rename", {"csrf_token": token, "name": "hmz"}, status=302)


def test_the_portal_is_edited_by_managers_only(testapp, users):
    login(testapp, "editor")
    testapp.get("/@@edit", status=403)
    testapp.patch_json("/", {"sponsor": "假"}, headers=api_token(testapp, "editor"), status=403)


def test_renaming_a_published_item_needs_review(testapp, dbsession, users, town, editor_request):
    page = make(editor_request, town, state="published", title="公开页面")
    draft = make(editor_request, town, title="草稿页面")
    token = login(testapp, "editor")
    testapp.post(f"{page.path}@@rename", {"csrf_token": token, "name": "new-name"}, status=403)
    assert 'href="%s%s@@rename"' % (HOST, page.path) not in testapp.get(f"{town.path}@@contents").text
    testapp.post(f"{draft.path}@@rename", {"csrf_token": token, "name": "draft-new"}, status=302)  # private: edit
    token = login(testapp, "reviewer")
    testapp.post(f"{page.path}@@rename", {"csrf_token": token, "name": "new-name"}, status=302)
    dbsession.flush()
    assert page.name == "new-name"


# --- public only while every container above is -------------------------------------------------

@pytest.fixture
def retracted(request_as: Any, town: Any) -> tuple[Node, Node]:
    """A published folder with a published news item in it, then the folder retracted."""
    as_manager = request_as("manager")
    folder = make(as_manager, town, "Folder", state="published", title="撤回的栏目")
    news = make(as_manager, folder, "News", state="published", title="栏目里的新闻", body="<p>专网调试</p>")
    content.transition(request_as("reviewer"), folder, "retract", "栏目调整")  # its news goes offline: a reason
    as_manager.dbsession.flush()
    return folder, news


def test_a_published_item_in_a_retracted_folder_is_not_public(testapp, users, town, retracted):
    folder, news = retracted
    missing = f"{folder.path}no-such/"
    same_answer(testapp.get(news.path, status=404), testapp.get(missing, status=404), news.path, missing)
    testapp.get(news.path, headers=JSON, status=404)
    login(testapp, "editor")  # the unit's staff still open it
    assert "栏目里的新闻" in testapp.get(news.path).text


def test_a_published_item_in_a_retracted_folder_is_not_listed(testapp, dbsession, town, retracted, request_as):
    folder, news = retracted
    public = set(dbsession.scalars(select(Node.id).where(Node.id.in_([news.id]), *public_now())))
    assert public == set()
    assert "栏目里的新闻" not in testapp.get(town.path).text
    content.set_state(request_as("manager"), folder, "published", "publish")
    dbsession.flush()
    assert set(dbsession.scalars(select(Node.id).where(Node.id == news.id, *public_now()))) == {news.id}
    assert "栏目里的新闻" in testapp.get(town.path).text


def test_a_retracted_unit_hides_its_disclosures_from_the_catalogue(testapp, dbsession, town, request_as):
    as_manager = request_as("manager")
    doc = make(as_manager, town, "Disclosure", state="published", title="镇里的公开文件")
    assert "镇里的公开文件" in testapp.get("/@@xxgk").text
    content.transition(as_manager, town, "retract", "单位撤并")
    dbsession.flush()
    assert "镇里的公开文件" not in testapp.get("/@@xxgk").text
    assert Everyone not in viewers(dbsession, doc)


def test_search_follows_a_retracted_folder(app, testapp, dbsession, users, town, request_as, tmp_path):
    previous = app.registry["search_backend"]
    backend = app.registry["search_backend"] = WhooshBackend(tmp_path / "index")
    try:
        as_manager = request_as("manager")
        folder = make(as_manager, town, "Folder", state="published", title="栏目")
        make(as_manager, folder, "News", state="published", title="专网调试新闻", body="<p>专网调试</p>")

        def anonymous_finds() -> bool:
            while apply_outbox(app.registry, dbsession, backend):
                pass
            res = testapp.get("/@search", {"SearchableText": "专网调试"}, headers=JSON)
            return any(i["title"] == "专网调试新闻" for i in res.json["items"])

        assert anonymous_finds()
        content.transition(request_as("reviewer"), folder, "retract", "栏目调整")
        assert not anonymous_finds()
        content.transition(request_as("editor"), folder, "submit")
        content.transition(request_as("reviewer"), folder, "publish")
        assert anonymous_finds()
    finally:
        app.registry["search_backend"] = previous
        backend.close()


# --- ownership without a role -------------------------------------------------------------------

def revoke_editor(request_as: Any, town: Any) -> None:
    set_roles(request_as("manager"), town, {"user:editor": {r: False for r in ("Reader", "Contributor", "Editor")}})


def test_a_revoked_editor_no_longer_edits_their_own_drafts(testapp, dbsession, users, town, draft, request_as):
    token = login(testapp, "editor")
    testapp.get(f"{draft.path}@@edit", status=200)
    revoke_editor(request_as, town)
    dbsession.flush()
    testapp.get(f"{draft.path}@@edit", status=404)  # nor views it: it looks missing
    testapp.post(f"{draft.path}@@transition", {"csrf_token": token, "transition": "submit"}, status=404)
    testapp.patch_json(draft.path, {"title": "x"}, headers=api_token(testapp, "editor"), status=404)
    assert "user:editor" not in viewers(dbsession, draft)
    login(testapp, "editor")
    assert "机密草稿标题" not in testapp.get("/@@my-items").text


def test_a_reader_only_owner_may_view_but_not_edit(testapp, dbsession, users, town, draft, request_as):
    set_roles(request_as("manager"), town, {"user:editor": {"Contributor": False, "Editor": False}})
    dbsession.flush()
    login(testapp, "editor")
    testapp.get(draft.path, status=200)
    testapp.get(f"{draft.path}@@edit", status=403)


def test_ownership_through_a_group_role_counts(testapp, dbsession, users, town, draft, request_as):
    """A role held through a group, locally or globally, keeps ownership counting."""
    from portal.models import Group
    group = Group(name="hmz-team", title="黄梅镇小组", roles="")
    dbsession.add(group)
    users["editor"].groups.append(group)
    revoke_editor(request_as, town)
    set_roles(request_as("manager"), town, {"group:hmz-team": {"Contributor": True}})
    dbsession.flush()
    assert request_as("editor").has_permission("edit", draft)
    assert "user:editor" in viewers(dbsession, draft)


def test_the_sharing_screen_lists_orphaned_items_with_their_owners(testapp, dbsession, users, town, draft, request_as):
    assert orphaned(request_as("manager"), town) == ([], 0)
    revoke_editor(request_as, town)
    dbsession.flush()
    found, total = orphaned(request_as("manager"), town)
    assert total == 1 and found[0]["path"] == draft.path and found[0]["owner"] == "editor"
    login(testapp, "manager")
    res = testapp.get(f"{town.path}@@sharing")
    section = re.search(r'<section class="orphans".*?</section>', res.text, re.S).group(0)
    assert "机密草稿标题" in section and "(editor)" in section
    body = testapp.get(f"{town.path}@sharing", headers=api_token(testapp, "manager")).json
    assert body["orphaned_total"] == 1 and body["orphaned"][0]["owner"]["id"] == "editor"
    # granting a role again ends it
    set_roles(request_as("manager"), town, {"user:editor": {"Contributor": True}})
    dbsession.flush()
    assert orphaned(request_as("manager"), town) == ([], 0)


def test_local_roles_of_an_owner_in_another_unit_do_not_count(dbsession, users, other_town, request_as):
    """The manager makes a page in 孔垄镇 for 黄梅镇's editor: that editor holds no role there."""
    page = make(request_as("manager"), other_town, title="别处的页面")
    page.owner = "editor"
    dbsession.flush()
    assert not request_as("editor").has_permission("edit", page)
    assert orphaned(request_as("manager"), other_town)[1] == 1
    assert dbsession.scalar(select(LocalRole.id).where(LocalRole.node_id == other_town.id,
                                                       LocalRole.principal == "user:editor")) is None

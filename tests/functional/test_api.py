"""Specification of the JSON API (portal.api), plone.restapi style, through the real app.

The API is the content URLs themselves answering JSON (GET reads, POST adds, PATCH edits, DELETE
deletes) plus `@login`, `@workflow`, `@history` and `@sharing`, under the same security policy as
the pages. Errors are JSON: `{"error": {"type", "message", "errors": [{"field", "message"}]}}`.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import struct
import zlib
from typing import Any

import pytest
import webtest
from PIL import Image
from sqlalchemy import func, select

from portal.models import LocalRole, LoginFailure
from portal.schemas import LOCAL_TZ
from tests.conftest import PASSWORD, api_token, login

JSON = {"Accept": "application/json"}
REPRESENTATION = {"Prefer": "return=representation"}  # a PATCH answers the item (else 204)
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


# --- helpers ------------------------------------------------------------------------------------

def png(width: int = 300, height: int = 200, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A real 1x1 PNG whose header claims 30000x30000 pixels (see tests/unit/test_images.py)."""
    tiny = png(1, 1)
    body = struct.pack(">II", width, height) + tiny[24:29]
    return tiny[:8] + png_chunk(b"IHDR", body) + tiny[33:]


def upload(data: bytes, filename: str, content_type: str = "application/octet-stream") -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "encoding": "base64", "filename": filename,
            "content-type": content_type}


def errors_of(res: webtest.TestResponse) -> dict[str | None, str]:
    return {e["field"]: e["message"] for e in res.json["error"]["errors"]}


def add(testapp: webtest.TestApp, headers: dict[str, str], path: str, type_name: str, **fields: Any) -> dict[str, Any]:
    res = testapp.post_json(path, {"@type": type_name, **fields}, headers=headers, status=201)
    assert res.headers["Location"] == res.json["@id"]
    return res.json


def path_of(url: str) -> str:
    """A URL as a path of this site. An item's `@id` has no trailing slash (plone.restapi's), its
    path here has one, so that `path + "@workflow/submit"` names the endpoint."""
    path, _sep, query = url.removeprefix("http://example.com").partition("?")
    path = path if "/@" in path else path.rstrip("/") + "/"
    return f"{path}?{query}" if query else path


def this_year() -> int:
    return dt.datetime.now(LOCAL_TZ).year


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


@pytest.fixture
def reviewer(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "reviewer")


@pytest.fixture
def manager(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "manager")


@pytest.fixture
def other_editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    """Editor of 孔垄镇, a stranger in 黄梅镇."""
    return api_token(testapp, "other-editor")


@pytest.fixture
def page(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> dict[str, Any]:
    """A private page the editor made in 黄梅镇."""
    return add(testapp, editor, town.path, "Page", title="办事指南", body="<p>第一版</p>")


@pytest.fixture
def published(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
              page: dict[str, Any]) -> dict[str, Any]:
    path = path_of(page["@id"])
    testapp.post_json(path + "@workflow/submit", {}, headers=editor)
    testapp.post_json(path + "@workflow/publish", {}, headers=reviewer)
    return testapp.get(path, headers=JSON).json


# --- logging in ---------------------------------------------------------------------------------

def test_login_gives_a_bearer_token(testapp: webtest.TestApp, users: Any, town: Any) -> None:
    res = testapp.post_json("/@login", {"login": "editor", "password": PASSWORD})
    assert res.json["token"] and res.json["user"]["id"] == "editor"
    headers = {"Authorization": f"Bearer {res.json['token']}", "Accept": "application/json"}
    add(testapp, headers, town.path, "Page", title="用令牌创建")


def test_wrong_password_is_401_and_recorded(testapp: webtest.TestApp, dbsession: Any, users: Any) -> None:
    res = testapp.post_json("/@login", {"login": "editor", "password": "wrong"}, status=401)
    assert res.json["error"]["type"] == "Unauthorized"
    assert dbsession.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.login == "editor")) == 1


def test_login_is_throttled_after_five_failures(testapp: webtest.TestApp, users: Any) -> None:
    for _ in range(5):
        testapp.post_json("/@login", {"login": "editor", "password": "guess"}, status=401)
    res = testapp.post_json("/@login", {"login": "editor", "password": PASSWORD}, status=429)
    assert res.json["error"]["type"] == "TooManyRequests"


def test_login_needs_login_and_password(testapp: webtest.TestApp, users: Any) -> None:
    res = testapp.post_json("/@login", {"login": ["editor"]}, status=400)
    assert set(errors_of(res)) == {"login", "password"}
    testapp.post("/@login", "{not json", content_type="application/json", status=400)


def test_logout_withdraws_the_token(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    testapp.post("/@logout", headers=editor, status=204)
    testapp.post_json(town.path, {"@type": "Page", "title": "x"}, headers=editor, status=401)


def test_unknown_token_is_401(testapp: webtest.TestApp, town: Any) -> None:
    res = testapp.post_json(town.path, {"@type": "Page", "title": "x"},
                            headers={**JSON, "Authorization": "Bearer forged"}, status=401)
    assert res.headers["WWW-Authenticate"].startswith("Bearer")


# --- reading ------------------------------------------------------------------------------------

def test_get_item(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any], town: Any) -> None:
    res = testapp.get(path_of(page["@id"]), headers=editor)
    item = res.json
    assert item["@id"] == f"http://example.com{town.path}banshizhinan"  # plone.restapi's: no trailing slash
    assert (item["@type"], item["id"], item["title"], item["review_state"]) == ("Page", "banshizhinan", "办事指南",
                                                                                 "private")
    assert item["body"] == "<p>第一版</p>" and item["version"] == 1
    assert item["created"].endswith("+00:00") and item["effective"] is None
    assert item["parent"]["@id"] == f"http://example.com{town.path}".rstrip("/") and item["is_folderish"] is False
    assert item["has_pending_change"] is False
    assert [t["id"] for t in item["allowed_transitions"]] == ["submit"]
    assert res.headers["ETag"] == f'"{item["node_id"]}-1"' and len(item["UID"]) == 32


def test_folder_lists_only_the_children_one_may_view(testapp: webtest.TestApp, editor: dict[str, str],
                                                       published: dict[str, Any], town: Any) -> None:
    private = add(testapp, editor, town.path, "Page", title="草稿")
    public_view = testapp.get(town.path, headers=JSON).json
    names = {i["id"] for i in public_view["items"]}
    assert published["id"] in names and private["id"] not in names
    assert "has_pending_change" not in public_view
    staff_view = testapp.get(town.path, headers=editor).json
    assert {published["id"], private["id"]} <= {i["id"] for i in staff_view["items"]}
    assert "Page" in staff_view["addable_types"]


def test_large_folders_come_in_batches(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    folder = add(testapp, editor, town.path, "Folder", title="动态", column_kind="动态")
    for n in range(3):
        add(testapp, editor, path_of(folder["@id"]), "Page", id=f"p{n}", title=f"第{n}篇")
    first = testapp.get(path_of(folder["@id"]) + "?b_size=2", headers=editor).json
    assert [i["id"] for i in first["items"]] == ["p0", "p1"] and first["items_total"] == 3
    rest = testapp.get(path_of(first["batching"]["next"]), headers=editor).json
    assert [i["id"] for i in rest["items"]] == ["p2"] and "next" not in rest["batching"]
    assert "batching" not in testapp.get(path_of(folder["@id"]), headers=editor).json


def test_head_answers_like_get(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any]) -> None:
    res = testapp.head(path_of(page["@id"]), headers=editor)
    assert res.headers["ETag"] == f'"{page["node_id"]}-1"' and not res.body


def test_anonymous_cannot_read_a_private_item(testapp: webtest.TestApp, page: dict[str, Any], town: Any) -> None:
    """It looks missing: a 401 would confirm that something private lives there."""
    res = testapp.get(path_of(page["@id"]), headers=JSON, status=404)
    assert res.json == testapp.get(f"{town.path}no-such-thing/", headers=JSON, status=404).json


def test_browsers_still_get_the_pages(testapp: webtest.TestApp, page: dict[str, Any], town: Any) -> None:
    assert testapp.get(town.path, headers=BROWSER).content_type == "text/html"
    assert testapp.get(town.path).content_type == "text/html"
    assert testapp.get("/", headers=BROWSER).content_type == "text/html"
    assert "Accept" in testapp.get(town.path).headers["Vary"]
    # a private item is the page's 404 for browsers, the JSON 404 for the API
    assert testapp.get(path_of(page["@id"]), headers=BROWSER, status=404).content_type == "text/html"


def test_unknown_url_is_a_json_404(testapp: webtest.TestApp) -> None:
    res = testapp.get("/no-such-thing/", headers=JSON, status=404)
    assert res.json == {"type": "NotFound", "message": "请求的内容不存在", "context": "http://example.com"}


# --- creating -----------------------------------------------------------------------------------

def test_create_folder_then_page_inside_at_requested_names(testapp: webtest.TestApp, editor: dict[str, str],
                                                           town: Any) -> None:
    folder = add(testapp, editor, town.path, "Folder", id="tongzhi", title="通知公告", column_kind="通知公告",
                 update_interval=7)
    assert folder["@id"].endswith(f"{town.path}tongzhi") and folder["update_interval"] == 7
    page = add(testapp, editor, path_of(folder["@id"]), "Page", id="guide", title="指南",
               body='<p onclick="x()">正文</p><script>alert(1)</script>')
    assert page["@id"] == folder["@id"] + "/guide"
    assert page["body"] == "<p>正文</p>"  # sanitised like the form
    assert [i["id"] for i in testapp.get(path_of(folder["@id"]), headers=editor).json["items"]] == ["guide"]


def test_create_news_with_a_lead_image(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    news = add(testapp, editor, town.path, "News", title="镇政府召开会议", source="镇政府办",
               effective="2024-05-01T09:00:00+08:00",
               lead_image=upload(png(300, 200), "会议.png", "image/png"))
    image = news["lead_image"]
    assert news["effective"] == "2024-05-01T01:00:00+00:00"
    assert (image["filename"], image["content-type"], image["width"], image["height"]) == ("会议.png", "image/png",
                                                                                            300, 200)
    assert image["download"] == news["@id"] + "/@@download/lead_image"
    assert image["scales"]["thumb"] == {"download": news["@id"] + "/@@images/lead_image/thumb",
                                        "width": 128, "height": 85}
    assert image["scales"]["large"]["width"] == 300  # never enlarged
    assert testapp.get(path_of(image["download"]), headers=editor).content_type == "image/png"
    thumb = testapp.get(path_of(image["scales"]["thumb"]["download"]), headers=editor)
    assert Image.open(io.BytesIO(thumb.body)).size == (128, 85)


def test_create_disclosures_with_index_numbers_and_attachments(testapp: webtest.TestApp, editor: dict[str, str],
                                                               town: Any) -> None:
    first = add(testapp, editor, town.path, "Disclosure", title="关于2024年春耕工作的通知", subject="综合政务",
                genre="通知", doc_number="梅镇发〔2024〕1号", written_date="2024-03-01",
                attachments=[upload(b"%PDF-1.4 plan", "春耕方案.pdf", "application/pdf"),
                             upload(b"a,b\n1,2\n", "名单.csv", "text/csv")])
    second = add(testapp, editor, town.path, "Disclosure", title="第二份文件", subject="综合政务", genre="通告")
    assert first["index_number"] == "421127-001/2024-00001"  # the year it was written (成文日期)
    assert second["index_number"] == f"421127-001/{this_year()}-00001"  # none: this year
    assert first["publisher"] == "黄梅县黄梅镇人民政府" and first["written_date"] == "2024-03-01"
    files = first["attachments"]
    assert [(f["filename"], f["size"]) for f in files] == [("春耕方案.pdf", 13), ("名单.csv", 8)]
    assert files[1]["download"] == first["@id"] + "/@@download/attachments/1"
    assert testapp.get(path_of(files[0]["download"]), headers=editor).body == b"%PDF-1.4 plan"


def test_create_file_named_after_its_upload(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    item = add(testapp, editor, town.path, "File", file=upload(b"hello", "办事流程.txt", "text/plain"))
    assert item["title"] == "办事流程.txt" and item["file"]["content-type"] == "text/plain"
    assert testapp.get(path_of(item["file"]["download"]), headers=editor).body == b"hello"


def test_an_uploaded_svg_is_never_stored(testapp: webtest.TestApp, editor: dict[str, str],
                                         town: Any) -> None:
    """The type is decided from the content and must be on the allowlist: an SVG is refused on its
    field whatever the client says (tests/functional/test_files.py has every hostile case)."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    res = testapp.post_json(town.path, {"@type": "File", "title": "图标",
                                        "file": upload(svg, "evil", "Image/SVG+xml; charset=utf-8")},
                            headers=editor, status=400)
    assert "file" in errors_of(res)


def test_requested_name_must_be_free_and_valid(testapp: webtest.TestApp, editor: dict[str, str],
                                               page: dict[str, Any], town: Any) -> None:
    taken = testapp.post_json(town.path, {"@type": "Page", "id": page["id"], "title": "x"}, headers=editor, status=400)
    assert "id" in errors_of(taken)
    for name in ("Not Valid!", "news\n", "-news"):
        bad = testapp.post_json(town.path, {"@type": "Page", "id": name, "title": "x"}, headers=editor, status=400)
        assert "id" in errors_of(bad)


def test_a_disclosure_needs_a_unit(testapp: webtest.TestApp, manager: dict[str, str]) -> None:
    """The 索引号 is the unit's code: a disclosure at the portal root is refused, not half-made."""
    res = testapp.post_json("/", {"@type": "Disclosure", "title": "x", "subject": "综合政务", "genre": "通知"},
                            headers=manager, status=400)
    assert res.json["error"]["type"] == "BadRequest"


@pytest.mark.parametrize("body", [{"title": "没有类型"}, {"@type": "Nope", "title": "x"},
                                  {"@type": "Unit", "title": "x"}, {"@type": ["Page"], "title": "x"}])
def test_missing_unknown_or_unaddable_type_is_400(testapp: webtest.TestApp, editor: dict[str, str], town: Any,
                                                 body: dict[str, Any]) -> None:
    res = testapp.post_json(town.path, body, headers=editor, status=400)
    assert res.json["error"]["type"] == "BadRequest" and "@type" in errors_of(res)


# --- editing ------------------------------------------------------------------------------------

def test_patch_changes_only_what_is_sent(testapp: webtest.TestApp, editor: dict[str, str], town: Any) -> None:
    news = add(testapp, editor, town.path, "News", title="旧标题", body="<p>正文</p>",
               lead_image=upload(png(), "a.png", "image/png"))
    res = testapp.patch_json(path_of(news["@id"]), {"description": "新摘要"}, headers={**editor, **REPRESENTATION},
                             status=200)
    assert res.json["description"] == "新摘要" and res.json["title"] == "旧标题" and res.json["body"] == "<p>正文</p>"
    assert res.json["lead_image"]["filename"] == "a.png"  # an omitted file is kept
    assert res.json["version"] == news["version"] + 1
    assert res.headers["ETag"] == f'"{news["node_id"]}-{news["version"] + 1}"'


def test_patch_with_if_match(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    etag = testapp.get(path, headers=editor).headers["ETag"]
    testapp.patch_json(path, {"title": "第二版"}, headers={**editor, "If-Match": etag}, status=204)
    stale = testapp.patch_json(path, {"title": "第三版"}, headers={**editor, "If-Match": etag}, status=412)
    assert stale.json["error"]["type"] == "PreconditionFailed"
    conflict = testapp.patch_json(path, {"title": "第三版", "version": 1}, headers=editor, status=409)
    assert conflict.json["error"]["type"] == "Conflict"
    assert testapp.get(path, headers=editor).json["title"] == "第二版"


def test_an_item_sent_back_as_read_keeps_its_files(testapp: webtest.TestApp, editor: dict[str, str],
                                                  town: Any) -> None:
    doc = add(testapp, editor, town.path, "Disclosure", title="文件", subject="综合政务", genre="通知",
              attachments=[upload(b"one", "一.txt"), upload(b"two", "二.txt")])
    read = testapp.get(path_of(doc["@id"]), headers=editor).json
    read["title"] = "文件（修订）"
    read["attachments"] = [read["attachments"][1], upload(b"three", "三.txt")]
    res = testapp.patch_json(path_of(doc["@id"]), read, headers={**editor, **REPRESENTATION}, status=200)
    assert [a["filename"] for a in res.json["attachments"]] == ["二.txt", "三.txt"]
    assert testapp.get(path_of(res.json["attachments"][0]["download"]), headers=editor).body == b"two"

    news = add(testapp, editor, town.path, "News", title="新闻", lead_image=upload(png(), "a.png", "image/png"))
    read = testapp.get(path_of(news["@id"]), headers=editor).json
    res = testapp.patch_json(path_of(news["@id"]), {**read, "source": "县融媒体中心"},
                             headers={**editor, **REPRESENTATION}, status=200)
    assert res.json["lead_image"] == read["lead_image"] and res.json["source"] == "县融媒体中心"


def test_patch_checks_dates_against_the_whole_item(testapp: webtest.TestApp, editor: dict[str, str],
                                                   page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    testapp.patch_json(path, {"effective": "2030-01-01T00:00:00+08:00"}, headers=editor, status=204)
    res = testapp.patch_json(path, {"expires": "2029-01-01T00:00:00+08:00"}, headers=editor, status=400)
    assert "expires" in errors_of(res)


# --- deleting -----------------------------------------------------------------------------------

def test_delete(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    testapp.delete(path, headers={**editor, "If-Match": '"0-1"'}, status=412)
    testapp.delete(path, headers=editor, status=204)
    testapp.get(path, headers=editor, status=404)


# --- workflow -----------------------------------------------------------------------------------

def test_submit_publish_retract(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
                                page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    res = testapp.post_json(path + "@workflow/submit", {"comment": "请审核"}, headers=editor)
    assert {k: res.json[k] for k in ("action", "review_state", "actor", "comments")} == {
        "action": "submit", "review_state": "pending", "actor": "editor", "comments": "请审核"}
    assert res.json["time"].endswith("+00:00")
    testapp.post_json(path + "@workflow/publish", {}, headers=editor, status=403)
    assert testapp.post_json(path + "@workflow/publish", {}, headers=reviewer).json["review_state"] == "published"
    assert testapp.get(path, headers=JSON).json["published"] is not None
    testapp.post(path + "@workflow/retract", headers=reviewer)  # no body at all
    testapp.get(path, headers=JSON, status=404)


def test_reject_needs_a_comment(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
                                page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    testapp.post_json(path + "@workflow/submit", {}, headers=editor)
    res = testapp.post_json(path + "@workflow/reject", {}, headers=reviewer, status=400)
    assert "comment" in errors_of(res)
    assert testapp.get(path, headers=editor).json["review_state"] == "pending"
    res = testapp.post_json(path + "@workflow/reject", {"comment": "请补充文号"}, headers=reviewer)
    assert (res.json["review_state"], res.json["comments"]) == ("private", "请补充文号")


def test_unavailable_transitions(testapp: webtest.TestApp, editor: dict[str, str], page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    for name in ("publish", "fly"):
        res = testapp.post_json(path + f"@workflow/{name}", {}, headers=editor, status=400)
        assert "transition" in errors_of(res)
    testapp.post_json(path + "@workflow/submit", {"comment": 42}, headers=editor, status=400)
    listed = testapp.get(path + "@workflow", headers=editor).json
    assert [t["@id"] for t in listed["transitions"]] == [page["@id"] + "/@workflow/submit"]


def test_the_root_is_not_in_the_workflow(testapp: webtest.TestApp, manager: dict[str, str]) -> None:
    testapp.post_json("/@workflow/retract", {}, headers=manager, status=400)
    assert testapp.get("/", headers=JSON).json["review_state"] == "published"


def test_published_item_edited_by_its_editor_waits_for_review(testapp: webtest.TestApp, editor: dict[str, str],
                                                             reviewer: dict[str, str],
                                                             published: dict[str, Any]) -> None:
    path = path_of(published["@id"])
    res = testapp.patch_json(path, {"title": "办事指南（新）"}, headers=editor, status=202)
    assert res.json["has_pending_change"] is True and res.json["pending_change"]["title"] == "办事指南（新）"
    assert res.json["title"] == "办事指南" and res.json["review_state"] == "published"
    public = testapp.get(path, headers=JSON).json
    assert public["title"] == "办事指南" and "pending_change" not in public
    assert "publish" in [t["id"] for t in testapp.get(path, headers=reviewer).json["allowed_transitions"]]
    testapp.post_json(path + "@workflow/publish", {}, headers=reviewer)
    public = testapp.get(path, headers=JSON).json
    assert public["title"] == "办事指南（新）"
    assert testapp.get(path, headers=editor).json["has_pending_change"] is False


def test_manager_edits_a_published_item_directly(testapp: webtest.TestApp, manager: dict[str, str],
                                                 reviewer: dict[str, str], published: dict[str, Any]) -> None:
    """Whoever may review needs no review; reviewers themselves may not edit (the workflow's rule)."""
    path = path_of(published["@id"])
    testapp.patch_json(path, {"title": "管理员改的"}, headers=manager, status=204)
    assert testapp.get(path, headers=JSON).json["title"] == "管理员改的"
    testapp.patch_json(path, {"title": "审核员改的"}, headers=reviewer, status=403)


# --- who may do what ----------------------------------------------------------------------------

def test_editor_of_another_unit_is_refused(testapp: webtest.TestApp, other_editor: dict[str, str],
                                           page: dict[str, Any], published: dict[str, Any], town: Any) -> None:
    res = testapp.post_json(town.path, {"@type": "Page", "title": "越权"}, headers=other_editor, status=403)
    assert res.json["type"] == "Forbidden" and res.json["context"] == f"http://example.com{town.path}".rstrip("/")
    testapp.patch_json(path_of(published["@id"]), {"title": "越权"}, headers=other_editor, status=403)
    testapp.delete(path_of(published["@id"]), headers=other_editor, status=403)
    testapp.post_json(path_of(published["@id"]) + "@workflow/retract", {}, headers=other_editor, status=403)


def test_anonymous_changes_are_401(testapp: webtest.TestApp, published: dict[str, Any], town: Any) -> None:
    path = path_of(published["@id"])
    testapp.post_json(town.path, {"@type": "Page", "title": "匿名"}, headers=JSON, status=401)
    testapp.patch_json(path, {"title": "匿名"}, headers=JSON, status=401)
    testapp.delete(path, headers=JSON, status=401)
    testapp.post_json(path + "@workflow/retract", {}, status=401)


def test_a_browser_session_needs_json_or_the_csrf_token(testapp: webtest.TestApp, page: dict[str, Any]) -> None:
    """The session cookie rides along with forged cross-site forms; a JSON body cannot be forged."""
    login(testapp, "editor")
    res = testapp.delete(path_of(page["@id"]), headers=JSON, status=400)
    assert res.json["error"]["type"] == "BadRequest"
    testapp.patch_json(path_of(page["@id"]), {"title": "会话里改的"}, headers=JSON, status=204)


# --- bad input is a 400 with field errors, never a 500 ------------------------------------------

@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000])
def test_bodies_that_are_not_json_objects(testapp: webtest.TestApp, editor: dict[str, str], town: Any,
                                          body: bytes) -> None:
    res = testapp.post(town.path, body, headers=editor, content_type="application/json", status=400)
    assert res.json["error"]["type"] == "BadRequest"


@pytest.mark.parametrize(("type_name", "fields", "field"), [
    ("Page", {"title": ["列表"]}, "title"),
    ("Page", {"title": 42}, "title"),
    ("Page", {"title": "x", "description": {"a": 1}}, "description"),
    ("Page", {"title": "x", "effective": 20240101}, "effective"),
    ("Folder", {"title": "x", "column_kind": "动态", "update_interval": "7"}, "update_interval"),
    ("Folder", {"title": "x", "column_kind": "动态", "update_interval": True}, "update_interval"),
    ("News", {"title": "x", "lead_image": "not-a-file"}, "lead_image"),
    ("News", {"title": "x", "lead_image": {"fp": "x", "filename": "a.png"}}, "lead_image"),
    ("File", {"file": {"data": "aGk=", "filename": 7}}, "file"),
    ("Disclosure", {"title": "x", "subject": "综合政务", "genre": "通知", "attachments": {"data": "aGk="}},
     "attachments"),
    ("Disclosure", {"title": "x", "subject": "综合政务", "genre": "通知", "attachments": ["aGk="]}, "attachments"),
    ("Disclosure", {"title": "x", "subject": "综合政务", "genre": "通知", "written_date": ["2024"]},
     "written_date"),
])
def test_wrong_json_types(testapp: webtest.TestApp, editor: dict[str, str], town: Any, type_name: str,
                          fields: dict[str, Any], field: str) -> None:
    res = testapp.post_json(town.path, {"@type": type_name, **fields}, headers=editor, status=400)
    assert field in errors_of(res)


@pytest.mark.parametrize(("fields", "field"), [
    ({"title": ""}, "title"),
    ({"title": "x", "column_kind": "不存在"}, "column_kind"),
    ({"title": "x", "column_kind": "动态", "update_interval": 0}, "update_interval"),
])
def test_invalid_values(testapp: webtest.TestApp, editor: dict[str, str], town: Any, fields: dict[str, Any],
                        field: str) -> None:
    res = testapp.post_json(town.path, {"@type": "Folder", "column_kind": "动态", **fields}, headers=editor,
                            status=400)
    assert field in errors_of(res)


@pytest.mark.parametrize("image", [
    upload(b"just text, not a picture", "fake.png", "image/png"),
    upload(bomb_png(), "bomb.png", "image/png"),
    {"data": "***not base64***", "encoding": "base64", "filename": "x.png"},
])
def test_bad_images_are_refused(testapp: webtest.TestApp, editor: dict[str, str], town: Any,
                                image: dict[str, str]) -> None:
    res = testapp.post_json(town.path, {"@type": "News", "title": "配图新闻", "lead_image": image}, headers=editor,
                            status=400)
    assert "lead_image" in errors_of(res)
    assert "peituxinwen" not in testapp.get(town.path, headers=editor).json["items"]


def test_a_refused_patch_changes_nothing(testapp: webtest.TestApp, editor: dict[str, str],
                                         page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    testapp.patch_json(path, {"title": "新", "effective": "not a date"}, headers=editor, status=400)
    item = testapp.get(path, headers=editor).json
    assert (item["title"], item["version"]) == ("办事指南", 1)


# --- history and sharing ------------------------------------------------------------------------

def test_history(testapp: webtest.TestApp, editor: dict[str, str], reviewer: dict[str, str],
                 other_editor: dict[str, str], page: dict[str, Any]) -> None:
    path = path_of(page["@id"])
    testapp.patch_json(path, {"title": "第二版"}, headers=editor)
    testapp.post_json(path + "@workflow/submit", {"comment": "请审核"}, headers=editor)
    testapp.post_json(path + "@workflow/publish", {}, headers=reviewer)
    history = testapp.get(path + "@history", headers=editor).json
    assert [(h["type"], h["action"]) for h in history] == [
        ("workflow", "publish"), ("workflow", "submit"), ("versioning", "edit"), ("versioning", "edit")]
    assert history[1]["comments"] == "请审核" and history[1]["review_state"] == "pending"
    assert history[0]["actor"] == {"@id": "http://example.com/@users/reviewer", "id": "reviewer",
                                   "username": "reviewer", "fullname": "reviewer"}
    assert [h["version"] for h in history[2:]] == [1, 0]  # plone.restapi counts versions from 0
    assert testapp.get(path_of(history[3]["@id"]), headers=editor).json["data"]["title"] == "办事指南"
    testapp.get(path + "@history", headers=JSON, status=401)  # published, but its history is not public
    testapp.get(path + "@history", headers=other_editor, status=403)


def test_sharing_shows_local_and_acquired_roles(testapp: webtest.TestApp, manager: dict[str, str],
                                                editor: dict[str, str], town: Any) -> None:
    folder = add(testapp, editor, town.path, "Folder", title="栏目", column_kind="动态")
    here = testapp.get(town.path + "@sharing", headers=manager).json
    assert [r["id"] for r in here["available_roles"]] == ["Reader", "Contributor", "Editor", "Reviewer"]
    entry = next(e for e in here["entries"] if e["id"] == "user:editor")
    assert entry["type"] == "user" and entry["roles"] == {"Reader": True, "Contributor": True, "Editor": True,
                                                          "Reviewer": False}
    below = testapp.get(path_of(folder["@id"]) + "@sharing", headers=manager).json
    assert below["inherit"] is True
    assert next(e for e in below["entries"] if e["id"] == "user:editor")["roles"]["Editor"] == "acquired"
    found = testapp.get(town.path + "@sharing?search=other", headers=manager).json
    assert "user:other-editor" in [e["id"] for e in found["entries"]]
    testapp.get(town.path + "@sharing", headers=editor, status=403)
    testapp.get(town.path + "@sharing", headers=JSON, status=401)


def test_sharing_grants_editor_on_a_folder(testapp: webtest.TestApp, dbsession: Any, manager: dict[str, str],
                                           editor: dict[str, str], other_editor: dict[str, str], town: Any) -> None:
    folder = add(testapp, editor, town.path, "Folder", title="联合栏目", column_kind="动态")
    page = add(testapp, editor, path_of(folder["@id"]), "Page", title="共同编辑")
    # a private page of another unit: out of their sight, it looks missing
    testapp.patch_json(path_of(page["@id"]), {"title": "改"}, headers=other_editor, status=404)
    testapp.post_json(path_of(folder["@id"]) + "@sharing",
                      {"entries": [{"id": "other-editor", "type": "user", "roles": {"Reader": True, "Editor": True}}]},
                      headers=manager, status=204)
    entries = testapp.get(path_of(folder["@id"]) + "@sharing", headers=manager).json["entries"]
    assert next(e for e in entries if e["id"] == "user:other-editor")["roles"]["Editor"] is True
    testapp.patch_json(path_of(page["@id"]), {"title": "孔垄镇编辑改的"}, headers=other_editor, status=204)
    # and taken away again
    testapp.post_json(path_of(folder["@id"]) + "@sharing",
                      {"entries": [{"id": "user:other-editor", "roles": {"Reader": False, "Editor": False}}]},
                      headers=manager)
    testapp.patch_json(path_of(page["@id"]), {"title": "再改"}, headers=other_editor, status=404)


def test_sharing_can_stop_inheriting(testapp: webtest.TestApp, manager: dict[str, str], editor: dict[str, str],
                                     town: Any) -> None:
    folder = add(testapp, manager, town.path, "Folder", title="内部栏目", column_kind="其他")
    testapp.get(path_of(folder["@id"]), headers=editor, status=200)
    testapp.post_json(path_of(folder["@id"]) + "@sharing", {"inherit": False}, headers=manager, status=204)
    assert testapp.get(path_of(folder["@id"]) + "@sharing", headers=manager).json["inherit"] is False
    testapp.get(path_of(folder["@id"]), headers=editor, status=404)  # out of their sight: missing


@pytest.mark.parametrize("body", [
    {"entries": [{"id": "nobody", "type": "user", "roles": {"Editor": True}}]},
    {"entries": [{"id": "user:editor", "roles": {"Owner": True}}]},
    {"entries": [{"id": "user:editor", "roles": {"Editor": "yes"}}]},
    {"entries": {"id": "user:editor"}},
    {"inherit": "no"},
])
def test_bad_sharing_changes_are_400_and_write_nothing(testapp: webtest.TestApp, dbsession: Any,
                                                       manager: dict[str, str], town: Any,
                                                       body: dict[str, Any]) -> None:
    before = dbsession.scalar(select(func.count(LocalRole.id)))
    res = testapp.post_json(town.path + "@sharing", {"entries": [
        {"id": "user:other-editor", "roles": {"Reader": True}}, *body.get("entries", [])]}
        if isinstance(body.get("entries"), list) else body, headers=manager, status=400)
    assert res.json["error"]["errors"]
    assert dbsession.scalar(select(func.count(LocalRole.id))) == before

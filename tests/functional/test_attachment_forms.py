"""Attachments in the add and edit forms (portal.uploads.FileListWidget): several files in one
submission, each with a title and a place in the order, removal, files kept when another field is
refused (the upload stash), the size limit stated and enforced; and the same titles in the API."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import lxml.html
import webtest
from sqlalchemy import select

from content_types.disclosure import Disclosure
from portal.uploads import UploadStash
from tests.conftest import api_token, login, unit
from tests.functional.test_api import upload
from tests.functional.test_editing import add_form, fill, node_count

TOWN = "黄梅镇"
REQUIRED = {"subject": "综合政务", "genre": "通知"}


def post(testapp: webtest.TestApp, form: webtest.forms.Form, values: dict[str, Any],
         files: list[tuple[str, bytes]] = (), titles: list[str] = (), status: int | str = 302) -> Any:
    """Submit `form` as a browser does when several files are chosen in its one file input (and
    forms.js added a title field for each)."""
    fill(form, values)
    fields: list[tuple[str, Any]] = []
    for name, value in form.submit_fields("save"):
        if name == "upload":
            fields += [("upload", webtest.Upload(filename, data)) for filename, data in files]
            continue
        fields.append((name, value))
        if (name, value) == ("__start__", "titles:sequence"):
            fields += [("title", t) for t in titles]
    return testapp.post(form.action, params=fields, content_type="multipart/form-data", status=status)


def doc_titled(dbsession: Any, title: str) -> Disclosure:
    dbsession.expire_all()
    return dbsession.scalar(select(Disclosure).where(Disclosure.title == title))


def rows(res: Any) -> list[tuple[str, str]]:
    """(key, title) of every file row of the attachments field."""
    doc = lxml.html.fromstring(res.text)
    return [(li.xpath('.//input[@name="key"]/@value')[0], li.xpath('.//input[@name="title"]/@value')[0])
            for li in doc.xpath('//ol[@class="file-rows"]/li[.//input[@name="key"]]')]


def test_two_files_in_one_input_become_two_attachments_titled_by_their_names(testapp, dbsession, users):
    login(testapp, "editor")
    form = add_form(testapp, unit(dbsession, TOWN).path, "Disclosure")
    assert form.fields["upload"][0].attrs.get("multiple") == "multiple"
    post(testapp, form, {"title": "两个附件", **REQUIRED},
         files=[("春耕方案.pdf", b"%PDF-1.4 plan"), ("名单.txt", "张三".encode())])
    doc = doc_titled(dbsession, "两个附件")
    assert [(a["filename"], a["title"]) for a in doc.attachments] == [("春耕方案.pdf", "春耕方案"), ("名单.txt", "名单")]


def test_titles_typed_for_new_files_are_kept(testapp, dbsession, users):
    login(testapp, "editor")
    form = add_form(testapp, unit(dbsession, TOWN).path, "Disclosure")
    post(testapp, form, {"title": "带标题的附件", **REQUIRED}, files=[("a.pdf", b"%PDF-1.4 a"), ("b.pdf", b"%PDF-1.4 b")],
         titles=["  实施方案  ", ""])
    doc = doc_titled(dbsession, "带标题的附件")
    assert [a["title"] for a in doc.attachments] == ["实施方案", "b"]  # blank: the file's name
    page = testapp.get(f"{doc.path}")
    assert "实施方案" in page.text and "a.pdf" in page.text


def test_a_refused_form_keeps_its_files_until_it_is_sent_again(testapp, dbsession, users, blobs_dir):
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    before = node_count(dbsession)
    form = add_form(testapp, town.path, "Disclosure")
    res = post(testapp, form, {"title": "", **REQUIRED},
               files=[("一.pdf", b"%PDF-1.4 one-kept"), ("二.pdf", b"%PDF-1.4 two-kept")], status=200)
    doc = lxml.html.fromstring(res.text)
    summary = doc.xpath('//div[contains(@class, "error-summary")]')
    assert summary and summary[0].get("role") == "alert"
    links = summary[0].xpath(".//a")
    assert len(links) == 1 and links[0].text_content().startswith("标题")
    assert doc.xpath(f'//*[@id="{links[0].get("href")[1:]}"]//input[@name="title"]')  # it leads to the field
    assert node_count(dbsession) == before  # (the browser test checks that no blob stays either)
    kept = rows(res)
    assert [title for _key, title in kept] == ["一", "二"] and all(key.startswith("s:") for key, _ in kept)

    form = res.forms["content-form"]
    form.fields["title"][0].value = "退回后补全"  # the item's title; then the rows' titles
    form.fields["title"][1].value = "第一个文件"
    post(testapp, form, {})
    stored = doc_titled(dbsession, "退回后补全")
    assert [(a["filename"], a["title"]) for a in stored.attachments] == [("一.pdf", "第一个文件"), ("二.pdf", "二")]
    with testapp.app.registry["blobstore"].open(stored.attachments[1]["hash"]) as f:
        assert f.read() == b"%PDF-1.4 two-kept"


def test_a_refused_file_is_not_kept_and_says_why(testapp, dbsession, users, blobs_dir):
    login(testapp, "editor")
    stash = Path(blobs_dir) / "stash"
    stashed_before = set(stash.glob("*")) if stash.exists() else set()
    form = add_form(testapp, unit(dbsession, TOWN).path, "Disclosure")
    big = b"%PDF-1.4 " + b"x" * (2 * 1024 * 1024)
    res = post(testapp, form, {"title": "太大的附件", **REQUIRED}, files=[("大文件.pdf", big), ("小.pdf", b"%PDF-1.4 s")],
               status=200)
    doc = lxml.html.fromstring(res.text)
    refused = doc.xpath('//li[contains(@class, "file-refused")]')
    assert len(refused) == 1 and "大文件.pdf" in refused[0].text_content()
    assert "文件大小超过 2.0 MB 的上限" in refused[0].text_content()
    assert "2.0 MB" in doc.xpath('//p[contains(@class, "file-limit")]')[0].text_content()  # stated up front
    assert "附件" in doc.xpath('//div[contains(@class, "error-summary")]')[0].text_content()
    assert [title for _key, title in rows(res)] == ["小"]  # only the file that passed is kept
    new = (set(stash.glob("*")) - stashed_before)
    assert sorted(p.suffix for p in new) == [".bin", ".json"]
    assert all(p.stat().st_size < 1000 for p in new)  # the large one was never written
    assert not testapp.app.registry["blobstore"].exists(hashlib.sha256(big).hexdigest())
    assert doc_titled(dbsession, "太大的附件") is None


def test_the_edit_form_renames_reorders_and_removes_attachments(testapp, dbsession, users):
    token = api_token(testapp, "editor")
    town = unit(dbsession, TOWN)
    created = testapp.post_json(town.path + "/", {
        "@type": "Disclosure", "title": "编辑附件", **REQUIRED,
        "attachments": [upload(b"one", "一.txt"), upload(b"two", "二.txt"), upload(b"three", "三.txt")]},
        headers=token, status=201).json
    assert all("title" not in a for a in created["attachments"])  # old-style data: no titles
    login(testapp, "editor")
    doc = doc_titled(dbsession, "编辑附件")
    res = testapp.get(f"{doc.path}@@edit")
    assert [title for _key, title in rows(res)] == ["一", "二", "三"]  # a missing title shows the name
    form = res.forms["content-form"]
    orders, titles = form.fields["order"], form.fields["title"][1:]
    removes = form.fields["remove"]
    orders[0].value, orders[2].value = "3", "1"  # 三 first, 一 last
    titles[2].value = "第三个"
    removes[1].checked = True  # 二 goes
    post(testapp, form, {})
    doc = doc_titled(dbsession, "编辑附件")
    assert [(a["filename"], a["title"]) for a in doc.attachments] == [("三.txt", "第三个"), ("一.txt", "一")]


def test_a_key_of_another_item_or_user_attaches_nothing(testapp, dbsession, users, app):
    """The form names files by the hash of a file the item has, or by a stash uid of this user:
    another item's hash or another user's uid gives nothing."""
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    other = UploadStash(app.registry["blobstore"].root, "someone-else")
    import io
    uid = other.keep(io.BytesIO(b"%PDF-1.4 secret"), "secret.pdf")
    assert other.load(uid)["filename"] == "secret.pdf"
    assert UploadStash(app.registry["blobstore"].root, "editor").load(uid) is None
    form = add_form(testapp, town.path, "Disclosure")
    fill(form, {"title": "偷梁换柱", **REQUIRED})
    fields = []
    for name, value in form.submit_fields("save"):
        fields.append((name, value))
        if (name, value) == ("__start__", "items:sequence"):
            for key in (f"s:{uid}", "k:" + "a" * 64):
                fields += [("__start__", "item:mapping"), ("key", key), ("title", "x"), ("order", "1"),
                           ("__end__", "item:mapping")]
    testapp.post(form.action, params=[f for f in fields if f[0] != "upload"], content_type="multipart/form-data",
                 status=302)
    assert doc_titled(dbsession, "偷梁换柱").attachments == []


def test_the_api_reads_and_writes_attachment_titles(testapp, dbsession, users):
    token = api_token(testapp, "editor")
    town = unit(dbsession, TOWN)
    created = testapp.post_json(town.path + "/", {
        "@type": "Disclosure", "title": "接口标题", **REQUIRED,
        "attachments": [{**upload(b"%PDF-1.4 x", "x.pdf"), "title": "方案全文"}, upload(b"y", "y.txt")]},
        headers=token, status=201).json
    assert [a.get("title") for a in created["attachments"]] == ["方案全文", None]
    item = created["@id"].removeprefix("http://localhost") + "/"
    sent = [{**created["attachments"][1], "title": "名单"}, created["attachments"][0]]
    res = testapp.patch_json(item, {"attachments": sent}, headers={**token, "Prefer": "return=representation"})
    assert [(a["filename"], a.get("title")) for a in res.json["attachments"]] == [("y.txt", "名单"),
                                                                                  ("x.pdf", "方案全文")]
    bad = testapp.post_json(town.path + "/", {"@type": "Disclosure", "title": "t", **REQUIRED,
                                              "attachments": [{**upload(b"z", "z.txt"), "title": 5}]},
                            headers=token, status=400)
    assert "attachments.0" in bad.text


def test_a_single_file_field_keeps_its_file_too(testapp, dbsession, users):
    """The File type's one file field (deform's FileUploadWidget with portal.uploads.StashTmpStore)."""
    from content_types.file import File

    login(testapp, "editor")
    form = add_form(testapp, unit(dbsession, TOWN).path, "File")
    assert "2.0 MB" in form.text
    form["title"] = "单个文件"
    form["description"] = "长" * 2001  # refused: too long
    form["upload"] = webtest.Upload("通知.pdf", b"%PDF-1.4 single")
    res = form.submit("save", status=200)
    kept = lxml.html.fromstring(res.text).xpath('//p[contains(@class, "file-kept")]')
    assert kept and "通知.pdf" in kept[0].text_content()
    form = res.forms["content-form"]
    form["description"] = "一个文件"
    form.submit("save", status=302)
    dbsession.expire_all()
    item = dbsession.scalar(select(File).where(File.title == "单个文件"))
    assert item.file["filename"] == "通知.pdf"
    with testapp.app.registry["blobstore"].open(item.file["hash"]) as f:
        assert f.read() == b"%PDF-1.4 single"


def test_editing_a_published_item_starts_from_its_waiting_change(testapp, dbsession, users):
    """A change of a published item waits for review as a draft: the edit form shows the draft's
    attachments, not the published ones, so a second edit does not undo the first."""
    editor, reviewer = api_token(testapp, "editor"), api_token(testapp, "reviewer")
    town = unit(dbsession, TOWN)
    item = testapp.post_json(town.path + "/", {"@type": "Disclosure", "title": "已发布的文件", **REQUIRED,
                                               "attachments": [upload(b"v1", "旧.txt")]},
                             headers=editor, status=201).json
    path = item["@id"].removeprefix("http://localhost") + "/"
    testapp.post_json(path + "@workflow/submit", {}, headers=editor)
    testapp.post_json(path + "@workflow/publish", {}, headers=reviewer)
    login(testapp, "editor")
    form = testapp.get(f"{path}@@edit").forms["content-form"]
    post(testapp, form, {}, files=[("新.txt", b"v2")])
    doc = doc_titled(dbsession, "已发布的文件")
    assert doc.draft is not None and [a["filename"] for a in doc.attachments] == ["旧.txt"]  # still public
    res = testapp.get(f"{path}@@edit")
    assert [title for _key, title in rows(res)] == ["旧", "新"]

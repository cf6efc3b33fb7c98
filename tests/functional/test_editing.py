"""Editing through the pages: the deform add and edit forms of every type, revisions, history, the
contents screen (order, rename, delete, bulk submit) and the sharing screen."""
from __future__ import annotations

import datetime as dt
import io
import urllib.parse
import zoneinfo

import lxml.html
import pytest
import webtest
from PIL import Image as PILImage
from sqlalchemy import func, select

from content_types.disclosure import Disclosure, DisclosureSerial
from portal.models import LocalRole, Node, Redirect, Revision
from portal.slugs import slugify
from tests.conftest import login, unit

LOCAL_TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
TOWN = "黄梅镇"


# -- helpers (also used by the other functional test modules) ---------------------------------------


def node_at(dbsession, path: str) -> Node | None:
    return dbsession.scalar(select(Node).where(Node.path == path))


def node_count(dbsession) -> int:
    return dbsession.scalar(select(func.count(Node.id)))


def add_form(testapp: webtest.TestApp, container_path: str, type_name: str) -> webtest.forms.Form:
    return testapp.get(f"{container_path}@@add?type={type_name}").forms["content-form"]


def fill(form: webtest.forms.Form, values: dict) -> webtest.forms.Form:
    for name, value in values.items():
        if isinstance(value, list):  # repeated names (e.g. the date/time inputs): one value per index
            for index, item in enumerate(value):
                if item is not None:
                    form.set(name, item, index=index)
        else:
            form[name] = value
    return form


def add(testapp, container_path: str, type_name: str, values: dict, status: int | str = 302) -> webtest.TestResponse:
    form = fill(add_form(testapp, container_path, type_name), values)
    return form.submit("save", status=status)


def add_item(testapp, dbsession, container_path: str, type_name: str, values: dict) -> Node:
    """Add through the form; returns the new node."""
    res = add(testapp, container_path, type_name, values)
    path = res.location.removeprefix("http://example.com")
    node = node_at(dbsession, path)
    assert node is not None, path
    return node


def edit(testapp, node_path: str, values: dict, status: int | str = 302) -> webtest.TestResponse:
    form = fill(testapp.get(f"{node_path}@@edit").forms["content-form"], values)
    return form.submit("save", status=status)


def field_has_error(html: str, name: str) -> bool:
    """Whether deform shows an error message in the form item of field `name`."""
    doc = lxml.html.fromstring(html)
    inputs = doc.xpath(f'//*[@name="{name}"] | //input[@name="__start__" and starts-with(@value, "{name}:")]')
    assert inputs, f"no field {name} in the form"
    for element in inputs:
        items = element.xpath('ancestor::div[starts-with(@id, "item-")][1]')
        if items and items[0].xpath('.//*[contains(concat(" ", @class, " "), " invalid-feedback ")'
                                    ' or contains(concat(" ", @class, " "), " error ")'
                                    ' or contains(concat(" ", @class, " "), " help-block ")]'):
            return True
    return False


def png_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def town_path(dbsession) -> str:
    return unit(dbsession, TOWN).path


def revisions_of(dbsession, node: Node) -> list[Revision]:
    return list(dbsession.scalars(select(Revision).where(Revision.node_id == node.id).order_by(Revision.number)))


def second_browser(app, testapp) -> webtest.TestApp:
    """Another browser on the same test transaction (its own cookies)."""
    return webtest.TestApp(app, extra_environ=dict(testapp.extra_environ))


# -- adding each type -----------------------------------------------------------------------------

def test_add_folder_private_owned_pinyin_name(testapp, dbsession, users):
    login(testapp, "editor")
    path = town_path(dbsession)
    res = add(testapp, path, "Folder", {"title": "工作动态", "column_kind": "动态"})
    assert res.location == f"http://example.com{path}gongzuodongtai/"
    folder = node_at(dbsession, f"{path}gongzuodongtai/")
    assert folder.type == "Folder"
    assert folder.title == "工作动态"
    assert folder.state == "private"
    assert folder.owner == "editor"
    assert folder.column_kind == "动态"
    assert folder.parent.title == TOWN
    testapp.get(res.location, status=200)


def test_same_title_twice_gets_a_suffix(testapp, dbsession, users):
    login(testapp, "editor")
    path = town_path(dbsession)
    first = add_item(testapp, dbsession, path, "Page", {"title": "工作动态"})
    second = add_item(testapp, dbsession, path, "Page", {"title": "工作动态"})
    third = add_item(testapp, dbsession, path, "Page", {"title": "工作动态"})
    assert (first.name, second.name, third.name) == ("gongzuodongtai", "gongzuodongtai-2", "gongzuodongtai-3")


def test_add_page(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page",
                    {"title": "信息公开指南", "description": "摘要", "body": "<p>正文内容</p>"})
    assert page.type == "Page" and page.name == "xinxigongkaizhinan"
    assert (page.state, page.owner) == ("private", "editor")
    assert page.description == "摘要"
    assert page.body == "<p>正文内容</p>"
    assert "正文内容" in testapp.get(page.path).text


def test_add_news_with_dates_in_beijing_time(testapp, dbsession, users):
    login(testapp, "editor")
    news = add_item(testapp, dbsession, town_path(dbsession), "News", {
        "title": "我镇召开会议", "source": "镇政府办", "body": "<p>会议</p>",
        "date": ["2030-05-01"], "time": ["08:00"]})
    assert news.type == "News" and news.name == "wozhenzhaokaihuiyi"
    assert (news.state, news.owner) == ("private", "editor")
    assert news.source == "镇政府办"
    # 08:00 in Beijing is 00:00 UTC, stored naive
    assert news.effective == dt.datetime(2030, 5, 1, 0, 0)
    assert news.lead_image is None


def test_add_disclosure(testapp, dbsession, users):
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    doc = add_item(testapp, dbsession, town.path, "Disclosure", {
        "title": "关于做好春耕工作的通知", "subject": "农业、林业、水利", "genre": "通知",
        "doc_number": "梅镇发〔2024〕1号", "date": ["2024-03-01"]})
    assert isinstance(doc, Disclosure)
    assert doc.name == slugify("关于做好春耕工作的通知")
    assert (doc.state, doc.owner) == ("private", "editor")
    assert doc.subject == "农业、林业、水利" and doc.genre == "通知"
    assert doc.written_date == dt.date(2024, 3, 1)
    assert doc.publisher == town.full_name  # defaults to the unit's full name
    assert doc.index_number.startswith(f"{town.org_code}/")


def test_add_file_upload(testapp, dbsession, users):
    login(testapp, "editor")
    data = b"%PDF-1.4\n" + b"x" * 500
    f = add_item(testapp, dbsession, town_path(dbsession), "File",
                 {"upload": webtest.Upload("春耕通知.pdf", data, "application/pdf")})
    assert f.type == "File"
    assert f.title == "春耕通知.pdf"  # the title defaults to the file name
    assert f.name == slugify("春耕通知.pdf")
    assert (f.state, f.owner) == ("private", "editor")
    assert f.file["filename"] == "春耕通知.pdf"
    assert f.file["content_type"] == "application/pdf"
    assert f.file["size"] == len(data)


def test_add_image(testapp, dbsession, users):
    login(testapp, "editor")
    img = add_item(testapp, dbsession, town_path(dbsession), "Image",
                   {"title": "镇容镇貌", "upload": webtest.Upload("photo.png", png_bytes((40, 30)), "image/png")})
    assert img.type == "Image" and img.name == "zhenrongzhenmao"
    assert (img.state, img.owner) == ("private", "editor")
    assert img.image["content_type"] == "image/png"
    assert (img.image["width"], img.image["height"]) == (40, 30)


def test_add_form_offers_only_addable_types(testapp, dbsession, users):
    login(testapp, "editor")
    path = town_path(dbsession)
    testapp.get(f"{path}@@add?type=Unit", status=400)
    testapp.get(f"{path}@@add?type=NoSuchType", status=400)


def test_other_unit_editor_cannot_add_here(testapp, dbsession, users):
    login(testapp, "other-editor")
    testapp.get(f"{town_path(dbsession)}@@add?type=Page", status=403)


# -- required fields ------------------------------------------------------------------------------

@pytest.mark.parametrize("type_name, values, missing", [
    ("Folder", {"title": "", "column_kind": "动态"}, ["title"]),
    ("Folder", {"title": "栏目"}, ["column_kind"]),
    ("Page", {"title": ""}, ["title"]),
    ("News", {"title": ""}, ["title"]),
    ("Disclosure", {"title": "文件"}, ["subject", "genre"]),
    ("Disclosure", {"title": "", "subject": "综合政务", "genre": "通知"}, ["title"]),
    ("File", {"title": "没有文件"}, ["file"]),
    ("Image", {"title": "没有图片"}, ["image"]),
])
def test_required_fields_reshow_the_form_and_create_nothing(testapp, dbsession, users, type_name, values, missing):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, town_path(dbsession), type_name, values, status=200)
    assert 'id="content-form"' in res.text
    for name in missing:
        assert field_has_error(res.text, name), name
    assert not field_has_error(res.text, "description")
    assert node_count(dbsession) == before


def test_reshown_form_keeps_what_was_typed(testapp, dbsession, users):
    login(testapp, "editor")
    res = add(testapp, town_path(dbsession), "Disclosure", {"title": "保留的标题", "doc_number": "梅发〔2024〕9号"},
              status=200)
    form = res.forms["content-form"]
    assert form["title"].value == "保留的标题"
    assert form["doc_number"].value == "梅发〔2024〕9号"


def test_too_long_title_is_an_error(testapp, dbsession, users):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, town_path(dbsession), "Page", {"title": "长" * 501}, status=200)
    assert field_has_error(res.text, "title")
    assert node_count(dbsession) == before


def test_expiry_before_effective_date_is_an_error(testapp, dbsession, users):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, town_path(dbsession), "Page", {
        "title": "日期", "date": ["2030-05-02", "2030-05-01"], "time": ["08:00", "08:00"]}, status=200)
    assert field_has_error(res.text, "expires")
    assert node_count(dbsession) == before


def test_disclosure_form_offers_a_file_input_for_attachments(testapp, dbsession, users):
    login(testapp, "editor")
    res = testapp.get(f"{town_path(dbsession)}@@add?type=Disclosure")
    doc = lxml.html.fromstring(res.text)
    start = doc.xpath('//input[@name="__start__" and @value="attachments:mapping"]')
    assert start  # portal.uploads.FileListWidget: one input takes several files, without JavaScript
    inputs = start[0].xpath('following::input[@type="file"][1]')
    assert inputs and inputs[0].get("multiple") and inputs[0].get("name") == "upload"
    assert ".pdf" in inputs[0].get("accept").split(",")


# -- the disclosure index number ------------------------------------------------------------------

def current_serial(dbsession, org_code: str, year: int) -> int:
    return dbsession.scalar(select(DisclosureSerial.last).where(
        DisclosureSerial.org_code == org_code, DisclosureSerial.year == year)) or 0


def new_disclosure(testapp, dbsession, path, title) -> Disclosure:
    return add_item(testapp, dbsession, path, "Disclosure", {"title": title, "subject": "综合政务", "genre": "通知"})


def test_disclosure_index_numbers_count_up_per_unit_and_year(testapp, dbsession, users):
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    year = dt.datetime.now(LOCAL_TZ).year
    base = current_serial(dbsession, town.org_code, year)
    assert base == 0  # every test starts from a clean database
    first = new_disclosure(testapp, dbsession, town.path, "第一份")
    second = new_disclosure(testapp, dbsession, town.path, "第二份")
    assert first.index_number == f"{town.org_code}/{year}-00001"
    assert second.index_number == f"{town.org_code}/{year}-00002"
    assert current_serial(dbsession, town.org_code, year) == 2


def test_disclosure_index_numbers_are_per_unit(testapp, dbsession, users):
    year = dt.datetime.now(LOCAL_TZ).year
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    new_disclosure(testapp, dbsession, town.path, "黄梅镇文件")
    login(testapp, "other-editor")
    other = unit(dbsession, "孔垄镇")
    doc = new_disclosure(testapp, dbsession, other.path, "孔垄镇文件")
    assert doc.index_number == f"{other.org_code}/{year}-00001"


def test_disclosure_index_number_is_never_reused_after_a_delete(testapp, dbsession, users):
    token = login(testapp, "editor")
    town = unit(dbsession, TOWN)
    year = dt.datetime.now(LOCAL_TZ).year
    new_disclosure(testapp, dbsession, town.path, "第一份")
    second = new_disclosure(testapp, dbsession, town.path, "第二份")
    assert second.index_number.endswith("-00002")
    name = second.name
    testapp.post(f"{town.path}@@contents", {"csrf_token": token, "names": name, "confirm-delete": "1"}, status=302)
    assert node_at(dbsession, f"{town.path}{name}/") is None
    third = new_disclosure(testapp, dbsession, town.path, "第三份")
    assert third.index_number == f"{town.org_code}/{year}-00003"
    assert current_serial(dbsession, town.org_code, year) == 3


def test_the_index_number_takes_the_year_the_document_was_written(testapp, dbsession, users):
    """信息生成年份: the 成文日期's year, each year counting on its own; without one, this year."""
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    year = dt.datetime.now(LOCAL_TZ).year
    old = add_item(testapp, dbsession, town.path, "Disclosure", {
        "title": "2011年的文件", "subject": "综合政务", "genre": "通知", "date": ["2011-10-28"]})
    undated = new_disclosure(testapp, dbsession, town.path, "未写成文日期")
    older = add_item(testapp, dbsession, town.path, "Disclosure", {
        "title": "2011年的另一份文件", "subject": "综合政务", "genre": "通知", "date": ["2011-03-01"]})
    assert [old.index_number, older.index_number] == [f"{town.org_code}/2011-00001", f"{town.org_code}/2011-00002"]
    assert undated.index_number == f"{town.org_code}/{year}-00001"
    assert current_serial(dbsession, town.org_code, 2011) == 2
    edit(testapp, old.path, {"date": ["2012-01-05"]})
    assert old.written_date == dt.date(2012, 1, 5) and old.index_number.endswith("/2011-00001")  # never renumbered


def test_disclosure_in_a_folder_takes_the_unit_code(testapp, dbsession, users):
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    folder = add_item(testapp, dbsession, town.path, "Folder", {"title": "政策文件", "column_kind": "政策文件"})
    doc = new_disclosure(testapp, dbsession, folder.path, "栏目里的文件")
    assert doc.index_number.startswith(f"{town.org_code}/")


def test_index_number_is_not_a_form_field(testapp, dbsession, users):
    login(testapp, "editor")
    town = unit(dbsession, TOWN)
    doc = new_disclosure(testapp, dbsession, town.path, "文件")
    number = doc.index_number
    form = testapp.get(f"{doc.path}@@edit").forms["content-form"]
    assert "index_number" not in form.fields
    fields = form.submit_fields("save") + [("index_number", "forged/2000-99999")]
    testapp.post(f"{doc.path}@@edit", fields, status=302)
    assert doc.index_number == number


# -- rich text ------------------------------------------------------------------------------------

def test_rich_text_is_stored_sanitised(testapp, dbsession, users):
    login(testapp, "editor")
    body = ('<p>正文<script>alert("x")</script></p><img src="a.png" onerror="alert(1)">'
            '<a href="javascript:alert(2)">链接</a>')
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "清洗", "body": body})
    stored = page.body
    assert "<p>正文" in stored
    assert "<script" not in stored and "alert(\"x\")" not in stored
    assert "onerror" not in stored
    assert "javascript:" not in stored
    assert '<img src="a.png"' in stored
    edit(testapp, page.path, {"body": '<p onclick="evil()">改</p><script>bad()</script>'})
    assert page.body == "<p>改</p>"


# -- revisions, conflicts, history ------------------------------------------------------------------

def test_each_save_keeps_a_revision(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "第一版"})
    assert [r.data["title"] for r in revisions_of(dbsession, page)] == ["第一版"]
    edit(testapp, page.path, {"title": "第二版"})
    edit(testapp, page.path, {"title": "第三版", "body": "<p>内容</p>"})
    revs = revisions_of(dbsession, page)
    assert [r.number for r in revs] == [1, 2, 3]
    assert [r.data["title"] for r in revs] == ["第一版", "第二版", "第三版"]
    assert revs[-1].data["body"] == "<p>内容</p>"
    assert all(r.actor == "editor" for r in revs)
    assert page.title == "第三版"
    assert page.name == slugify("第一版")  # editing the title keeps the URL


def test_edit_form_starts_from_the_current_values(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "标题", "body": "<p>正文</p>"})
    form = testapp.get(f"{page.path}@@edit").forms["content-form"]
    assert form["title"].value == "标题"
    assert "正文" in form["body"].value
    assert form["_version"].value == str(page.version)


def test_second_save_from_the_same_version_is_a_conflict(app, testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "原标题"})
    other = second_browser(app, testapp)
    login(other, "manager")
    mine = testapp.get(f"{page.path}@@edit").forms["content-form"]
    theirs = other.get(f"{page.path}@@edit").forms["content-form"]
    assert mine["_version"].value == theirs["_version"].value
    mine["title"] = "编辑甲的标题"
    mine.submit("save", status=302)
    theirs["title"] = "编辑乙的标题"
    res = theirs.submit("save", status=409)
    assert 'class="conflict error"' in res.text
    assert res.forms["content-form"]["title"].value == "编辑乙的标题"  # their text is not lost
    dbsession.expire_all()
    page = node_at(dbsession, page.path)
    assert page.title == "编辑甲的标题"
    assert [r.data["title"] for r in revisions_of(dbsession, page)] == ["原标题", "编辑甲的标题"]


def test_history_lists_revisions_and_shows_a_diff(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "旧的标题", "body": "<p>春耕</p>"})
    edit(testapp, page.path, {"title": "新的标题", "body": "<p>秋收</p>"})
    res = testapp.get(f"{page.path}@@history")
    doc = lxml.html.fromstring(res.text)
    assert doc.xpath('//input[@name="a" and @value="1"]') and doc.xpath('//input[@name="b" and @value="2"]')
    assert doc.xpath('//form[@id="restore-1"]') and doc.xpath('//form[@id="restore-2"]')
    res = testapp.get(f"{page.path}@@history", {"a": "1", "b": "2"})
    assert "<del>旧</del><ins>新</ins>" in res.text
    assert "<del>春耕</del><ins>秋收</ins>" in res.text
    testapp.get(f"{page.path}@@history", {"a": "1", "b": "99"}, status=404)
    testapp.get(f"{page.path}@@history", {"a": "x", "b": "1"}, status=404)


def test_history_diff_escapes_the_text(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "标题"})
    edit(testapp, page.path, {"title": "标题<b>粗</b>"})
    res = testapp.get(f"{page.path}@@history", {"a": "1", "b": "2"})
    assert "<ins>&lt;b&gt;粗&lt;/b&gt;</ins>" in res.text


def test_restore_brings_back_an_old_title(testapp, dbsession, users):
    token = login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "最初的标题"})
    edit(testapp, page.path, {"title": "后来的标题"})
    res = testapp.post(f"{page.path}@@restore", {"csrf_token": token, "number": "1"}, status=302)
    assert res.location.endswith(f"{page.path}@@history")
    assert page.title == "最初的标题"
    revs = revisions_of(dbsession, page)
    assert len(revs) == 3 and revs[-1].data["title"] == "最初的标题"
    testapp.post(f"{page.path}@@restore", {"csrf_token": token, "number": "42"}, status=404)


def test_history_is_not_for_people_who_cannot_edit(testapp, dbsession, users):
    login(testapp, "editor")
    page = add_item(testapp, dbsession, town_path(dbsession), "Page", {"title": "私有"})
    login(testapp, "other-editor")
    testapp.get(f"{page.path}@@history", status=404)  # nor view it: a private page of another unit


# -- the contents screen --------------------------------------------------------------------------

@pytest.fixture
def folder_with_items(testapp, dbsession, users):
    """A folder in 黄梅镇 with pages a, b, c, added by the editor (who is logged in)."""
    token = login(testapp, "editor")
    folder = add_item(testapp, dbsession, town_path(dbsession), "Folder", {"title": "栏目", "column_kind": "其他"})
    for title in ("Alpha", "Beta", "Gamma"):
        add_item(testapp, dbsession, folder.path, "Page", {"title": title})
    return folder, token


def order(folder: Node) -> list[str]:
    return [c.name for c in sorted(folder.children, key=lambda c: c.position)]


def test_contents_lists_children_with_their_state(testapp, dbsession, folder_with_items):
    folder, _token = folder_with_items
    res = testapp.get(f"{folder.path}@@contents")
    doc = lxml.html.fromstring(res.text)
    assert [i.get("value") for i in doc.xpath('//input[@name="names"]')] == ["alpha", "beta", "gamma"]
    assert len(doc.xpath('//span[contains(@class, "state-private")]')) >= 3


def test_contents_move_up_and_down(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    assert order(folder) == ["alpha", "beta", "gamma"]
    url = f"{folder.path}@@contents"
    testapp.post(url, {"csrf_token": token, "move": "gamma:up"}, status=302)
    assert order(folder) == ["alpha", "gamma", "beta"]
    testapp.post(url, {"csrf_token": token, "move": "alpha:down"}, status=302)
    assert order(folder) == ["gamma", "alpha", "beta"]
    testapp.post(url, {"csrf_token": token, "move": "gamma:up"}, status=302)  # already first
    assert order(folder) == ["gamma", "alpha", "beta"]
    testapp.post(url, {"csrf_token": token, "move": "beta:down"}, status=302)  # already last
    assert order(folder) == ["gamma", "alpha", "beta"]
    doc = lxml.html.fromstring(testapp.get(url).text)
    assert [i.get("value") for i in doc.xpath('//input[@name="names"]')] == ["gamma", "alpha", "beta"]


def test_contents_move_needs_edit_permission(testapp, dbsession, folder_with_items):
    folder, _token = folder_with_items
    token = login(testapp, "other-editor")
    res = testapp.post(f"{folder.path}@@contents", {"csrf_token": token, "move": "beta:up"}, status="*")
    assert res.status_int == 404  # the folder is private to 黄梅镇: out of their sight
    dbsession.add(LocalRole(node_id=folder.id, principal="user:other-editor", role="Reader"))
    dbsession.flush()
    res = testapp.post(f"{folder.path}@@contents", {"csrf_token": token, "move": "beta:up"}, status="*")
    assert res.status_int == 403  # may view it now, still not edit it
    assert order(folder) == ["alpha", "beta", "gamma"]


def test_rename_and_old_urls_redirect(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    old = folder.path
    res = testapp.post(f"{old}@@rename", {"csrf_token": token, "name": "lanmu-new"}, status=302)
    new = f"{folder.parent.path}lanmu-new/"
    assert res.location == f"http://example.com{new}"
    assert testapp.get(new).status_int == 200
    assert testapp.get(f"{new}alpha/").status_int == 200
    assert node_at(dbsession, f"{new}alpha/") is not None
    assert node_at(dbsession, old) is None
    res = testapp.get(old, status=301)
    assert res.location == f"http://example.com{new}"
    res = testapp.get(f"{old}alpha/", status=301)
    assert res.location == f"http://example.com{new}alpha/"
    res = testapp.get(f"{old}alpha/@@edit", status=301)
    assert res.location == f"http://example.com{new}alpha/@@edit"
    assert dbsession.scalar(select(Redirect).where(Redirect.old_path == old)) is not None


def test_renaming_back_makes_the_old_url_live_again(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    old, old_name = folder.path, folder.name
    testapp.post(f"{old}@@rename", {"csrf_token": token, "name": "other-name"}, status=302)
    testapp.get(old, status=301)
    testapp.post(f"{folder.parent.path}other-name/@@rename", {"csrf_token": token, "name": old_name}, status=302)
    assert testapp.get(old).status_int == 200
    assert testapp.get(f"{old}beta/").status_int == 200
    res = testapp.get(f"{folder.parent.path}other-name/beta/", status=301)
    assert res.location == f"http://example.com{old}beta/"


def test_renaming_an_item_that_reused_a_redirected_name(testapp, dbsession, users):
    token = login(testapp, "editor")
    path = town_path(dbsession)
    first = add_item(testapp, dbsession, path, "Page", {"title": "Alpha"})
    testapp.post(f"{first.path}@@rename", {"csrf_token": token, "name": "beta"}, status=302)
    second = add_item(testapp, dbsession, path, "Page", {"title": "Alpha"})
    assert second.path == f"{path}alpha/"
    assert testapp.get(second.path).status_int == 200  # the new item, not the redirect
    testapp.post(f"{second.path}@@rename", {"csrf_token": token, "name": "gamma"}, status=302)
    assert testapp.get(f"{path}gamma/").status_int == 200
    assert testapp.get(f"{path}beta/").status_int == 200
    res = testapp.get(f"{path}alpha/", status=301)
    assert res.location == f"http://example.com{path}gamma/"


@pytest.mark.parametrize("name", ["Bad Name", "ABC", "-start", "a_b", "", "x" * 81, "名字"])
def test_rename_to_an_invalid_name_shows_an_error(testapp, dbsession, folder_with_items, name):
    folder, token = folder_with_items
    item = node_at(dbsession, f"{folder.path}beta/")
    res = testapp.post(f"{item.path}@@rename", {"csrf_token": token, "name": name}, status=200)
    assert 'class="error"' in res.text
    assert item.name == "beta"
    assert node_at(dbsession, f"{folder.path}beta/") is item


def test_rename_to_a_sibling_name_shows_an_error(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    item = node_at(dbsession, f"{folder.path}beta/")
    res = testapp.post(f"{item.path}@@rename", {"csrf_token": token, "name": "gamma"}, status=200)
    assert 'class="error"' in res.text
    assert item.name == "beta"
    assert node_at(dbsession, f"{folder.path}gamma/").title == "Gamma"


def test_rename_to_the_same_name_changes_nothing(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    testapp.post(f"{folder.path}beta/@@rename", {"csrf_token": token, "name": "beta"}, status=302)
    assert dbsession.scalar(select(func.count(Redirect.id)).where(Redirect.old_path == f"{folder.path}beta/")) == 0


def test_delete_asks_for_confirmation_first(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    url = f"{folder.path}@@contents"
    res = testapp.post(url, {"csrf_token": token, "names": ["alpha", "gamma"], "delete": "1"}, status=200)
    doc = lxml.html.fromstring(res.text)
    assert doc.xpath('//button[@name="confirm-delete"]')
    assert sorted(i.get("value") for i in doc.xpath('//input[@name="names"]')) == ["alpha", "gamma"]
    assert order(folder) == ["alpha", "beta", "gamma"]  # nothing deleted yet
    testapp.post(url, {"csrf_token": token, "names": ["alpha", "gamma"], "confirm-delete": "1"}, status=302)
    assert order(folder) == ["beta"]
    assert node_at(dbsession, f"{folder.path}alpha/") is None
    testapp.get(f"{folder.path}alpha/", status=404)


def test_delete_without_selection_deletes_nothing(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    testapp.post(f"{folder.path}@@contents", {"csrf_token": token, "delete": "1"}, status=302)
    assert order(folder) == ["alpha", "beta", "gamma"]


def test_deleting_a_folder_deletes_what_is_inside(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    path = folder.path
    testapp.post(f"{folder.parent.path}@@contents", {"csrf_token": token, "names": folder.name,
                                                      "confirm-delete": "1"}, status=302)
    dbsession.expire_all()
    assert node_at(dbsession, path) is None
    assert node_at(dbsession, f"{path}alpha/") is None


def test_bulk_submit_moves_selected_private_items_to_pending(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    testapp.post(f"{folder.path}@@contents", {"csrf_token": token, "names": ["alpha", "beta"], "submit": "1"},
                 status=302)
    states = {c.name: c.state for c in folder.children}
    assert states == {"alpha": "pending", "beta": "pending", "gamma": "private"}


def test_bulk_submit_skips_items_that_cannot_be_submitted(testapp, dbsession, folder_with_items):
    folder, token = folder_with_items
    url = f"{folder.path}@@contents"
    testapp.post(url, {"csrf_token": token, "names": ["alpha"], "submit": "1"}, status=302)
    testapp.post(url, {"csrf_token": token, "names": ["alpha", "gamma"], "submit": "1"}, status=302)
    assert {c.name: c.state for c in folder.children} == {"alpha": "pending", "beta": "private",
                                                          "gamma": "pending"}


# -- sharing --------------------------------------------------------------------------------------

def share(testapp, token, node, grants: list[str], principals: list[str], inherit: bool = True):
    data = [("csrf_token", token), ("save", "1")] + [("principal", p) for p in principals] + \
        [("grant", g) for g in grants] + ([("inherit", "1")] if inherit else [])
    return testapp.post(f"{node.path}@@sharing", data, status=302)


def test_sharing_editor_role_lets_another_editor_edit(testapp, dbsession, users):
    login(testapp, "editor")
    folder = add_item(testapp, dbsession, town_path(dbsession), "Folder", {"title": "共享栏目", "column_kind": "其他"})
    login(testapp, "other-editor")
    testapp.get(f"{folder.path}@@edit", status=404)  # a private folder of another unit looks missing
    token = login(testapp, "manager")
    res = testapp.get(f"{folder.path}@@sharing")
    assert 'value="user:editor"' in res.text  # the unit's editor, inherited
    share(testapp, token, folder, ["user:other-editor|Editor"], ["user:other-editor"])
    res = testapp.get(f"{folder.path}@@sharing")
    assert lxml.html.fromstring(res.text).xpath(
        '//input[@name="grant" and @value="user:other-editor|Editor" and @checked]')
    login(testapp, "other-editor")
    testapp.get(f"{folder.path}@@edit", status=200)
    edit(testapp, folder.path, {"title": "改名的栏目"})
    assert folder.title == "改名的栏目"


def test_sharing_search_offers_users(testapp, dbsession, users):
    login(testapp, "manager")
    res = testapp.get(f"{town_path(dbsession)}@@sharing", {"search": "other"})
    assert 'value="user:other-editor"' in res.text


def test_sharing_is_for_managers_only(testapp, dbsession, users):
    login(testapp, "editor")
    testapp.get(f"{town_path(dbsession)}@@sharing", status=403)


def test_sharing_refuses_unknown_principals(testapp, dbsession, users):
    token = login(testapp, "manager")
    town = unit(dbsession, TOWN)
    share(testapp, token, town, ["user:ghost|Editor"], ["user:ghost"])
    assert dbsession.scalar(select(LocalRole).where(LocalRole.principal == "user:ghost")) is None


def test_turning_off_inherit_takes_the_unit_editors_access_below(testapp, dbsession, users):
    token = login(testapp, "manager")
    folder = add_item(testapp, dbsession, town_path(dbsession), "Folder", {"title": "内部栏目", "column_kind": "其他"})
    page = add_item(testapp, dbsession, folder.path, "Page", {"title": "内部页面"})
    login(testapp, "editor")
    testapp.get(f"{folder.path}@@edit", status=200)
    testapp.get(f"{page.path}@@edit", status=200)
    token = login(testapp, "manager")
    share(testapp, token, folder, [], [], inherit=False)
    assert folder.inherit_roles is False
    login(testapp, "editor")  # out of their sight now: the folder and the page look missing
    testapp.get(f"{folder.path}@@edit", status=404)
    testapp.get(f"{page.path}@@edit", status=404)
    testapp.get(page.path, status=404)
    # the rest of the unit is unaffected
    testapp.get(f"{town_path(dbsession)}@@add?type=Page", status=200)
    # and inherit on again gives it back
    token = login(testapp, "manager")
    share(testapp, token, folder, [], [], inherit=True)
    login(testapp, "editor")
    testapp.get(f"{page.path}@@edit", status=200)

"""The scripts and styles of the add and edit forms (portal.views.edit.asset_urls): every one is
served, jQuery and deform.js come first so the widgets' inline scripts can run, and the rich-text
editor is TinyMCE in Chinese. And rich text sent as plain text keeps its paragraphs
(portal.schemas.rich_text), whether it comes from the form or the API."""
from __future__ import annotations

import json
import re
from typing import Any

import lxml.html
import pytest
import webtest
from sqlalchemy import select

from portal.models import Node
from tests.conftest import api_token, login, unit
from tests.functional.test_api import add, png, upload
from tests.functional.test_editing import add_item

JQUERY = "/static-deform/scripts/jquery-2.0.3.min.js"
DEFORM_JS = "/static-deform/scripts/deform.js"
TINYMCE = "/static-deform/tinymce/tinymce.min.js"


@pytest.fixture
def items(testapp: webtest.TestApp, dbsession: Any, users: Any) -> dict[str, str]:
    """One item of every type in 黄梅镇, by the API; their paths."""
    editor = api_token(testapp, "editor")
    town = unit(dbsession, "黄梅镇").path
    made = {
        "Folder": add(testapp, editor, town, "Folder", title="工作动态", column_kind="动态", update_interval=7),
        "Page": add(testapp, editor, town, "Page", title="办事指南", body="<p>正文</p>"),
        "News": add(testapp, editor, town, "News", title="镇政府召开会议"),
        "Disclosure": add(testapp, editor, town, "Disclosure", title="关于春耕的通知", subject="综合政务", genre="通知",
                          attachments=[upload(b"%PDF-1.4 plan", "方案.pdf")]),
        "File": add(testapp, editor, town, "File", file=upload(b"%PDF-1.4 x", "通知.pdf")),
        "Image": add(testapp, editor, town, "Image", title="镇容镇貌", image=upload(png(), "镇容.png")),
    }
    testapp.reset()
    return {name: item["@id"].removeprefix("http://example.com") + "/" for name, item in made.items()}


def form_pages(dbsession: Any, items: dict[str, str]) -> list[str]:
    town = unit(dbsession, "黄梅镇").path
    return [f"{town}@@add?type={name}" for name in items] + [f"{path}@@edit" for path in items.values()]


def assets(html: str) -> tuple[list[str], list[str]]:
    """The page's script sources and style sheets, in document order."""
    doc = lxml.html.fromstring(html)
    scripts = [s.get("src") for s in doc.iter("script") if s.get("src")]
    styles = [link.get("href") for link in doc.iter("link") if link.get("rel") == "stylesheet"]
    return scripts, styles


def local(url: str) -> str:
    return url.removeprefix("http://example.com")


def test_every_script_and_style_of_every_form_is_served(testapp: webtest.TestApp, dbsession: Any,
                                                        items: dict[str, str]) -> None:
    login(testapp, "editor")
    checked: set[str] = set()
    for page in form_pages(dbsession, items):
        scripts, styles = assets(testapp.get(page).text)
        assert any("/static-deform/" in url for url in scripts), page
        for url in scripts + styles:
            assert "deform:static" not in url, (page, url)
            if url not in checked:
                res = testapp.get(local(url), status="*")
                assert res.status_int == 200, (page, url, res.status)
                checked.add(url)
    assert {JQUERY, DEFORM_JS, TINYMCE} <= {local(url) for url in checked}
    assert any(url.endswith("pickadate/translations/zh_CN.js") for url in checked)


def test_jquery_and_deform_come_before_the_widgets(testapp: webtest.TestApp, dbsession: Any,
                                                   items: dict[str, str]) -> None:
    login(testapp, "editor")
    for page in form_pages(dbsession, items):
        html = testapp.get(page).text
        scripts = [local(url) for url in assets(html)[0]]
        deform_scripts = [url for url in scripts if url.startswith("/static-deform/")]
        assert deform_scripts[:2] == [JQUERY, DEFORM_JS], (page, scripts)
        assert len(set(scripts)) == len(scripts), (page, scripts)
        # the widgets' inline scripts call jQuery and deform: both are loaded in <head>, before them
        head = lxml.html.fromstring(html).find("head")
        assert {JQUERY, DEFORM_JS} <= {local(s.get("src")) for s in head.iter("script") if s.get("src")}


def tinymce_options(html: str) -> dict[str, Any]:
    """The options the rich-text widget's inline script gives tinyMCE.init (the later key wins)."""
    script = next(s.text for s in lxml.html.fromstring(html).iter("script") if s.text and "tinyMCE.init" in s.text)
    body = re.search(r"var options = \{(.*?)selector:", script, re.S).group(1)
    pairs = re.findall(r'"([a-z_]+)": ("[^"]*"|true|false|\d+|\{\})', body)
    return {key: json.loads(value) for key, value in pairs}


@pytest.mark.parametrize("type_name", ["Page", "News", "Disclosure"])
def test_rich_text_is_tinymce_in_chinese_with_the_sanitiser_s_tags(testapp: webtest.TestApp, dbsession: Any,
                                                                   users: Any, type_name: str) -> None:
    login(testapp, "editor")
    html = testapp.get(f"{unit(dbsession, '黄梅镇').path}@@add?type={type_name}").text
    assert TINYMCE in [local(url) for url in assets(html)[0]]
    options = tinymce_options(html)
    assert options["language"] == "zh-Hans"
    assert testapp.get("/static-deform/tinymce/langs/zh-Hans.js").status_int == 200
    assert "style" not in options["valid_elements"] and "h1" not in options["valid_elements"]
    for button in ("blocks", "bullist", "numlist", "link", "image", "table"):
        assert button in options["toolbar"].split(), button


def test_plain_text_from_the_form_keeps_its_paragraphs(testapp: webtest.TestApp, dbsession: Any,
                                                       users: Any) -> None:
    login(testapp, "editor")
    town = unit(dbsession, "黄梅镇").path
    page = add_item(testapp, dbsession, town, "Page",
                    {"title": "无编辑器", "body": "第一段内容。\r\n\r\n第二段 <b>加粗</b>。\r\n第三段 a < b"})
    assert page.body == "<p>第一段内容。</p><p>第二段 <b>加粗</b>。</p><p>第三段 a &lt; b</p>"
    html = testapp.get(page.path).text
    assert "<p>第一段内容。</p>" in html


def test_plain_text_from_the_api_keeps_its_paragraphs(testapp: webtest.TestApp, dbsession: Any, users: Any) -> None:
    editor = api_token(testapp, "editor")
    town = unit(dbsession, "黄梅镇").path
    made = add(testapp, editor, town, "News", title="接口新闻", body="一\n\n二<script>alert(1)</script>")
    node = dbsession.scalar(select(Node).where(Node.path == made["@id"].removeprefix("http://example.com") + "/"))
    assert node.body == "<p>一</p><p>二</p>"


def test_html_keeps_its_own_paragraphs(testapp: webtest.TestApp, dbsession: Any, users: Any) -> None:
    login(testapp, "editor")
    page = add_item(testapp, dbsession, unit(dbsession, "黄梅镇").path, "Page",
                    {"title": "有编辑器", "body": "<h2>标题</h2>\n<p>一段\n同一段</p>"})
    assert page.body == "<h2>标题</h2>\n<p>一段\n同一段</p>"

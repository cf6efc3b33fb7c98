"""Input no page or database can take is refused with a 400 and a message, never a bare 500.

The attack run of issue 8 found three: a URL that is not UTF-8 (`/%FF/`, `?q=%FF`), a lone
surrogate in a JSON text (`"\\ud800"`, which Python's JSON parser accepts and no database stores),
and dates Python cannot turn into UTC (`0001-01-01` in Beijing time, `9999-12-31T23:59:59-12:00`).
Pages answer the site's 400 page, the API its JSON error naming the field.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import webtest
from sqlalchemy import func, select

from content_types.disclosure import Disclosure
from portal import content
from portal.content import ContentError
from portal.models import Node, Revision
from portal.schemas import MAX_YEAR, MIN_YEAR
from tests.conftest import api_token, login
from tests.functional.test_editing import add, edit, field_has_error, node_at

JSON = {"Accept": "application/json"}
BAD_URL_ZH = "网址中含有无效字符"
NOT_TEXT_ZH = "含有无效字符"
DATE_ZH = f"请输入 {MIN_YEAR} 年至 {MAX_YEAR} 年之间的日期"
OUT_OF_RANGE = ["0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "1899-12-31", "2201-01-01"]


@pytest.fixture
def editor(testapp: webtest.TestApp, users: Any) -> dict[str, str]:
    return api_token(testapp, "editor")


def node_count(dbsession: Any) -> int:
    return dbsession.scalar(select(func.count(Node.id)))


def errors_of(res: webtest.TestResponse) -> dict[str | None, str]:
    return {e["field"]: e["message"] for e in res.json["error"]["errors"]}


def post_raw_json(testapp: webtest.TestApp, path: str, text: str, headers: dict[str, str],
                  method: str = "POST", status: int = 400) -> webtest.TestResponse:
    """Send JSON exactly as written: `"\\ud800"` stays an escape, as an attacker's client sends it."""
    return testapp.request(path, method=method, body=text.encode("utf-8"), status=status,
                           headers={**headers, "Content-Type": "application/json"})


# -- URLs that are not UTF-8 ------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/%FF/", "/huangmeizhen/%C3%28/", "/%ED%A0%80", "/@@search?q=%FF",
                                 "/huangmeizhen/?x=%FE%FF", "/@@login?came_from=%FF"])
def test_a_url_that_is_not_utf8_is_a_400_page_with_a_message(testapp, url):
    res = testapp.get(url, status=400)
    assert res.content_type == "text/html"
    assert BAD_URL_ZH in res.text


def test_a_url_that_is_not_utf8_is_a_400_for_the_api(testapp):
    res = testapp.get("/%FF/", headers=JSON, status=400)
    assert res.json["error"]["type"] == "BadRequest"
    assert BAD_URL_ZH in res.json["error"]["message"]
    res = testapp.get("/@search?SearchableText=%FF", status=400)
    assert BAD_URL_ZH in res.json["error"]["message"]


def test_a_post_to_a_url_that_is_not_utf8_changes_nothing(testapp, dbsession, editor):
    before = node_count(dbsession)
    res = testapp.post_json("/huangmeizhen/%FF/", {"@type": "Page", "title": "标题"}, headers=editor, status=400)
    assert BAD_URL_ZH in res.json["error"]["message"]
    assert node_count(dbsession) == before


def test_valid_utf8_urls_still_work(testapp):
    testapp.get("/@@search?q=%E9%BB%84%E6%A2%85", status=200)  # 黄梅
    testapp.get("/%E4%B8%8D%E5%AD%98%E5%9C%A8/", status=404)  # 不存在: a missing page, not a bad URL


# -- lone surrogates in JSON -----------------------------------------------------------------------

@pytest.mark.parametrize("field", ["title", "description", "body"])
def test_a_lone_surrogate_in_a_text_field_is_a_400_naming_it(testapp, dbsession, editor, field):
    before = node_count(dbsession)
    fields = {"title": '"标题"', "description": '""', "body": '"<p>正文</p>"'}
    fields[field] = '"abc\\ud800def"'
    text = '{"@type": "Page", ' + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    res = post_raw_json(testapp, "/huangmeizhen/", text, editor)
    assert list(errors_of(res)) == [field]
    assert NOT_TEXT_ZH in errors_of(res)[field]
    assert node_count(dbsession) == before


def test_a_lone_surrogate_in_a_nested_value_or_a_key_is_named(testapp, editor):
    body = '{"@type": "Disclosure", "title": "t", "attachments": [{"data": "", "filename": "\\udfff.pdf"}]}'
    res = post_raw_json(testapp, "/huangmeizhen/", body, editor)
    assert list(errors_of(res)) == ["attachments.0.filename"]
    res = post_raw_json(testapp, "/huangmeizhen/", '{"@type": "Page", "title": "t", "\\ud800": 1}', editor)
    assert list(errors_of(res)) == ["\\ud800"]


def test_a_lone_surrogate_in_an_edit_a_comment_or_a_login_is_a_400(testapp, dbsession, editor):
    page = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态"}, headers=editor,
                             status=201).json
    path = page["@id"].removeprefix("http://example.com") + "/"
    res = post_raw_json(testapp, path, '{"title": "\\udc00"}', editor, method="PATCH")
    assert list(errors_of(res)) == ["title"]
    res = post_raw_json(testapp, f"{path}@workflow/submit", '{"comment": "\\ud83d"}', editor)
    assert list(errors_of(res)) == ["comment"]
    res = post_raw_json(testapp, "/@login", '{"login": "\\ud800", "password": "x"}', {})
    assert list(errors_of(res)) == ["login"]
    node = node_at(dbsession, path)
    assert (node.title, node.state) == ("工作动态", "private")


def test_a_pair_of_surrogates_is_an_ordinary_character(testapp, editor):
    """`"\\ud83d\\ude00"` is one character (😀) in JSON: valid, and kept."""
    res = post_raw_json(testapp, "/huangmeizhen/", '{"@type": "Page", "title": "\\ud83d\\ude00 通知"}', editor,
                        status=201)
    assert res.json["title"] == "😀 通知"


def test_the_action_refuses_a_lone_surrogate_whoever_calls(request_as, town):
    with pytest.raises(ContentError) as e:
        content.create(request_as("editor"), town, "Page", {"title": "a\ud800"})
    assert e.value.field == "title"


# -- dates out of range ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_an_out_of_range_datetime_is_a_400_naming_the_field(testapp, dbsession, editor, value):
    before = node_count(dbsession)
    res = testapp.post_json("/huangmeizhen/", {"@type": "News", "title": "会议", "effective": value},
                            headers=editor, status=400)
    assert DATE_ZH in errors_of(res)["effective"]
    assert node_count(dbsession) == before


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_an_out_of_range_date_is_a_400_naming_the_field(testapp, dbsession, editor, value):
    res = testapp.post_json("/huangmeizhen/", {"@type": "Disclosure", "title": "通知", "subject": "综合政务",
                                               "genre": "通知", "written_date": value}, headers=editor, status=400)
    assert DATE_ZH in errors_of(res)["written_date"]
    assert dbsession.scalar(select(func.count(Disclosure.id)).where(Node.title == "通知")) == 0


def test_an_out_of_range_date_in_an_edit_is_a_400(testapp, dbsession, editor):
    page = testapp.post_json("/huangmeizhen/", {"@type": "Page", "title": "工作动态"}, headers=editor,
                             status=201).json
    path = page["@id"].removeprefix("http://example.com") + "/"
    res = testapp.patch_json(path, {"expires": "9999-12-31T23:59:59-12:00"}, headers=editor, status=400)
    assert DATE_ZH in errors_of(res)["expires"]
    assert node_at(dbsession, path).expires is None


def test_dates_at_the_ends_of_the_range_are_accepted(testapp, dbsession, editor):
    res = testapp.post_json("/huangmeizhen/", {"@type": "News", "title": "会议",
                                               "effective": "1900-01-01T12:00:00+08:00",
                                               "expires": "2200-12-31T00:00:00+08:00"}, headers=editor, status=201)
    node = node_at(dbsession, res.json["@id"].removeprefix("http://example.com") + "/")
    assert node.effective == dt.datetime(1900, 1, 1, 4, 0) and node.expires == dt.datetime(2200, 12, 30, 16, 0)


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31"])
def test_an_out_of_range_date_in_a_form_shows_next_to_the_field(testapp, dbsession, users, date):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, "/huangmeizhen/", "News", {"title": "会议", "date": [date], "time": ["23:59"]}, status=200)
    assert DATE_ZH in res.text
    assert field_has_error(res.text, "effective")
    res = add(testapp, "/huangmeizhen/", "Disclosure", {"title": "通知", "subject": "综合政务", "genre": "通知",
                                                        "date": [date]}, status=200)
    assert DATE_ZH in res.text
    assert node_count(dbsession) == before


def test_an_out_of_range_date_in_an_edit_form_keeps_the_item(testapp, dbsession, users):
    login(testapp, "editor")
    page = add(testapp, "/huangmeizhen/", "Page", {"title": "工作动态"})
    path = page.location.removeprefix("http://example.com")
    node = node_at(dbsession, path)
    revisions = dbsession.scalar(select(func.count(Revision.id)).where(Revision.node_id == node.id))
    res = edit(testapp, path, {"date": ["0001-01-01", None], "time": ["00:00", None]}, status=200)
    assert DATE_ZH in res.text
    assert dbsession.scalar(select(func.count(Revision.id)).where(Revision.node_id == node.id)) == revisions


def test_the_action_refuses_out_of_range_dates_whoever_calls(request_as, town):
    request = request_as("editor")
    tz = dt.timezone(dt.timedelta(hours=-12))
    with pytest.raises(ContentError) as e:
        content.create(request, town, "News",
                       {"title": "会议", "effective": dt.datetime(9999, 12, 31, 23, 59, tzinfo=tz)})
    assert e.value.field == "effective"
    with pytest.raises(ContentError) as e:
        content.create(request, town, "Disclosure", {"title": "通知", "written_date": dt.date(1, 1, 1)})
    assert e.value.field == "written_date"

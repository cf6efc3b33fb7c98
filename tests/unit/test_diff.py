"""Differences between revisions: escaped HTML with <ins> and <del>, character by character."""
from __future__ import annotations

from portal.diff import as_text, diff_revisions, inline_diff

FIELDS = ("title", "description", "body", "effective", "file", "attachments", "update_interval")
HTML = ("body",)


def test_equal_texts_have_no_marks():
    assert inline_diff("工作动态", "工作动态") == "工作动态"
    assert inline_diff("", "") == ""


def test_insert_delete_replace():
    assert inline_diff("abc", "abxc") == "ab<ins>x</ins>c"
    assert inline_diff("abxc", "abc") == "ab<del>x</del>c"
    assert inline_diff("abc", "abd") == "ab<del>c</del><ins>d</ins>"
    assert inline_diff("", "新") == "<ins>新</ins>"
    assert inline_diff("旧", "") == "<del>旧</del>"


def test_chinese_is_compared_character_by_character():
    assert inline_diff("旧的标题", "新的标题") == "<del>旧</del><ins>新</ins>的标题"
    assert inline_diff("春耕生产", "春耕秋收生产") == "春耕<ins>秋收</ins>生产"


def test_text_is_escaped():
    out = inline_diff("a<b>", 'a<b>&"<script>')
    assert "<script>" not in out and "<b>" not in out
    assert out == 'a&lt;b&gt;<ins>&amp;&quot;&lt;script&gt;</ins>'
    assert inline_diff("<i>", "<u>") == "&lt;<del>i</del><ins>u</ins>&gt;"


def test_diff_revisions_lists_changed_fields_in_field_order():
    old = {"title": "旧标题", "description": "同样", "body": "<p>一</p>"}
    new = {"title": "新标题", "description": "同样", "body": "<p>二</p>"}
    changes = diff_revisions(FIELDS, old, new, HTML)
    assert [name for name, _html in changes] == ["title", "body"]
    assert dict(changes)["title"] == "<del>旧</del><ins>新</ins>标题"


def test_body_is_compared_as_text_not_markup():
    changes = dict(diff_revisions(FIELDS, {"body": "<p>正文</p>"}, {"body": "<p><strong>正文</strong></p>"}, HTML))
    assert "body" not in changes  # same words, other markup
    changes = dict(diff_revisions(FIELDS, {"body": "<p>春耕</p>"}, {"body": "<p>秋收</p>"}, HTML))
    assert changes["body"] == "<del>春耕</del><ins>秋收</ins>"
    assert "&lt;p&gt;" not in changes["body"]


def test_missing_none_and_empty_are_the_same():
    assert diff_revisions(FIELDS, {"description": None}, {"description": ""}, HTML) == []
    assert diff_revisions(FIELDS, {}, {"description": ""}, HTML) == []
    assert diff_revisions(FIELDS, {"title": "a"}, {"title": "a", "unknown": "x"}, HTML) == []


def test_files_are_compared_by_name_and_hash():
    a = {"hash": "a" * 64, "filename": "通知.pdf", "content_type": "application/pdf", "size": 1}
    b = {**a, "hash": "b" * 64}
    assert as_text(a) == f"通知.pdf ({'a' * 12})"
    changes = dict(diff_revisions(FIELDS, {"file": a}, {"file": b}, HTML))
    assert "通知.pdf" in changes["file"] and "<del>" in changes["file"] and "<ins>" in changes["file"]
    assert diff_revisions(FIELDS, {"file": a}, {"file": dict(a)}, HTML) == []


def test_lists_of_files_one_per_line():
    a = {"hash": "a" * 64, "filename": "一.pdf"}
    b = {"hash": "b" * 64, "filename": "二.pdf"}
    assert as_text([a, b]) == f"一.pdf ({'a' * 12})\n二.pdf ({'b' * 12})"
    changes = dict(diff_revisions(FIELDS, {"attachments": [a]}, {"attachments": [a, b]}, HTML))
    assert changes["attachments"].startswith("一.pdf")
    assert "<ins>" in changes["attachments"] and "二.pdf" in changes["attachments"]


def test_other_values_are_shown_as_json():
    assert as_text(7) == "7"
    assert as_text("2024-01-01T00:00:00") == "2024-01-01T00:00:00"
    assert as_text({"k": "值"}) == '{"k": "值"}'
    changes = dict(diff_revisions(FIELDS, {"update_interval": 7}, {"update_interval": 30}, HTML))
    assert changes["update_interval"] == "<del>7</del><ins>30</ins>"

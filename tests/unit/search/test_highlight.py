"""Snippets: escaped HTML with <mark> exactly around what matched."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.analysis import identity_fold, units
from search.highlight import highlight_whole, match_spans, snippet
from search.query import parse


def segs(q: str):
    return parse(q).segments


def test_marks_exact_phrase_not_scattered_bigrams():
    out = highlight_whole("推进电子政务专网建设，电子和政务分开不算", segs("电子政务专网"))
    assert out == "推进<mark>电子政务专网</mark>建设，电子和政务分开不算"


def test_html_is_escaped():
    out = highlight_whole('<script>alert("电子政务")</script>', segs("电子政务"))
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mark>电子政务</mark>" in out


def test_fullwidth_text_is_marked_in_its_original_form():
    out = highlight_whole("印发２０１１年通知", segs("2011年"))
    assert out == "印发<mark>２０１１年</mark>通知"


def test_snippet_windows_and_ellipses():
    text = "甲" * 200 + "协同办公" + "乙" * 200 + "协同办公" + "丙" * 200
    out = snippet(text, segs("协同办公"))
    assert out.count("<mark>协同办公</mark>") == 2
    assert out.startswith("…") and out.endswith("…")
    assert len(out) < 300


def test_snippet_without_match_is_the_start():
    assert snippet("第一句。第二句", segs("不存在")) == "第一句。第二句"
    assert snippet("", segs("x")) == ""


def test_single_character_and_spaces_in_text():
    assert highlight_whole("电子 政务", segs("子政")) == "电<mark>子 政</mark>务"
    assert highlight_whole("行政", segs("政")) == "行<mark>政</mark>"


_PIECES = ["协同办公", "电子政务专网", "，", "。", " ", "\n", "2011", "年", "甲乙", "ｘｐ", "XP", "xp2", "政务", "政",
           "“", "”", "Ａ１", "ie6", "_", "·", "qq", "com", "108", "号", "\u3000", "（", "梅政办发"]  # fmt: skip
_QUERIES = ["协同办公", "政务", "电子政务 2011", "年", "xp", "政务政务", "甲乙", "政", "qq com", "2011年", "a1", "xp 2011", "108号", "梅政办发108号", "号"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.sampled_from(_QUERIES))
def test_fast_match_spans_equal_the_unit_stream(pieces, q):
    """The regex path marks exactly what the unit model (the index's) matches."""
    text = "".join(pieces)
    s = segs(q)
    assert identity_fold(text) is not None
    assert match_spans(text, s) == match_spans(text, s, doc_units=units(text))

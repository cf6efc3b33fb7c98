"""The unit model of search.analysis: tokens, positions and the canonical form."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.analysis import (
    canonical,
    canonical_units,
    canonical_segment,
    is_cjk,
    number_key,
    query_tokens,
    segments,
    token_counts,
    token_positions,
    units,
)


def test_bigrams_have_consecutive_positions():
    poses = token_positions("电子政务专网")
    assert poses == {"电子": [0], "子政": [1], "政务": [2], "务专": [3], "专网": [4]}


def test_counts_are_occurrences():
    assert token_counts("政务，政务政务") == {"政务": 3, "务政": 1}
    assert token_counts("a号b") == {"a": 1, "号": 1, "b": 1}  # one position, counted once


def test_punctuation_is_a_boundary_and_spaces_are_not():
    poses = token_positions("电子。政务")
    assert "子政" not in poses
    poses = token_positions("电子 政\n务")
    assert {"电子", "子政", "政务"} <= set(poses)
    assert poses["子政"] == [1]


def test_ascii_words_are_whole_lowercased_tokens():
    poses = token_positions("Windows XP，IE6 ２０１１")
    assert {"windows", "xp", "ie6", "2011"} <= set(poses)
    assert "win" not in poses and "20" not in poses


def test_unigram_next_to_word_allows_mixed_phrases():
    poses = token_positions("梅政办发108号")
    assert poses["发"] == [3] and poses["108"] == [4] and poses["号"] == [5]
    assert query_tokens(["108", "号"]) == ["108", "号"]
    assert query_tokens(["发", "108", "号", "县"]) == ["发", "108", "号县"]
    assert query_tokens(["电", "子", "108"]) == ["电子", "子", "108"]


def test_query_tokens_one_per_position():
    assert query_tokens(list("电子政务专网")) == ["电子", "子政", "政务", "务专", "专网"]
    assert query_tokens(["政"]) == ["政"]
    assert query_tokens(["2011"]) == ["2011"]


def test_several_values_never_join():
    poses = token_positions(["电子", "政务"])
    assert "子政" not in poses


def test_nfkc_and_case_folding():
    assert canonical("ＡＢＣ１２３") == canonical("abc123")
    assert canonical("（电子）") == canonical("(电子)")
    assert segments("“电子　政务”") == [["电", "子", "政", "务"]]


def test_canonical_is_the_substring_model():
    text = "县人社局 2011年11月。电子政务专网"
    assert canonical_segment(["2011", "年"]) in canonical(text)
    assert canonical_segment(["201"]) not in canonical(text)
    assert canonical_segment(list("年11")) not in canonical(text)  # 11 is a word
    assert canonical_segment(["11", "月"]) in canonical(text)
    assert canonical_segment(list("月电")) not in canonical(text)  # 。 in between


def test_emoji_and_symbols_are_dropped():
    assert segments("😀电子👍政务") == [["电", "子"], ["政", "务"]]
    assert segments("★☆※") == []


def test_units_point_back_at_original_text():
    text = "Ａ１ 电子，政务"
    us = units(text)
    assert [(u.kind, u.text, text[u.start : u.end]) for u in us] == [
        ("w", "a1", "Ａ１"),
        ("c", "电", "电"),
        ("c", "子", "子"),
        ("b", ",", "，"),
        ("c", "政", "政"),
        ("c", "务", "务"),
    ]


def test_number_key_unifies_brackets_and_spaces():
    want = "梅政办发(2011)108号"
    for typed in ["梅政办发〔2011〕108号", "梅政办发(2011)108号", "梅政办发[2011]108号",
                  "梅政办发（2011）108号", "梅政办发【2011】108号", " 梅政办发 〔2011〕 108 号"]:  # fmt: skip
        assert number_key(typed) == want


PIECES = ["电", "子", "政", "务", "电子", "政务", "a", "b1", "2011", "号", "Ａ"]
SEPS = ["", "", "", " ", "\n", "。", "(", "、"]


@settings(max_examples=500, deadline=None)
@given(
    doc=st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPS)), max_size=25),
    query=st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(["", "", " "])), min_size=1, max_size=5),
)
def test_query_tokens_never_miss_and_one_token_is_exact(doc, query):
    """What an engine relies on: the terms of a segment are a superset filter,
    and exactly the matches when the segment is a single token."""
    text = "".join(p + s for p, s in doc)
    counts = token_counts(text)
    for seg in segments("".join(p + s for p, s in query)):
        if len(seg) == 1 and is_cjk(seg[0]):
            continue  # single characters are checked against the text itself
        matches = canonical_segment(seg) in canonical(text)
        tokens = query_tokens(seg)
        present = all(t in counts for t in tokens)
        if matches:
            assert present, (text, seg)
        if len(tokens) == 1:
            assert present == matches, (text, seg)


_ALPHABET = st.one_of(
    st.sampled_from(list("电子政务专网号年县々〇ａＡ１２_·、，。（）()【】“”\u3000 \n\t\x01\x02aZ9") + ["\U00020000", "\u4dbf", "\u9fff"]),
    st.characters(),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.text(_ALPHABET, max_size=30), min_size=1, max_size=3))
def test_fast_paths_equal_the_unit_stream(texts):
    """``token_counts`` and ``canonical`` (the indexing hot path) equal their references."""
    expected = {tok: len(ps) for tok, ps in token_positions(texts).items()}
    assert dict(token_counts(texts)) == expected
    for t in texts:
        assert canonical(t) == canonical_units(t)

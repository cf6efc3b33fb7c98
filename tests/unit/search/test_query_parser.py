"""The public query language: plain terms (AND) and quoted phrases, nothing else."""

from __future__ import annotations

from search.query import (
    MAX_QUERY_CHARS,
    MSG_EMPTY,
    MSG_NOTHING_SEARCHABLE,
    MSG_OPERATORS,
    MSG_TOO_LONG,
    parse,
)


def segs(text: str) -> list[str]:
    return ["".join(s) if all(len(u) == 1 for u in s) else "|".join(s) for s in parse(text).segments]


def test_terms_and_phrases():
    assert segs("电子政务 专网") == ["电子政务", "专网"]
    assert segs('"电子 政务" 专网') == ["电子政务", "专网"]
    assert segs("“协同办公”") == ["协同办公"]
    assert segs('"hello world"') == ["hello|world"]


def test_unbalanced_quotes_and_brackets():
    assert segs('"电子政务') == ["电子政务"]
    assert segs('电子"政务') == ["电子", "政务"]
    assert segs("((电子政务]") == ["电子政务"]
    assert segs('"""') == []


def test_engine_syntax_is_not_exposed():
    assert segs("title:电子 专网* 政?务") == ["title", "电子", "专网", "政", "务"]
    p = parse("电子 OR 政务 AND NOT 专网")
    assert segs("电子 OR 政务 AND NOT 专网") == ["电子", "政务", "专网"]
    assert p.messages == (MSG_OPERATORS,)
    assert segs("or and not") == ["or", "and", "not"]  # lower case: ordinary words


def test_empty_and_unsearchable_input():
    for text in ["", "   ", "\x00\x01", None, "\u200b"]:
        p = parse(text)
        assert p.blank and p.messages == (MSG_EMPTY,) and not p.segments
    for text in ["😀", "★※", "***", ":::", "()"]:
        p = parse(text)
        assert not p.blank and p.is_empty and p.messages == (MSG_NOTHING_SEARCHABLE,)


def test_long_input_is_capped_with_a_message():
    p = parse("电" * 1000)
    assert p.messages == (MSG_TOO_LONG,)
    assert len(p.segments[0]) == MAX_QUERY_CHARS


def test_control_characters_are_removed():
    assert segs("电子\x00政务\x1b[0m") == ["电子政务", "0m"]
    assert segs("电子\t政务") == ["电子", "政务"]


def test_duplicate_segments_are_merged():
    assert segs("政务 政务 政务") == ["政务"]


def test_number_key_of_the_whole_input():
    assert parse("梅政办发〔2011〕108号").number_key == "梅政办发(2011)108号"
    assert parse('"梅政办发[2011]108号"').number_key == "梅政办发(2011)108号"
    assert parse("😀").number_key is None

"""portal.facets.bounded: which entries of a long facet are shown and which wait behind "更多"."""
from __future__ import annotations

from portal.facets import Entry, bounded, in_sequence, newest_first


def entries(counts: dict[str, int], active: str | None = None) -> list[Entry]:
    return [Entry(label, f"?v={label}", n, label == active) for label, n in counts.items()]


def labels(items: list[Entry]) -> list[str]:
    return [e.label for e in items]


PLAN = [f"单位{i:02d}" for i in range(14)]  # the facet's own order


def test_a_short_facet_is_shown_whole_in_its_order() -> None:
    facet = bounded("unit", "单位", entries({"单位03": 1, "单位01": 5, "单位02": 0}), in_sequence(PLAN), limit=3)
    assert labels(facet.shown) == ["单位01", "单位02", "单位03"] and facet.more == []


def test_the_most_counted_are_shown_in_the_facets_order_and_the_rest_follow_in_it_too() -> None:
    counts = {label: (i * 7) % 5 + 1 for i, label in enumerate(reversed(PLAN))}  # given by count, not plan
    facet = bounded("unit", "单位", entries(counts), in_sequence(PLAN), limit=10)
    top = sorted(PLAN, key=lambda u: (-counts[u], PLAN.index(u)))[:10]
    assert labels(facet.shown) == [u for u in PLAN if u in top]
    assert labels(facet.more) == [u for u in PLAN if u not in top]
    assert facet.entries == facet.shown + facet.more


def test_the_active_entry_is_always_shown() -> None:
    counts = {label: 10 - i if i < 10 else 1 for i, label in enumerate(PLAN)}
    facet = bounded("unit", "单位", entries(counts, active="单位13"), in_sequence(PLAN), limit=10)
    assert labels(facet.shown) == PLAN[:10] + ["单位13"]
    assert labels(facet.more) == PLAN[10:13]
    assert [e.label for e in facet.shown if e.active] == ["单位13"]


def test_entries_without_results_wait_behind_more() -> None:
    """The 主题分类 of the 信息公开目录 offers every class, most with no document yet."""
    counts = {label: (3 if label in ("单位05", "单位02") else 0) for label in PLAN}
    facet = bounded("subject", "主题分类", entries(counts), in_sequence(PLAN), limit=10)
    assert labels(facet.shown) == ["单位02", "单位05"]
    assert labels(facet.more) == [u for u in PLAN if u not in ("单位02", "单位05")]


def test_unknown_values_go_last_and_years_newest_first() -> None:
    facet = bounded("unit", "单位", entries({"已撤销的单位": 9, "单位01": 1}), in_sequence(PLAN))
    assert labels(facet.shown) == ["单位01", "已撤销的单位"]
    years = bounded("year", "年度", entries({"2019": 1, "2024": 1, "2021": 7}), newest_first)
    assert labels(years.shown) == ["2024", "2021", "2019"]

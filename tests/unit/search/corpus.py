"""A reproducible test corpus built from the sentences of the county plan.

The sentences come from ``county_plan.txt`` (the 黄梅县电子政务专网建设实施方案,
whose punctuation was flattened to ``.``).  Documents mix random sentences
with assorted separators (Chinese/ASCII punctuation, spaces, line breaks, no
separator at all) so that matches across separators are exercised; some get
full-width digits or capitalised ASCII to exercise NFKC/lower-casing.

:func:`oracle_ids` is the reference answer: a plain scan over the documents
using :func:`search.analysis.canonical` (the documented matching model),
with the permission and validity rules applied in Python.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

from search import SearchQuery, WhooshBackend
from search.analysis import canonical, canonical_segment
from search.backend import EVERYONE, SEARCHABLE_FIELDS
from search.query import parse

FIXTURE = Path(__file__).with_name("county_plan.txt")
NOW = datetime(2012, 6, 1, 12, 0)
UNITS = {
    "zfb": "县政府办公室", "fgw": "县发展和改革局", "jyj": "县教育局", "wjw": "县卫生健康局",
    "czj": "县财政局", "gaj": "县公安局", "rsj": "县人力资源和社会保障局", "nyj": "县农业农村局",
}  # fmt: skip
TYPES = ["通知", "公告", "意见", "报告"]
SUBJECTS = ["综合政务", "财政金融", "教育", "卫生"]
SEPARATORS = ["。", "，", ".", "；", " ", "\n", "", "、", "（", "）"]
BRACKETS = [("〔", "〕"), ("(", ")"), ("[", "]"), ("（", "）"), ("【", "】")]


def sentences() -> list[str]:
    text = FIXTURE.read_text("utf-8")
    return [s.strip() for s in text.split(".") if s.strip()]


def make_corpus(n: int = 300, seed: int = 20111028) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    sents = sentences()
    docs = []
    for i in range(n):
        unit = rng.choice(sorted(UNITS))
        published = datetime(2010, 1, 1) + timedelta(days=rng.randrange(4 * 365), hours=rng.randrange(24))
        parts = rng.sample(sents, rng.randint(3, 12))
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(SEPARATORS) + p
        if rng.random() < 0.15:
            text = text.replace("2011", "２０１１").replace("windows", "Windows")
        doc: dict[str, Any] = {
            "id": f"doc-{i:04d}",
            "path": f"/xxgk/{unit}/{i:04d}" if i % 5 else f"/news/{unit}/{i:04d}",
            "title": rng.choice(sents)[:30],
            "text": text,
            "unit": unit,
            "unit_title": UNITS[unit],
            "type": rng.choice(TYPES),
            "subject": rng.choice(SUBJECTS),
            "genre": rng.choice(["决定", "通知", "函"]),
            "published": published,
            "modified": published + timedelta(days=1),
            "state": "published",
            "allowed": [EVERYONE],
        }
        r = rng.random()
        if r < 0.08:
            doc["allowed"] = ["group:staff"]
        elif r < 0.12:
            doc["allowed"] = ["user:alice", "group:editors"]
        r = rng.random()
        if r < 0.08:
            doc["effective"] = NOW + timedelta(days=rng.randint(1, 30))
        elif r < 0.16:
            doc["expires"] = NOW - timedelta(days=rng.randint(0, 30))
        elif r < 0.2:
            doc["effective"] = NOW - timedelta(days=3)
            doc["expires"] = NOW + timedelta(days=3)
        if i % 3 == 0:
            o, c = rng.choice(BRACKETS)
            doc["doc_number"] = f"梅{unit}发{o}{published.year}{c}{i}号"
            doc["index_number"] = f"0112-{published.year}-{i:05d}"
        docs.append(doc)
    return docs


def visible(doc: dict[str, Any], principals: Sequence[str] = (EVERYONE,), now: datetime = NOW) -> bool:
    """The rule: allowed ∩ principals; the date window binds only the Everyone grant."""
    granted = set(doc.get("allowed") or ()) & set(principals)
    if not granted:
        return False
    if granted - {EVERYONE}:
        return True
    eff, exp = doc.get("effective"), doc.get("expires")
    return (eff is None or eff <= now) and (exp is None or now < exp)


def text_matches(doc: dict[str, Any], text: str) -> bool:
    parsed = parse(text)
    fields = [canonical(v) for name in SEARCHABLE_FIELDS if (v := doc.get(name))]
    return bool(parsed.segments) and all(
        any(canonical_segment(list(seg)) in f for f in fields) for seg in parsed.segments
    )


def oracle_ids(
    docs: Iterable[dict[str, Any]],
    text: str,
    principals: Sequence[str] = (EVERYONE,),
    now: datetime = NOW,
) -> set[str]:
    return {d["id"] for d in docs if visible(d, principals, now) and text_matches(d, text)}


def all_ids(backend: WhooshBackend, text: str, **kw: Any) -> tuple[int, list[str]]:
    """Total and every hit id, walking all pages (100 per page)."""
    kw.setdefault("now", NOW)
    kw.setdefault("principals", (EVERYONE,))
    ids: list[str] = []
    page = 1
    while True:
        r = backend.query(SearchQuery(text=text, page=page, page_size=100, **kw))
        ids.extend(h.id for h in r.hits)
        if len(r.hits) < 100:
            return r.total, ids
        page += 1

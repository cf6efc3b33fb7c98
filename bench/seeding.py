"""N published items spread over a portal's units as a county's would be, inserted in bulk SQL.

`bench/pages.py` seeds its throwaway portal with this after `portal init` and `portal demo`, then
runs `portal reindex`. The items are a mix of the three kinds a county publishes:

* News (新闻) in the units' 新闻动态 (xwdt) and 通知公告 (tzgg) columns,
* Disclosure (政府信息公开 documents, with their 索引号) in 政府信息公开 (xxgk) and 政策文件 (zcwj),
* Page in 通知公告 and 新闻动态 (guides, notices),

over ALL units (every unit gets at least one item when N >= the number of units) but skewed as a
real county is: unit k of the ranking (黄梅镇 and 县政府办 first, the demo's units, then the others in
a seeded order) weighs 1/k^1.2, and inside a unit 新闻动态 weighs 40%, 政府信息公开 30%, 政策文件 and
通知公告 15% each. The top five units hold ~55% of the items, 黄梅镇's 新闻动态 alone ~11%.

Rows are what `portal.content.create` + submit + publish leave, minus the events' side work
(search outbox: `portal reindex` follows; the disclosure-catalogue export's change marker, so no
export regeneration runs during a benchmark): the `nodes` row and the type's row (every NOT NULL
column), a URL name from the title's pinyin unique in its column, path, position after the
column's last, a UID, version 3, created < published (naive UTC), revision 1 (kind "edit", the
fields as `dump_fields` has them) and the submit and publish workflow events; disclosures get
their publisher (the unit's full name) and a 索引号 `<org code>/<year>-<serial>` taken from
`disclosure_serials`, which is advanced past them, so documents created afterwards continue the
sequence. Items are made in date order, so ids, positions and serials grow with the date.
About 2% are expired and 1% not yet effective, as in a live portal.

    .venv/bin/python bench/seeding.py INI_OR_DB --items 100000 [--seed 2011]
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, select, update

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from content_types.disclosure import GENRES, SUBJECTS, Disclosure, DisclosureSerial  # noqa: E402
from content_types.folder import Folder  # noqa: E402
from content_types.news import News  # noqa: E402
from content_types.page import Page  # noqa: E402
from portal.models import Node, Revision, Unit, WorkflowEvent  # noqa: E402
from portal.slugs import slugify  # noqa: E402

PLAN_TEXT = ROOT / "content_types" / "data" / "county_plan.txt"
BUSIEST = ("黄梅镇", "县政府办")  # the demo's units: its editor's, and the one of its disclosure and news
ZIPF = 1.2
# column name -> (weight inside the unit, (type, share) of its items)
COLUMNS: dict[str, tuple[float, tuple[tuple[str, float], ...]]] = {
    "xwdt": (0.40, (("News", 0.9), ("Page", 0.1))),
    "xxgk": (0.30, (("Disclosure", 1.0),)),
    "zcwj": (0.15, (("Disclosure", 1.0),)),
    "tzgg": (0.15, (("News", 0.6), ("Page", 0.4))),
}
KINDS = {"xwdt": "动态", "tzgg": "通知公告", "zcwj": "政策文件", "xxgk": "信息公开"}
MODELS = {"Disclosure": Disclosure, "News": News, "Page": Page}
YEARS = 12  # items published over the last twelve years
BATCH = 2000
LOCAL = dt.timedelta(hours=8)  # China time, for the 索引号's year and 成文日期


@dataclass
class Column:
    id: int
    path: str
    name: str
    unit_title: str
    unit_full_name: str
    org_code: str
    weight: float
    types: tuple[tuple[str, float], ...]
    next_position: int = 0
    names: set[str] = field(default_factory=set)
    count: int = 0


@dataclass
class Seeded:
    items: int
    first_id: int  # ids below are the demo's and the set-up's
    by_type: dict[str, int]
    busiest: list[tuple[str, int]]  # (column path, items), most first
    top5_units_share: float
    least_unit: int  # items in the unit that got fewest
    seconds: float


def sentences() -> list[str]:
    text = PLAN_TEXT.read_text("utf-8").split("\n", 1)[-1]
    return [s.strip() for s in text.replace("。", ".").split(".") if len(s.strip()) >= 6]


class Writer:
    """Titles and bodies made of the county plan's sentences."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sents = sentences()
        self.cjk = [s for s in self.sents if sum("\u4e00" <= c <= "\u9fff" for c in s) >= 8]

    def fragment(self, low: int = 8, high: int = 20) -> str:
        s = self.rng.choice(self.cjk)
        size = min(len(s), self.rng.randint(low, high))
        start = self.rng.randrange(len(s) - size + 1)
        return s[start:start + size]

    def title(self, type_name: str, unit: str) -> str:
        rng = self.rng
        if type_name == "Disclosure":
            return ("关于" + self.fragment() + rng.choice(("的通知", "的公告", "的意见", "的批复", "实施方案", "的报告",
                                                         "工作方案", "的通报")))
        if type_name == "News":
            return (unit if rng.random() < 0.5 else "") + self.fragment() + rng.choice(
                ("", "工作", "会议召开", "顺利完成", "取得实效", "工作推进会", "专题培训"))
        return self.fragment(6, 14) + rng.choice(("办事指南", "须知", "说明", "简介", "服务指南", "通知"))

    def body(self, low: int, high: int) -> str:
        rng = self.rng
        target, size, paragraphs, parts = rng.randint(low, high), 0, [], []
        while size < target:
            s = rng.choice(self.sents)
            parts.append(s + rng.choice("。，；。"))
            size += len(s.encode()) + 3
            if len(parts) >= 6 and rng.random() < 0.2:
                paragraphs.append("<p>" + "".join(parts) + "</p>")
                parts = []
        if parts:
            paragraphs.append("<p>" + "".join(parts) + "</p>")
        return "".join(paragraphs)


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def load_columns(conn: Any, rng: random.Random) -> tuple[list[Column], dict[int, list[Column]]]:
    """Every unit's standard columns with their weights (unit rank ** -ZIPF x the column's share)."""
    units = conn.execute(select(Unit.id, Unit.title, Unit.full_name, Unit.org_code, Unit.path)
                         .order_by(Unit.id)).all()
    if not units:
        raise SystemExit("no units: run `portal init` first")
    first = [u for name in BUSIEST for u in units if u.title == name]
    rest = [u for u in units if u not in first]
    rng.shuffle(rest)
    n, f = Node.__table__, Folder.__table__
    folders = conn.execute(select(n.c.id, n.c.parent_id, n.c.name, n.c.path, f.c.column_kind)
                           .join_from(n, f, n.c.id == f.c.id)
                           .where(n.c.parent_id.in_([u.id for u in units]))).all()
    by_parent: dict[int, list[Any]] = {}
    for f in folders:
        by_parent.setdefault(f.parent_id, []).append(f)
    columns: list[Column] = []
    per_unit: dict[int, list[Column]] = {}
    for rank, u in enumerate(first + rest, 1):
        found = []
        for name, (share, types) in COLUMNS.items():
            folder = next((f for f in by_parent.get(u.id, []) if f.name == name), None) or next(
                (f for f in by_parent.get(u.id, []) if f.column_kind == KINDS[name]), None)
            if folder is not None:
                found.append((folder, share, types))
        total = sum(share for _f, share, _t in found)
        mine = [Column(folder.id, folder.path, folder.name, u.title, u.full_name or u.title, u.org_code,
                       rank ** -ZIPF * share / total, types) for folder, share, types in found]
        columns += mine
        per_unit[u.id] = mine
    if not columns:
        raise SystemExit("the units have no standard columns (portal standard-columns)")
    ids = [c.id for c in columns]
    for parent_id, last in conn.execute(select(Node.parent_id, func.max(Node.position))
                                        .where(Node.parent_id.in_(ids)).group_by(Node.parent_id)):
        next(c for c in columns if c.id == parent_id).next_position = last + 1
    by_id = {c.id: c for c in columns}
    for parent_id, name in conn.execute(select(Node.parent_id, Node.name).where(Node.parent_id.in_(ids))):
        by_id[parent_id].names.add(name)
    return columns, per_unit


def plan(columns: list[Column], per_unit: dict[int, list[Column]], n: int, rng: random.Random,
         now: dt.datetime) -> list[tuple[dt.datetime, Column, str]]:
    """(published, column, type) of every item, in date order."""
    chosen: list[Column] = []
    units = [cols for cols in per_unit.values() if cols]
    if n >= len(units):  # every unit at least one item, in one of its columns by their weights
        for cols in units:
            chosen.append(rng.choices(cols, weights=[c.weight for c in cols])[0])
    cum = list(itertools.accumulate(c.weight for c in columns))
    chosen += rng.choices(columns, cum_weights=cum, k=n - len(chosen))
    span = YEARS * 365 * 24 * 3600
    out = []
    for column in chosen:
        when = now - dt.timedelta(seconds=rng.randrange(span))
        kinds, shares = zip(*column.types)
        out.append((when, column, rng.choices(kinds, weights=shares)[0]))
    out.sort(key=lambda x: x[0])
    return out


def populate(db: Path, n: int, seed: int, progress: bool = True) -> Seeded:
    """Insert N published items into the SQLite database `db` (see the module's docstring)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    writer = Writer(rng)
    engine = create_engine(f"sqlite:///{db}")

    @event.listens_for(engine, "connect")
    def fast(dbapi_connection: Any, _record: Any) -> None:  # a throwaway database: no fsync while seeding
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    by_type = {"Disclosure": 0, "News": 0, "Page": 0}
    with engine.begin() as conn:
        columns, per_unit = load_columns(conn, rng)
        items = plan(columns, per_unit, n, rng, now)
        first_id = (conn.scalar(select(func.max(Node.id))) or 0) + 1
        serials = {(s.org_code, s.year): s.last for s in conn.execute(select(DisclosureSerial))}
        known_serials = set(serials)
        slugs: dict[str, str] = {}
        nodes: list[dict[str, Any]] = []
        typed: dict[str, list[dict[str, Any]]] = {name: [] for name in MODELS}
        revisions: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(insert(Node.__table__), nodes)
            for name, rows in typed.items():
                if rows:
                    conn.execute(insert(MODELS[name].__table__), rows)
                    rows.clear()
            conn.execute(insert(Revision.__table__), revisions)
            conn.execute(insert(WorkflowEvent.__table__), events)
            nodes.clear()
            revisions.clear()
            events.clear()

        bar = tqdm_or_none(len(items)) if progress else None
        for i, (published, column, type_name) in enumerate(items):
            node_id = first_id + i
            title = writer.title(type_name, column.unit_title)
            base = slugs.get(title) or slugs.setdefault(title, slugify(title))
            name, k = base, 2
            while name in column.names:
                name, k = f"{base}-{k}", k + 1
            column.names.add(name)
            created = published - dt.timedelta(seconds=rng.randrange(600, 3 * 86400))
            submitted = created + dt.timedelta(seconds=rng.randrange(1, 300))
            owner = "hmz-editor" if column.unit_title == "黄梅镇" else "admin"
            effective = expires = None
            r = rng.random()
            if r < 0.02:
                expires = now - dt.timedelta(days=rng.randrange(1, 700))
            elif r < 0.03:
                effective = now + dt.timedelta(days=rng.randrange(1, 90))
            node = {"id": node_id, "uid": f"{rng.getrandbits(128):032x}", "type": type_name, "parent_id": column.id,
                    "name": name, "path": f"{column.path}{name}/", "position": column.next_position,
                    "title": title, "description": "", "owner": owner, "created": created, "modified": created,
                    "effective": effective, "expires": expires, "published": published, "state": "published",
                    "inherit_roles": True, "version": 3, "draft": None, "draft_by": None, "draft_at": None}
            column.next_position += 1
            column.count += 1
            if type_name == "Disclosure":
                year = (created + LOCAL).year
                key = (column.org_code, year)
                serials[key] = serials.get(key, 0) + 1
                r = rng.random()
                row = {"id": node_id, "index_number": f"{column.org_code}/{year}-{serials[key]:05d}",
                       "publisher": column.unit_full_name,
                       "doc_number": (f"梅{column.unit_title[:2]}发〔{year}〕{rng.randrange(1, 300)}号"
                                      if rng.random() < 0.4 else ""),
                       "written_date": (created + LOCAL - dt.timedelta(days=rng.randrange(0, 15))).date(),
                       "subject": rng.choice(SUBJECTS[1:]) if rng.random() < 0.7 else "综合政务",
                       "genre": rng.choice(GENRES), "disclosure_mode": "主动公开" if rng.random() < 0.95 else "依申请公开",
                       "validity": "有效" if r < 0.94 else "已修订" if r < 0.98 else "已废止", "superseded_by": "",
                       "keywords": " ".join(writer.fragment(2, 4) for _ in range(rng.randint(2, 4))),
                       "summary": writer.fragment(20, 60) + "。", "body": writer.body(1500, 4000), "attachments": None}
            elif type_name == "News":
                row = {"id": node_id, "body": writer.body(600, 2000), "source": column.unit_title, "lead_image": None}
            else:
                row = {"id": node_id, "body": writer.body(500, 1500)}
            typed[type_name].append(row)
            by_type[type_name] += 1
            nodes.append(node)
            data = {name: iso(node[name] if name in node else row[name]) for name in MODELS[type_name].fields}
            revisions.append({"node_id": node_id, "number": 1, "kind": "edit", "actor": owner, "at": created,
                              "comment": "", "data": data})
            events.append({"node_id": node_id, "transition": "submit", "from_state": "private",
                           "to_state": "pending", "actor": owner, "at": submitted, "comment": ""})
            events.append({"node_id": node_id, "transition": "publish", "from_state": "pending",
                           "to_state": "published", "actor": "shenhe", "at": published, "comment": ""})
            if len(nodes) >= BATCH:
                flush()
                if bar:
                    bar.update(BATCH)
        if nodes:
            if bar:
                bar.update(len(nodes))
            flush()
        if bar:
            bar.close()
        for key, last in serials.items():
            if key in known_serials:
                conn.execute(update(DisclosureSerial).where(DisclosureSerial.org_code == key[0],
                                                            DisclosureSerial.year == key[1]).values(last=last))
            else:
                conn.execute(insert(DisclosureSerial).values(org_code=key[0], year=key[1], last=last))
    engine.dispose()
    unit_counts: dict[str, int] = {}
    for c in columns:
        unit_counts[c.unit_title] = unit_counts.get(c.unit_title, 0) + c.count
    top5 = sum(sorted(unit_counts.values(), reverse=True)[:5])
    return Seeded(n, first_id, by_type, sorted(((c.path, c.count) for c in columns), key=lambda x: -x[1]),
                  top5 / n if n else 0.0, min(unit_counts.values()), time.perf_counter() - t0)


def tqdm_or_none(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="seed", unit="item", file=sys.stderr)


def describe(s: Seeded) -> str:
    busiest = ", ".join(f"{path} {n:,}" for path, n in s.busiest[:5])
    types = ", ".join(f"{k} {v:,}" for k, v in s.by_type.items())
    return (f"seeded {s.items:,} published items in {s.seconds:.1f} s ({types}); top 5 units hold "
            f"{s.top5_units_share:.0%}, the least busy unit {s.least_unit}; busiest columns: {busiest}")


def db_of(target: Path) -> Path:
    if target.suffix != ".ini":
        return target
    import configparser
    ini = configparser.RawConfigParser()
    ini.read(target, encoding="utf-8")
    url = ini["app:main"]["sqlalchemy.url"]
    if not url.startswith("sqlite:///"):
        raise SystemExit("bulk seeding writes SQLite databases only")
    return Path(url[len("sqlite:///"):])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", type=Path, help="the portal's .ini (SQLite) or its database file")
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2011)
    args = ap.parse_args(argv)
    print(describe(populate(db_of(args.target), args.items, args.seed)))


if __name__ == "__main__":
    main()


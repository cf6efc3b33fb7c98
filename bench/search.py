"""Benchmark the search engine layer on a synthetic disclosure corpus.

Builds N documents (default 100,000; ~1.5 KB of Chinese text each, ~70 units,
reproducible from ``--seed``) out of the sentences of the county plan, indexes
them through the real backend (``WhooshBackend.rebuild``), then measures
query latency for 1-3 word queries (plain, with four facets, with a unit
filter) and runs the same queries against SQLite FTS5 (trigram tokenizer) over
the same corpus as a baseline.

    .venv/bin/python bench/search.py --docs 5000
    .venv/bin/python bench/search.py                 # 100,000 documents
    .venv/bin/python bench/search.py --docs 5000 --compare-writers

Modes: "plain" runs the queries for the first time (cold caches), "facets" and
"unit filter" run the same queries again (warm: the engine caches term and
phrase document sets per index segment), "facets, cold" runs new queries.

Caveat when reading the numbers: the corpus is built from ~370 sentences, so
its vocabulary is tiny and almost every query term occurs in 10-100% of the
documents.  That is a worst case for an inverted index (long posting lists);
real disclosure texts have far more selective terms.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import SearchQuery, WhooshBackend  # noqa: E402
from search.backend import EVERYONE  # noqa: E402

SEED_TEXT = ROOT / "tests" / "unit" / "search" / "county_plan.txt"
NOW = datetime(2025, 6, 1)
UNIT_WORDS = [
    "政府办", "发改局", "教育局", "科技局", "公安局", "民政局", "司法局", "财政局", "人社局", "自然资源局",
    "生态环境局", "住建局", "交通运输局", "水利湖泊局", "农业农村局", "商务局", "文旅局", "卫健委", "应急局",
    "审计局", "市场监管局", "统计局", "医保局", "林业局", "城管局", "信访局", "数据局", "供销社", "档案馆",
    "融媒体中心", "黄梅镇", "孔垅镇", "小池镇", "下新镇", "大河镇", "停前镇", "五祖镇", "濯港镇", "新开镇",
    "独山镇", "分路镇", "蔡山镇", "刘佐乡", "柳林乡", "杉木乡", "苦竹乡", "开发区", "龙感湖", "考古站",
    "气象局", "税务局", "烟草局", "邮政局", "电力公司", "水务公司", "人武部", "妇联", "团县委", "总工会",
    "残联", "红十字会", "科协", "工商联", "侨联", "法院", "检察院", "公积金中心", "住保中心", "公路局", "消防救援大队",
]  # fmt: skip
TYPES = ["通知", "公告", "意见", "报告", "决定", "批复", "通报", "规划"]
SUBJECTS = ["综合政务", "国民经济管理", "财政金融", "城乡建设", "农业水利", "教育", "卫生", "民政",
            "公安司法", "劳动人事", "商贸海关", "科技"]  # fmt: skip
FACETS = ("unit", "type", "subject", "year")


def sentences() -> list[str]:
    text = SEED_TEXT.read_text("utf-8")
    return [s.strip() for s in text.split(".") if s.strip()]


def gen_docs(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """N disclosure documents, identical for the same (n, seed)."""
    rng = random.Random(seed)
    sents = sentences()
    units = [f"u{k:02d}" for k in range(len(UNIT_WORDS))]
    for i in range(n):
        k = rng.randrange(len(units))
        published = datetime(2008, 1, 1) + timedelta(minutes=rng.randrange(17 * 365 * 24 * 60))
        parts: list[str] = []
        size = 0
        while size < 1500:
            s = rng.choice(sents)
            parts.append(s)
            size += len(s.encode()) + 3
        text = "".join(p + rng.choice("。，；。") for p in parts)
        doc: dict[str, Any] = {
            "id": f"d{i:07d}",
            "path": f"/xxgk/{units[k]}/{published.year}/{i}",
            "title": rng.choice(sents)[:28] + rng.choice(["的通知", "的公告", "的报告", "实施方案", ""]),
            "text": text,
            "unit": units[k],
            "unit_title": "黄梅县" + UNIT_WORDS[k],
            "type": rng.choice(TYPES),
            "subject": rng.choice(SUBJECTS),
            "published": published,
            "modified": published,
            "state": "published",
            "allowed": [EVERYONE] if rng.random() < 0.95 else ["group:staff"],
        }
        if rng.random() < 0.4:
            doc["doc_number"] = f"梅{UNIT_WORDS[k][:2]}发〔{published.year}〕{rng.randrange(1, 300)}号"
            doc["index_number"] = f"011{k:02d}-{published.year}-{i:06d}"
        r = rng.random()
        if r < 0.03:
            doc["expires"] = NOW - timedelta(days=rng.randrange(1, 900))
        elif r < 0.05:
            doc["effective"] = NOW + timedelta(days=rng.randrange(1, 90))
        yield doc


def make_queries(n: int, seed: int, fixed: bool = True) -> list[list[str]]:
    """1-3 word queries: CJK substrings (2-4 chars) of the seed sentences."""
    rng = random.Random(seed + 1)
    sents = [s for s in sentences() if len(s) >= 4 and all("\u4e00" <= c <= "\u9fff" for c in s)]
    given = [["电子政务专网"], ["便民服务中心"], ["协同办公"], ["电子政务", "专网"], ["信息", "安全", "管理"]]
    out = given[:n] if fixed else []
    while len(out) < n:
        words = []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            s = rng.choice(sents)
            ln = rng.randint(2, 4)
            st = rng.randrange(len(s) - ln + 1)
            words.append(s[st : st + ln])
        out.append(words)
    return out


# -- SQLite FTS5 baseline -------------------------------------------------------


def build_fts(path: Path, n: int, seed: int) -> float:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, text, unit UNINDEXED, type UNINDEXED,"
        " subject UNINDEXED, year UNINDEXED, published UNINDEXED, public UNINDEXED,"
        " effective UNINDEXED, expires UNINDEXED, tokenize='trigram')"
    )
    t0 = time.perf_counter()
    rows = (
        (d["title"], d["text"], d["unit"], d["type"], d["subject"], str(d["published"].year),
         d["published"].isoformat(), int(EVERYONE in d["allowed"]),
         d.get("effective") and d["effective"].isoformat(), d.get("expires") and d["expires"].isoformat())
        for d in tqdm(gen_docs(n, seed), total=n, desc="fts5 insert", unit="doc")
    )  # fmt: skip
    con.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()
    return time.perf_counter() - t0


class FtsSearcher:
    """The same questions as SearchQuery, in FTS5 SQL (visibility in the WHERE)."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path)

    def query(self, words: list[str], facets: bool, unit: str | None) -> int:
        long = [w for w in words if len(w) >= 3]
        short = [w for w in words if len(w) < 3]  # trigram cannot index these: scan
        where = ["public = 1", "(effective IS NULL OR effective <= ?)", "(expires IS NULL OR expires > ?)"]
        args: list[Any] = [NOW.isoformat(), NOW.isoformat()]
        if long:
            where.insert(0, "docs MATCH ?")
            args.insert(0, " AND ".join('"%s"' % w for w in long))
        for w in short:
            where.append("(instr(title, ?) > 0 OR instr(text, ?) > 0)")
            args += [w, w]
        if unit:
            where.append("unit = ?")
            args.append(unit)
        cond = " AND ".join(where)
        order = "ORDER BY rank" if long else "ORDER BY published DESC"
        self.con.execute(
            f"SELECT rowid, highlight(docs, 0, '<mark>', '</mark>'),"
            f" snippet(docs, 1, '<mark>', '</mark>', '…', 30) FROM docs WHERE {cond} {order} LIMIT 10",
            args,
        ).fetchall()
        total = self.con.execute(f"SELECT count(*) FROM docs WHERE {cond}", args).fetchone()[0]
        if facets:
            for f in FACETS:
                self.con.execute(f"SELECT {f}, count(*) FROM docs WHERE {cond} GROUP BY {f}", args).fetchall()
        return total


# -- measuring ----------------------------------------------------------------


def percentiles(ms: list[float]) -> tuple[float, float, float]:
    qs = statistics.quantiles(ms, n=100, method="inclusive")
    return qs[49], qs[94], qs[98]


def timed(fn: Callable[[], Any], runs: list[float]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    runs.append((time.perf_counter() - t0) * 1000)
    return out


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def rss_split() -> str:
    """Current resident memory: private (anon) vs file pages (the index's mmapped segments,
    shared with every process that opens the index and given back under memory pressure)."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        return "n/a"
    kb = {k: int(fields[k].split()[0]) for k in ("RssAnon", "RssFile") if k in fields}
    return f"{kb.get('RssAnon', 0) / 1024:,.0f} MB private + {kb.get('RssFile', 0) / 1024:,.0f} MB mapped index files"


def _timed_build(n: int, seed: int, d: Path, procs: int, limitmb: int, out: Any) -> None:
    b = WhooshBackend(d, procs=procs, limitmb=limitmb)
    t0 = time.perf_counter()
    b.rebuild(gen_docs(n, seed))
    out.put((time.perf_counter() - t0, rss_mb(), rss_mb(resource.RUSAGE_CHILDREN)))


def compare_writers(n: int, seed: int, workdir: Path) -> None:
    """Each setting in a fresh process, so memory figures do not mix."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    print(f"\nwriter settings on {n} docs (each in its own process):")
    for procs, limitmb in [(1, 128), (1, 256), (1, 512), (2, 128), (2, 256)]:
        d = workdir / f"cmp-{procs}-{limitmb}"
        q = ctx.Queue()
        p = ctx.Process(target=_timed_build, args=(n, seed, d, procs, limitmb, q))
        p.start()
        dt, rss, rss_children = q.get()
        p.join()
        print(f"  procs={procs} limitmb={limitmb:4d}: {n / dt:7.1f} docs/s ({dt:6.1f} s)"
              f"  peak RSS {rss:5.0f} MB, writer processes {rss_children:5.0f} MB")  # fmt: skip
        shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2011)
    ap.add_argument("--queries", type=int, default=60, help="queries per mode")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--limitmb", type=int, default=256)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the indexes")
    ap.add_argument("--compare-writers", action="store_true", help="also time writer settings")
    ap.add_argument("--no-fts", action="store_true", help="skip the SQLite FTS5 baseline")
    args = ap.parse_args(argv)

    workdir = args.dir or Path(tempfile.mkdtemp(prefix="search-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    n = args.docs
    sample = list(gen_docs(min(n, 2000), args.seed))
    avg_kb = statistics.mean(len(d["text"].encode()) for d in sample) / 1024
    print(f"corpus: {n} docs, ~{avg_kb:.2f} KB text each, {len(UNIT_WORDS)} units, seed {args.seed}")
    print(f"work dir: {workdir}")

    backend = WhooshBackend(workdir / "whoosh", procs=args.procs, limitmb=args.limitmb)
    with tqdm(total=n, desc="whoosh rebuild", unit="doc") as bar:
        t0 = time.perf_counter()
        backend.rebuild(gen_docs(n, args.seed), progress=bar.update)
        build_s = time.perf_counter() - t0
    size = backend.index_size()
    rss_build = rss_mb()
    rss_children = rss_mb(resource.RUSAGE_CHILDREN)

    queries = make_queries(args.queries, args.seed)
    fresh = make_queries(args.queries, args.seed + 100, fixed=False)  # never run before: cold
    units = [f"u{k:02d}" for k in range(len(UNIT_WORDS))]
    rng = random.Random(args.seed + 2)
    unit_for = [rng.choice(units) for _ in queries]
    # (facets, unit filter, queries): plain runs the queries first (cold caches), facets and unit
    # filter run them again (warm: per-segment term and phrase sets are cached); "facets, cold"
    # runs queries never seen before, with facets.
    modes = {
        "plain": (False, False, queries),
        "facets": (True, False, queries),
        "unit filter": (False, True, queries),
        "facets, cold": (True, False, fresh),
    }

    w_ms: dict[str, list[float]] = {m: [] for m in modes}
    totals: dict[str, list[int]] = {m: [] for m in modes}
    backend.query(SearchQuery(text="预热", now=NOW))  # open the searcher once
    for mode, (facets, filt, qs) in modes.items():
        for words, unit in tqdm(list(zip(qs, unit_for)), desc=f"whoosh {mode}", unit="q"):
            q = SearchQuery(
                text=" ".join(words), now=NOW, facets=FACETS if facets else (),
                filters={"unit": [unit]} if filt else {},
            )  # fmt: skip
            r = timed(lambda: backend.query(q), w_ms[mode])
            totals[mode].append(r.total)
    rss_query = rss_mb()
    rss_query_split = rss_split()

    f_ms: dict[str, list[float]] = {m: [] for m in modes}
    fts_build_s = fts_size = 0.0
    if not args.no_fts:
        fts_path = workdir / "fts5.sqlite"
        fts_path.unlink(missing_ok=True)
        fts_build_s = build_fts(fts_path, n, args.seed)
        fts_size = fts_path.stat().st_size
        fts = FtsSearcher(fts_path)
        fts.query(["预热"], False, None)
        for mode, (facets, filt, qs) in modes.items():
            for i, (words, unit) in enumerate(tqdm(list(zip(qs, unit_for)), desc=f"fts5 {mode}", unit="q")):
                total = timed(lambda: fts.query(words, facets, unit if filt else None), f_ms[mode])
                if mode == "plain" and total != totals[mode][i]:
                    totals.setdefault("fts_mismatch", []).append(i)

    print("\n=== results ===")
    print(f"whoosh bulk index: {n / build_s:,.0f} docs/s ({build_s:,.1f} s, procs={args.procs}, limitmb={args.limitmb})")
    print(f"whoosh index size: {size / 1e6:,.1f} MB ({size / n:,.0f} bytes/doc)")
    print(f"peak RSS: {rss_build:,.0f} MB after build (writer processes: {rss_children:,.0f} MB),"
          f" {rss_query:,.0f} MB after queries ({rss_query_split})")  # fmt: skip
    if not args.no_fts:
        print(f"fts5 trigram: build {n / fts_build_s:,.0f} docs/s ({fts_build_s:,.1f} s), size {fts_size / 1e6:,.1f} MB,"
              f" peak RSS now {rss_mb():,.0f} MB")  # fmt: skip
    print(f"\nquery latency in ms ({len(queries)} queries of 1-3 words per mode, 10 hits + highlights;"
          " plain = first run of the queries, facets and unit filter = the same queries again,"
          " facets, cold = new queries)")  # fmt: skip
    head = f"{'mode':<13} {'whoosh p50':>10} {'p95':>8} {'p99':>8}"
    if not args.no_fts:
        head += f" | {'fts5 p50':>9} {'p95':>8} {'p99':>8} | {'ratio p50':>9} {'p95':>6} {'p99':>6}"
    print(head + f" | {'avg hits':>9}")
    for mode in modes:
        w = percentiles(w_ms[mode])
        line = f"{mode:<13} {w[0]:10.1f} {w[1]:8.1f} {w[2]:8.1f}"
        if not args.no_fts:
            f = percentiles(f_ms[mode])
            line += f" | {f[0]:9.1f} {f[1]:8.1f} {f[2]:8.1f} | {w[0] / f[0]:9.2f} {w[1] / f[1]:6.2f} {w[2] / f[2]:6.2f}"
        print(line + f" | {statistics.mean(totals[mode]):9,.0f}")
    if not args.no_fts:
        print("(ratio = whoosh / fts5; > 1 means whoosh is slower)")
        mism = totals.get("fts_mismatch", [])
        print(f"hit counts equal to fts5 for {len(queries) - len(mism)}/{len(queries)} plain queries"
              " (whoosh also matches 文号/索引号, FTS5 only title and text)")  # fmt: skip
    backend.close()
    if args.compare_writers:
        compare_writers(min(n, 5000), args.seed, workdir)
    if not args.keep and args.dir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

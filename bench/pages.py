"""Page speed against a bare Pyramid app, measured side by side in one run, at one or more sizes.

For each `--docs N` the script makes a throwaway portal of its own (SQLite; `portal init`, the demo)
and seeds it with N more published items as a county has them (`bench/seeding.py`: disclosures,
news and pages over all 83 units, most of them in a few busy columns -- 黄梅镇's 新闻动态 holds
~11%), then `portal reindex`. It serves it as in production (production.ini's settings: templates
not reloaded, its waitress threads (16), logging at WARN), and beside it a bare Pyramid "hello world" on
the same waitress with the same threads, each in a process of its own. For every page the issue
"Fast pages at any size" names -- an item of each type (disclosure, news, page: the demo's, in busy
columns), home, the busiest unit's home, the busiest column's listing, /@@xxgk and its deepest page,
/@@datasets, search -- anonymously and as the demo's editor of 黄梅镇 (a session cookie from the
login form), it measures `--rounds` times (default 3) interleaved with hello (hello, page, hello,
page, hello, page):

* throughput under `wrk -t2 -c16 -d<secs>s --latency --timeout 30s` (Debian's wrk: `apt-get install
  wrk`), or where wrk is missing the same shape from `bench/loadgen.py` (two processes of eight
  keep-alive connections); requests/s, p50 and p99 latency;
* one request alone: sequential requests on one keep-alive connection (`--single` in all, spread
  over the rounds) -- the page as the cache keeps it, anonymous or (per session) the editor's;
* one request rendered: the same with a query parameter of its own on every request, which the
  page cache has never seen, so that the page is rendered each time (a first visit after a change);

and prints the medians over the rounds as Markdown tables: one per size, with each page's req/s as
a ratio to the median of the hello runs interleaved with it, then a growth table (the one-request
times, kept and rendered, at each size and large/small) and the peak memory (VmHWM) of the portal's process per size.

    .venv/bin/python bench/pages.py --docs 1000
    .venv/bin/python bench/pages.py --docs 1000 --docs 100000 --secs 3      # growth
    .venv/bin/python bench/pages.py --docs 1000 --secs 2 --only home /@@xxgk --anonymous-only

The issue's aim: no page's one-request time grows by more than 2x from 1,000 to 100,000 items.
"""
from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime as dt
import http.client
import http.cookiejar
import importlib.util
import itertools
import math
import platform
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def production_threads() -> int:
    """production.ini's waitress threads, which the portal and hello both get."""
    ini = configparser.RawConfigParser()
    ini.read(ROOT / "production.ini", encoding="utf-8")
    return ini.getint("server:main", "threads")


THREADS = production_threads()
WRK_THREADS, WRK_CONNECTIONS, TIMEOUT_S = 2, 16, 30
NAN = float("nan")
BUST = itertools.count()  # a new query parameter per rendered request (one_request_times)
EDITOR = ("hmz-editor", "editor-demo-2026")  # the demo's editor of 黄梅镇
SEARCH_WORDS = "政务公开"

HELLO = """
import logging
from pyramid.config import Configurator
from pyramid.response import Response
from waitress import serve

def hello(request):
    return Response("Hello World!")

with Configurator() as config:
    config.add_route("hello", "/")
    config.add_view(hello, route_name="hello")
    app = config.make_wsgi_app()
logging.basicConfig(level=logging.ERROR)  # waitress warns of every queued task under load
serve(app, listen="127.0.0.1:{port}", threads={threads}, _quiet=True)
"""


def load_module(name: str):
    """A sibling script of bench/ as a module (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def log(*parts: Any) -> None:
    """Progress, on stderr (the tables go to stdout)."""
    print(*parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_ini(work: Path, port: int) -> Path:
    """production.ini with this run's database, directories and port, a real secret, cookies over
    plain HTTP (loopback), no second factor for the demo editor, a cheap argon2, logging at WARN."""
    ini = configparser.RawConfigParser()
    ini.optionxform = str  # keep the keys' case
    ini.read(ROOT / "production.ini", encoding="utf-8")
    ini["app:main"].update({
        "sqlalchemy.url": f"sqlite:///{work / 'portal.db'}",
        "portal.session_secret": "bench-secret-" + "x" * 40,
        "portal.secure_cookies": "false",
        "portal.require_second_factor": "false",
        "portal.blobs_dir": str(work / "blobs"),
        "search.index_dir": str(work / "index"),
        "portal.argon2_time_cost": "1",
        "portal.argon2_memory_cost": "1024",
        "portal.argon2_parallelism": "1",
    })
    ini["server:main"]["listen"] = f"127.0.0.1:{port}"
    ini["server:main"]["threads"] = str(THREADS)
    for section in ini.sections():
        if section.startswith("logger_"):
            ini[section]["level"] = "WARN"
    # waitress warns of every queued task under load, which is the point of the load
    ini["loggers"]["keys"] += ", waitress"
    ini["logger_waitress"] = {"level": "ERROR", "handlers": "", "qualname": "waitress"}
    path = work / "bench.ini"
    with path.open("w", encoding="utf-8") as f:
        ini.write(f)
    return path


def portal(ini: Path, *args: str) -> float:
    """Run a `portal` command; its seconds."""
    t0 = time.perf_counter()
    done = subprocess.run([str(BIN / "portal"), "-c", str(ini), *args], check=False, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"portal {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def wait_for(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before serving")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within 120 s")


@contextlib.contextmanager
def serving(cmd: list[str], port: int, what: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for(port, proc, what)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def editor_cookie(port: int, login: str, password: str) -> str:
    """Log in through the form as a browser does; the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    page = opener.open(base + "/@@login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no csrf_token on the login page")
    data = urllib.parse.urlencode({"login": login, "password": password, "csrf_token": token.group(1)}).encode()
    opener.open(base + "/@@login", data)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if opener.open(base + "/@@my-items").status != 200:
        raise SystemExit(f"could not log in as {login}")
    return cookie


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def one_request_times(port: int, path: str, headers: dict[str, str], n: int,
                      budget_s: float, rendered: bool = False) -> tuple[list[float], int]:
    """Times (ms) of up to n sequential requests on one connection (at least 3, then stopping
    once `budget_s` is spent), and the last status. `rendered`: each request with a query
    parameter of its own (`_bench=k`, which no view reads), so the page cache never has it and
    the page is rendered every time (what a first visit after a change costs)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times: list[float] = []
    status, start = 0, time.perf_counter()
    try:
        for k in range(n):
            if k >= 3 and time.perf_counter() - start > budget_s:
                break
            t0 = time.perf_counter()
            conn.request("GET", f"{path}{'&' if '?' in path else '?'}_bench={next(BUST)}" if rendered else path,
                         headers=headers)
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - t0) * 1000)
            status = response.status
    finally:
        conn.close()
    return times, status


def settle(port: int, path: str, headers: dict[str, str]) -> None:
    """Wait for the answers still queued in the server when the load generator stopped (a slow
    page leaves up to 16 of them), so that the next measure has the machine to itself: a request
    sent now is answered after them."""
    for _ in range(5):
        with contextlib.suppress(OSError):  # (a timeout too: waitress still busy after 120 s)
            get(port, path, headers)
            break
    time.sleep(0.2)


# -- load ------------------------------------------------------------------------------------------

@dataclass
class Load:
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    bad: int  # answers not 2xx/3xx, and socket errors (timeouts included)


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip()).groups()
    return float(number) * UNITS_MS[unit]


def parse_wrk(out: str) -> Load:
    """Requests/s, the p50 and p99 of `--latency`'s distribution, non-2xx/3xx answers and errors."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    if done and int(done.group(1)) == 0:  # no answer within the run: no latency to speak of
        p50 = p99 = None
    return Load(rate, wrk_ms(p50.group(1)) if p50 else NAN, wrk_ms(p99.group(1)) if p99 else NAN,
                (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0))


class Loader:
    """`wrk -t2 -c16` when installed, else bench/loadgen.py's processes of the same shape."""

    def __init__(self, secs: int, force_python: bool = False) -> None:
        self.secs = secs
        self.wrk = None if force_python else shutil.which("wrk")
        self.loadgen = None if self.wrk else load_module("loadgen")

    @property
    def name(self) -> str:
        if self.wrk:
            return f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{self.secs}s --latency --timeout {TIMEOUT_S}s"
        return (f"bench/loadgen.py (Python; wrk is missing): {WRK_THREADS} processes x "
                f"{WRK_CONNECTIONS // WRK_THREADS} keep-alive connections, {self.secs} s")

    def __call__(self, port: int, path: str, headers: dict[str, str]) -> Load:
        url = f"http://127.0.0.1:{port}{path}"
        if self.wrk is None:
            r = self.loadgen.run(url, headers, self.secs, WRK_THREADS, WRK_CONNECTIONS, TIMEOUT_S)
            return Load(r.rate, r.p50_ms if r.requests else NAN, r.p99_ms if r.requests else NAN, r.bad + r.errors)
        cmd = [self.wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{self.secs}s", "--latency",
               "--timeout", f"{TIMEOUT_S}s"]
        for key, value in headers.items():
            cmd += ["-H", f"{key}: {value}"]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
        return parse_wrk(out)


def memory_mb(pid: int, field: str) -> float:
    """A field of /proc/PID/status in MB: VmHWM (peak resident set, which counts the pages of the
    search index that the process maps: the kernel's page cache, shared by every process reading
    the index) or RssAnon (the process's own memory now)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024


# -- the pages -------------------------------------------------------------------------------------

@dataclass
class Page:
    label: str
    path: str


def pages_of(db: Path, first_seeded: int, port: int) -> list[Page]:
    """The pages the issue names, found in this run's database (straight SQL: no app imported)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

        columns = "SELECT id FROM nodes WHERE type = 'Folder' AND name IN ('xwdt', 'tzgg', 'zcwj', 'xxgk')"
        items = {}
        for type_name in ("Disclosure", "News", "Page"):
            # the demo's item in a standard column (made before the seeding, so the same at every size)
            items[type_name] = one(f"SELECT path FROM nodes WHERE type = ? AND state = 'published' AND id < ? "
                                   f"AND parent_id IN ({columns}) ORDER BY id LIMIT 1", type_name, first_seeded) \
                or one("SELECT path FROM nodes WHERE type = ? AND state = 'published' ORDER BY id LIMIT 1", type_name)
        busiest_unit = one("SELECT path FROM nodes WHERE type = 'Unit' AND title = '黄梅镇'") or one(
            "SELECT path FROM nodes WHERE type = 'Unit' ORDER BY id LIMIT 1")
        column = one("SELECT parent.path FROM nodes child JOIN nodes parent ON child.parent_id = parent.id "
                     "WHERE parent.type = 'Folder' GROUP BY parent.id ORDER BY count(*) DESC, parent.id LIMIT 1")
    pages = [Page(f"item: {t.lower()}", p) for t, p in items.items() if p]
    pages += [Page("home", "/"), Page("unit home", busiest_unit)]
    if column:
        pages.append(Page("column listing", column))
    pages.append(Page("/@@xxgk", "/@@xxgk"))
    pages.append(Page("/@@xxgk deepest page", f"/@@xxgk?page={deepest_xxgk_page(db, port)}"))
    if get(port, "/@@datasets")[0] == 200:
        pages.append(Page("/@@datasets", "/@@datasets"))
    pages.append(Page("search", "/@@search?q=" + urllib.parse.quote(SEARCH_WORDS)))
    return pages


def deepest_xxgk_page(db: Path, port: int) -> int:
    """The last page of /@@xxgk: asked far beyond its end, the catalogue shows its last page, whose
    pager links the one before. (Else: the public disclosures counted in the database, 20 a page.)"""
    status, html = get(port, "/@@xxgk?page=1000000000")
    pager = re.search(r'<nav class="pager".*?</nav>', html, re.S) if status == 200 else None
    if pager:
        numbers = [int(n) for n in re.findall(r"[?&;]page=(\d+)", pager.group(0))]
        return max(numbers) + 1 if numbers else 1
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(" ")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        total = conn.execute("SELECT count(*) FROM nodes WHERE type = 'Disclosure' AND state = 'published' "
                             "AND (effective IS NULL OR effective <= ?) AND (expires IS NULL OR expires > ?)",
                             (now, now)).fetchone()[0]
    return max(1, -(-total // 20))


# -- one size --------------------------------------------------------------------------------------

@dataclass
class Row:
    page: Page
    who: str
    status: int
    one_ms: float
    hello_one_ms: float
    rendered_ms: float  # one request that the page cache does not have (rendered)
    load: Load  # medians over the rounds
    hello: Load
    rounds: list[tuple[Load, Load]] = field(default_factory=list)  # (hello, page) of each round


@dataclass
class Size:
    docs: int
    published: int
    seed_s: float
    reindex_s: float
    seeded: str
    peak_mb: float = 0.0
    private_mb: float = 0.0  # the largest RssAnon seen after a page's load runs
    rows: list[Row] = field(default_factory=list)
    hello: list[Load] = field(default_factory=list)
    hello_one: list[float] = field(default_factory=list)


def median(values: Any) -> float:
    """The median of the numbers that are not NaN (NaN if none is)."""
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else NAN


def medians(loads: list[Load]) -> Load:
    return Load(median(x.rate for x in loads), median(x.p50_ms for x in loads), median(x.p99_ms for x in loads),
                sum(x.bad for x in loads))


def measure(docs: int, args: argparse.Namespace, loader: Loader, seeding) -> Size:
    work = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    try:
        port, hello_port = free_port(), free_port()
        ini = write_ini(work, port)
        db = work / "portal.db"
        log(f"\n== {docs:,} more published items ({work}) ==")
        portal(ini, "init")
        portal(ini, "demo")
        seeded = seeding.populate(db, docs, args.seed, progress=sys.stderr.isatty())
        log(seeding.describe(seeded))
        reindex_s = portal(ini, "reindex")
        log(f"portal reindex: {reindex_s:.1f} s")
        with contextlib.closing(sqlite3.connect(db)) as conn:
            published = conn.execute("SELECT count(*) FROM nodes WHERE state = 'published' "
                                     "AND type IN ('Disclosure', 'News', 'Page')").fetchone()[0]
        size = Size(docs, published, seeded.seconds, reindex_s, seeding.describe(seeded))
        hello_cmd = [sys.executable, "-c", HELLO.format(port=hello_port, threads=THREADS)]
        with serving(hello_cmd, hello_port, "hello"), \
                serving([str(BIN / "pserve"), str(ini)], port, "the portal") as server:
            pages = pages_of(db, seeded.first_id, port)
            if args.only:
                only = {x.lower() for x in args.only}
                pages = [p for p in pages if p.path.lower() in only or p.label.lower() in only]
            who = {"anonymous": {}}
            if not args.anonymous_only:
                who["editor"] = {"Cookie": editor_cookie(port, *EDITOR)}
            per_round = max(1, -(-args.single // args.rounds))
            one_request_times(hello_port, "/", {}, 50, 5)  # warm
            for page in pages:
                for name, headers in who.items():
                    one_request_times(port, page.path, headers, 2, 0)  # warm: the first hit compiles templates
                    rounds, ones, hello_ones, renders, status = [], [], [], [], 0
                    for _ in range(args.rounds):
                        renders += one_request_times(port, page.path, headers, per_round, args.secs, rendered=True)[0]
                        hello_ones += one_request_times(hello_port, "/", {}, per_round, args.secs)[0]
                        hello_load = loader(hello_port, "/", {})
                        settle(hello_port, "/", {})
                        times, status = one_request_times(port, page.path, headers, per_round, args.secs)
                        ones += times
                        rounds.append((hello_load, loader(port, page.path, headers)))
                        settle(port, page.path, headers)
                    row = Row(page, name, status, statistics.median(ones), statistics.median(hello_ones),
                              statistics.median(renders), medians([r[1] for r in rounds]),
                              medians([r[0] for r in rounds]), rounds)
                    size.rows.append(row)
                    size.private_mb = max(size.private_mb, memory_mb(server.pid, "RssAnon"))
                    size.hello += [r[0] for r in rounds]
                    size.hello_one += hello_ones
                    log(f"{page.label:<22} {name:<9} {status} 1 req {row.one_ms:8.2f} ms "
                        f"(rendered {row.rendered_ms:6.2f} ms)  "
                        f"{row.load.rate:8,.1f} req/s (hello {row.hello.rate:8,.1f}, ratio "
                        f"{row.load.rate / row.hello.rate:.3f})  p50 {row.load.p50_ms:.1f} p99 "
                        f"{row.load.p99_ms:.1f} ms  bad {row.load.bad}  per round "
                        + " ".join(f"{p.rate:,.0f}/{h.rate:,.0f}" for h, p in rounds))
            size.peak_mb = memory_mb(server.pid, "VmHWM")
        print_size(size, args, loader)
        return size
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# -- output ----------------------------------------------------------------------------------------

def fmt_ms(ms: float) -> str:
    if math.isnan(ms):
        return "-"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def print_size(size: Size, args: argparse.Namespace, loader: Loader) -> None:
    h = medians(size.hello)
    print(f"\n### {size.docs:,} more published items ({size.published:,} disclosures, news and pages in all)\n")
    print(f"{size.seeded}; `portal reindex` {size.reindex_s:.1f} s. Load: {loader.name}; {args.rounds} rounds per "
          f"page and user, interleaved with hello; medians. Hello (bare Pyramid, same waitress, {THREADS} threads), "
          f"all {len(size.hello)} runs: 1 req {fmt_ms(statistics.median(size.hello_one))} ms, {h.rate:,.0f} req/s, "
          f"p50 {fmt_ms(h.p50_ms)} ms, p99 {fmt_ms(h.p99_ms)} ms. Portal process peak memory (VmHWM, with the "
          f"mapped index pages): {size.peak_mb:,.0f} MB; its own memory (RssAnon, largest after a page's runs): "
          f"{size.private_mb:,.0f} MB.\n")
    print("| page | user | status | 1 req ms | x hello | 1 req ms rendered | req/s | hello req/s | ratio to hello "
          "| p50 ms | p99 ms | not 2xx/3xx, errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in size.rows:
        print(f"| {r.page.label} | {r.who} | {r.status} | {fmt_ms(r.one_ms)} | {r.one_ms / r.hello_one_ms:,.1f} "
              f"| {fmt_ms(r.rendered_ms)} "
              f"| {r.load.rate:,.1f} | {r.hello.rate:,.0f} | {r.load.rate / r.hello.rate:.3f} "
              f"| {fmt_ms(r.load.p50_ms)} | {fmt_ms(r.load.p99_ms)} | {r.load.bad} |")
    print("\nPages: " + ", ".join(f"{p.label} `{p.path}`" for p in unique_pages(size.rows)), flush=True)


def unique_pages(rows: list[Row]) -> list[Page]:
    seen: dict[str, Page] = {}
    for r in rows:
        seen.setdefault(r.page.label, r.page)
    return list(seen.values())


def print_growth(sizes: list[Size]) -> None:
    small, large = min(sizes, key=lambda s: s.docs), max(sizes, key=lambda s: s.docs)
    a, b = f"{small.docs:,}", f"{large.docs:,}"
    print(f"\n### Growth from {a} to {b} more items\n")
    print(f"| page | user | 1 req ms at {a} | 1 req ms at {b} | growth | rendered ms at {a} | rendered ms at {b} "
          f"| growth | req/s at {a} | req/s at {b} | ratio to hello at {a} | ratio to hello at {b} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    before = {(r.page.label, r.who): r for r in small.rows}
    worst = 0.0
    for r in large.rows:
        s = before.get((r.page.label, r.who))
        if s is None:
            continue
        growth, rendered_growth = r.one_ms / s.one_ms, r.rendered_ms / s.rendered_ms
        worst = max(worst, growth, rendered_growth)
        print(f"| {r.page.label} | {r.who} | {fmt_ms(s.one_ms)} | {fmt_ms(r.one_ms)} | {growth:.2f}x "
              f"| {fmt_ms(s.rendered_ms)} | {fmt_ms(r.rendered_ms)} | {rendered_growth:.2f}x "
              f"| {s.load.rate:,.1f} | {r.load.rate:,.1f} | {s.load.rate / s.hello.rate:.3f} "
              f"| {r.load.rate / r.hello.rate:.3f} |")
    print(f"\nLargest growth of the one-request time, kept or rendered: {worst:.2f}x (the aim: at most 2x).")
    print("\n| more items | published in all | seeding s | `portal reindex` s | portal peak memory (VmHWM) MB "
          "| own memory (RssAnon) MB | hello req/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s in sorted(sizes, key=lambda s: s.docs):
        print(f"| {s.docs:,} | {s.published:,} | {s.seed_s:.1f} | {s.reindex_s:.1f} | {s.peak_mb:,.0f} "
              f"| {s.private_mb:,.0f} | {medians(s.hello).rate:,.0f} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, action="append", help="more published items (repeatable; default 1000)")
    ap.add_argument("--secs", type=int, default=5, help="seconds of each load run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="hello/page rounds per page and user (default 3)")
    ap.add_argument("--single", type=int, default=30,
                    help="sequential requests for the one-request time, over all rounds (default 30)")
    ap.add_argument("--seed", type=int, default=2011)
    ap.add_argument("--only", nargs="*", help="only these pages (paths or labels)")
    ap.add_argument("--anonymous-only", action="store_true")
    ap.add_argument("--python-load", action="store_true", help="use bench/loadgen.py even where wrk is installed")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    loader = Loader(args.secs, args.python_load)
    seeding = load_module("seeding")
    started = time.monotonic()
    print(f"## bench/pages.py, {dt.datetime.now():%Y-%m-%d %H:%M}, {platform.node()} "
          f"({platform.processor() or platform.machine()}, {os_cpus()} CPUs), Python {platform.python_version()}")
    print(f"\n`{shlex.join(['bench/pages.py', *(argv if argv is not None else sys.argv[1:])])}`")
    sizes = [measure(docs, args, loader, seeding) for docs in (args.docs or [1000])]
    if len(sizes) > 1:
        print_growth(sizes)
    print(f"\n(all done in {(time.monotonic() - started) / 60:.1f} min)")


def os_cpus() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    main()

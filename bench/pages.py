"""Page speed against a bare Pyramid app, measured side by side in one run.

The portal is served as in production (production.ini's settings: templates not reloaded, 8
waitress threads; logging at WARN) from a SQLite database of its own holding the demo content
and N more published disclosure documents spread over the units; a bare Pyramid "hello world"
is served by the same waitress with the same threads. Each runs in a process of its own. For
every page the script prints:

* one request alone: the median of `--single` sequential requests on one keep-alive connection;
* throughput under `wrk -t2 -c16 -d<secs>s` (Debian's wrk: `apt-get install wrk`);
* both as a ratio to hello's figure of the same run;

and at the end the peak memory (VmHWM) of the portal's process. Pages are asked anonymously and
as the demo's editor of 黄梅镇 (a session cookie from the login form).

    .venv/bin/python bench/pages.py --docs 1000
    .venv/bin/python bench/pages.py --docs 1000 --docs 100000     # growth: both sizes, one table each
    .venv/bin/python bench/pages.py --docs 1000 --secs 3 --only / /@@xxgk

Growth (the issue's "no page's one-request time grows by more than 2x from 1,000 to 100,000
documents") is read by comparing the "1 req" columns of the two tables.
"""
from __future__ import annotations

import argparse
import configparser
import contextlib
import http.client
import http.cookiejar
import importlib.util
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
THREADS = 8

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


def load_reindex_bench():
    """bench/reindex.py's bulk insert of published disclosures (the search benchmark's corpus)."""
    spec = importlib.util.spec_from_file_location("bench_reindex", ROOT / "bench" / "reindex.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def portal(ini: Path, *args: str) -> None:
    subprocess.run([str(BIN / "portal"), "-c", str(ini), *args], check=True, stdout=subprocess.DEVNULL)


def wait_for(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before serving")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within 60 s")


@contextlib.contextmanager
def serving(cmd: list[str], port: int, what: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for(port, proc, what)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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


def one_request_ms(port: int, path: str, headers: dict[str, str], n: int) -> tuple[float, int]:
    """Median time of n sequential requests on one connection, and the last status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times, status = [], 0
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            times.append(time.perf_counter() - t0)
            status = response.status
    finally:
        conn.close()
    return statistics.median(times) * 1000, status


def wrk(port: int, path: str, headers: dict[str, str], secs: int) -> tuple[float, int]:
    """Requests/s under wrk -t2 -c16, and how many answers were not 2xx/3xx."""
    cmd = ["wrk", "-t2", "-c16", f"-d{secs}s", "--latency"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@dataclass
class Page:
    label: str
    path: str


def pages_of(ini: Path) -> list[Page]:
    """The pages the issue names, found in this run's database (paths differ with the demo)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from portal.cli import script_request
    from portal.models import Node

    with script_request(str(ini)) as request:
        db = request.dbsession
        unit_path = db.scalar(select(Node.path).where(Node.type == "Unit", Node.title == "黄梅镇"))  # the demo's unit
        item_paths = {}
        for type_name in ("Disclosure", "News", "Page"):
            item_paths[type_name] = db.scalar(select(Node.path).where(
                Node.type == type_name, Node.state == "published", ~Node.name.startswith("bench-"))
                .order_by(Node.id)) or db.scalar(select(Node.path).where(
                    Node.type == type_name, Node.state == "published").order_by(Node.id))
        column = db.scalar(select(Node.path).where(Node.type == "Folder", Node.path.startswith(unit_path))
                           .order_by(Node.id))
        documents = db.scalar(select(func.count()).select_from(Node)
                              .where(Node.type == "Disclosure", Node.state == "published"))
    pages = [Page("home", "/"), Page("unit home", unit_path)]
    if column:
        pages.append(Page("column listing", column))
    for type_name, path in item_paths.items():
        if path:
            pages.append(Page(f"item: {type_name}", path))
    last = max(1, (documents + 19) // 20)
    pages += [Page("/@@xxgk", "/@@xxgk"), Page(f"/@@xxgk page {last}", f"/@@xxgk?page={last}"),
              Page("search", "/@@search?q=" + urllib.parse.quote("政务公开"))]
    return pages


def run(docs: int, args: argparse.Namespace, reindex) -> None:
    work = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    try:
        port, hello_port = free_port(), free_port()
        ini = write_ini(work, port)
        print(f"\n== {docs:,} extra published disclosures ({work}) ==", flush=True)
        portal(ini, "init")
        portal(ini, "demo")
        if docs:
            reindex.populate(work / "portal.db", docs, args.seed)
        portal(ini, "reindex")
        pages = pages_of(ini)
        if args.only:
            pages = [p for p in pages if p.path in args.only or p.label in args.only]
        hello_cmd = [sys.executable, "-c", HELLO.format(port=hello_port, threads=THREADS)]
        with serving(hello_cmd, hello_port, "hello"), \
                serving([str(BIN / "pserve"), str(ini)], port, "the portal") as server:
            hello_ms, _ = one_request_ms(hello_port, "/", {}, args.single)
            hello_rate, _ = wrk(hello_port, "/", {}, args.secs)
            print(f"hello: 1 req {hello_ms:.2f} ms, {hello_rate:,.0f} req/s")
            cookie = editor_cookie(port, "hmz-editor", "editor-demo-2026")
            who = {"anonymous": {}, "editor": {"Cookie": cookie}}
            print(f"{'page':<24} {'who':<10} {'status':>6} {'1 req ms':>9} {'x hello':>8} {'req/s':>8} "
                  f"{'ratio':>7} {'non-2xx':>7}")
            for page in pages:
                for name, headers in who.items():
                    if name == "editor" and args.anonymous_only:
                        continue
                    one_request_ms(port, page.path, headers, 2)  # warm: the first hit compiles templates
                    ms, status = one_request_ms(port, page.path, headers, args.single)
                    rate, bad = wrk(port, page.path, headers, args.secs)
                    print(f"{page.label:<24} {name:<10} {status:>6} {ms:>9.2f} {ms / hello_ms:>8.1f} "
                          f"{rate:>8,.0f} {rate / hello_rate:>7.3f} {bad:>7}", flush=True)
            print(f"portal process peak memory (VmHWM): {peak_rss_mb(server.pid):,.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, action="append", help="extra published disclosures (repeatable)")
    ap.add_argument("--secs", type=int, default=5, help="seconds of wrk per page and user")
    ap.add_argument("--single", type=int, default=30, help="sequential requests for the one-request time")
    ap.add_argument("--seed", type=int, default=2011)
    ap.add_argument("--only", nargs="*", help="only these pages (paths or labels)")
    ap.add_argument("--anonymous-only", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    reindex = load_reindex_bench()
    for docs in args.docs or [1000]:
        run(docs, args, reindex)


if __name__ == "__main__":
    main()

"""A small HTTP load generator for where wrk is missing: `wrk -t2 -c16`'s shape in Python.

`threads` worker processes (wrk's threads; processes, so the GIL does not make them one), each
keeping `connections / threads` HTTP/1.1 keep-alive connections busy with asyncio for `secs`
seconds: one request at a time per connection, the next sent as soon as the answer is read, as
wrk does. Returns requests/s (completed requests over the elapsed time), the latency p50 and p99,
and the answers that were not 2xx/3xx and the socket errors, like wrk's summary.

    .venv/bin/python bench/loadgen.py http://127.0.0.1:6543/ --secs 5 [-H 'Cookie: ...']

It is slower than wrk (a Python client needs ~0.1 ms of CPU per request, which on a small
machine it takes from the server), so its figures are lower than wrk's for fast pages: compare a
page with hello measured by the same generator, never with wrk's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Load:
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # answers not 2xx/3xx
    errors: int  # connect/read errors and timeouts


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of unsorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; (status, whether the server closes the connection)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split(None, 2)[1])
    length, chunked, close = None, False, status_line.startswith(b"HTTP/1.0")
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.partition(b":")
        key, value = key.strip().lower(), value.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif key == b"connection":
            close = value == b"close"
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break  # (no trailers from waitress)
    elif length is not None:
        await reader.readexactly(length)
    elif status not in (204, 304) and not 100 <= status < 200:
        await reader.read()  # to the end of the connection
        close = True
    return status, close


async def connection(host: str, port: int, request: bytes, deadline: float, timeout: float,
                     latencies: list[float], counts: dict[str, int]) -> None:
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            t0 = time.perf_counter()
            writer.write(request)
            status, close = await asyncio.wait_for(read_response(reader), timeout)
            latencies.append(time.perf_counter() - t0)
            if not 200 <= status < 400:
                counts["bad"] += 1
            if close:
                writer.close()
                reader = writer = None
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def worker(url: str, headers: list[str], connections: int, secs: float, timeout: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    latencies: list[float] = []
    counts = {"bad": 0, "errors": 0}
    start = time.perf_counter()
    deadline = start + secs
    await asyncio.gather(*(connection(host, port, request, deadline, timeout, latencies, counts)
                           for _ in range(connections)))
    return {"elapsed": time.perf_counter() - start, "latencies": latencies, **counts}


def run(url: str, headers: dict[str, str], secs: float, threads: int = 2, connections: int = 16,
        timeout: float = 30.0) -> Load:
    """Load `url` with `connections` connections over `threads` processes for `secs` seconds."""
    per = [connections // threads + (1 if k < connections % threads else 0) for k in range(threads)]
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, "--connections", str(n), "--secs", str(secs),
                               "--timeout", str(timeout), *header_args], stdout=subprocess.PIPE, text=True)
             for n in per if n]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"load worker exited with {proc.returncode}")
        results.append(json.loads(out))
    latencies = [x for r in results for x in r["latencies"]]
    elapsed = max(r["elapsed"] for r in results)
    return Load(len(latencies) / elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000,
                len(latencies), sum(r["bad"] for r in results), sum(r["errors"] for r in results))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("-H", dest="headers", action="append", default=[], help="a header line, as wrk's -H")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        result = asyncio.run(worker(args.url, args.headers, args.connections, args.secs, args.timeout))
        json.dump(result, sys.stdout)
        return
    headers = dict(h.split(":", 1) for h in args.headers)
    load = run(args.url, {k.strip(): v.strip() for k, v in headers.items()}, args.secs, args.threads,
               args.connections, args.timeout)
    print(f"{load.requests} requests in {args.secs:.1f} s: {load.rate:,.1f} req/s, p50 {load.p50_ms:.2f} ms, "
          f"p99 {load.p99_ms:.2f} ms, not 2xx/3xx {load.bad}, errors {load.errors}")


if __name__ == "__main__":
    main()

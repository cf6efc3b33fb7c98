"""Republishing to CKAN: N published datasets sent through the outbox, then `ckan-sync --all`.

The issue asks what republishing costs against a real CKAN, and that checking an unchanged
catalogue writes nothing. The script starts the test CKAN (tests/ckanserver.py: CKAN 2.12 with its
own PostgreSQL, Redis and the Solr stand-in; its virtualenv is built once per machine) unless
`--keep-ckan-url` names a running one, makes a throwaway SQLite portal (`portal init`) that
republishes to it, sends what `portal init` made (县政府办's 政府信息公开目录 dataset) outside the
figures, and then:

* creates N published datasets spread over the units, each with one small CSV file (about
  200 bytes, different for each), through portal.content as the demo does, many to a
  transaction; `catalog.send_after_commit = false`, so creating only fills the CKAN outbox;
* times `Sender.drain(due_only=False)` (what `portal ckan-sync` does) sending the N: datasets/s,
  and CKAN API calls per dataset, in all and by action (organisations are made on first use);
  then asks CKAN apart from the sender whether it lists the N packages and serves the first
  one's file with the portal's bytes;
* times `Sender.sync_all()` with a new sender (what a later `portal ckan-sync --all` does) on
  the unchanged catalogue (the N and init's one): it must make 0 write calls. Any write call, a dataset not created by
  the drain or not found in CKAN, is printed loudly and the exit status is 1.

    .venv/bin/python bench/ckan_sync.py                     # 1,000 datasets (several minutes)
    .venv/bin/python bench/ckan_sync.py --datasets 100
    .venv/bin/python bench/ckan_sync.py --keep-ckan-url http://127.0.0.1:5000 --token TOKEN

With `--keep-ckan-url` the packages are left in that CKAN, under organisations named `bench-*`
and package names carrying this run's tag, so runs never meet each other's packages.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import io
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyramid.paster import get_appsettings
from sqlalchemy import func, select
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from catalog import vocabularies as v  # noqa: E402
from catalog.ckan_outbox import SYNCED, CkanOutbox, CkanPackage  # noqa: E402
from catalog.ckan_sender import READ_ACTIONS, Report, Sender  # noqa: E402
from catalog.dataset import Dataset  # noqa: E402
from portal import content  # noqa: E402
from portal import main as make_app  # noqa: E402
from portal.api.fields import deserialize  # noqa: E402
from portal.cli import app_request  # noqa: E402
from portal.cli import main as portal  # noqa: E402
from portal.models import Unit  # noqa: E402
from portal.registry import type_info  # noqa: E402

BATCH = 100  # datasets per transaction while creating
ORG_PREFIX = "bench-"

INI = """\
[app:main]
use = egg:huangmei-portal
pyramid.default_locale_name = zh_CN
sqlalchemy.url = sqlite:///{db}
portal.session_secret = bench-secret-0123456789-0123456789-0123456789
portal.blobs_dir = {blobs}
search.index_dir = {index}
search.drain_after_commit = false
search.drain_on_start = false
catalog.ckan_url = {ckan_url}
catalog.ckan_api_token = {token}
catalog.ckan_org_prefix = {prefix}
catalog.portal_url = http://127.0.0.1:6543
catalog.send_after_commit = false
"""


@contextlib.contextmanager
def ckan(url: str | None, token: str | None) -> Iterator[tuple[str, str, str]]:
    """(url, API token, description) of the CKAN to send to: the one given, or a throwaway one
    stopped on the way out whatever happens."""
    if url:
        if not token:
            raise SystemExit("--keep-ckan-url needs --token (a sysadmin's API token)")
        yield url.rstrip("/"), token, f"the CKAN at {url}"
        return
    from tests.ckanserver import CKAN_VERSION, CkanUnavailable, start_ckan_server

    try:
        server = start_ckan_server()
    except CkanUnavailable as exc:
        raise SystemExit(f"cannot start the test CKAN: {exc}") from None
    try:
        yield server.url, server.api_token, f"a throwaway CKAN {CKAN_VERSION} on loopback (Solr stand-in)"
    finally:
        server.stop()


def csv_file(i: int, tag: str) -> dict[str, str]:
    """A small CSV, different for every dataset (each is a blob and an upload of its own), as the
    API takes a file."""
    out = io.StringIO()
    out.write("年份,指标,数值\r\n")
    for year in range(2019, 2026):
        out.write(f"{year},基准指标{i},{(i * 37 + year * 11) % 10_000}\r\n")
    data = out.getvalue().encode("utf-8")
    return {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64",
            "filename": f"bench-{tag}-{i:05d}.csv", "content-type": "text/csv"}


def dataset_fields(i: int) -> dict[str, Any]:
    return {
        "title": f"基准测试数据集{i:05d}", "description": f"bench/ckan_sync.py 生成的第 {i} 个数据集。",
        "theme": v.THEMES[i % len(v.THEMES)], "keywords": ["基准测试", f"批次{i // BATCH}"],
        "license": "cc-by", "open_class": v.OPEN, "update_frequency": "每年",
        "temporal_start": "2019-01-01", "temporal_end": "2025-12-31",
        "contact_name": "基准测试", "contact_phone": "0713-3321234", "contact_email": "bench@huangmei.example",
    }


def populate(registry: Any, n: int, tag: str) -> float:
    """N published datasets with one CSV resource each, round robin over the units, BATCH to a
    transaction; returns the seconds it took. The content events fill the CKAN outbox."""
    dataset_info, resource_info = type_info(registry, "Dataset"), type_info(registry, "Resource")
    started = time.perf_counter()
    with tqdm(total=n, desc="create", unit="dataset") as bar:
        for first in range(0, n, BATCH):
            with app_request(registry) as request:
                units = list(request.dbsession.scalars(select(Unit).order_by(Unit.org_code, Unit.id)))
                for i in range(first, min(first + BATCH, n)):
                    unit = units[i % len(units)]
                    dataset = content.create(request, unit, "Dataset",
                                             deserialize(request, dataset_info, dataset_fields(i)),
                                             name=f"{tag}-{i:05d}", unrestricted=True)
                    resource = content.create(request, dataset, "Resource", deserialize(
                        request, resource_info, {"title": f"指标表{i:05d}", "description": "CSV，UTF-8 编码",
                                                 "file": csv_file(i, tag)}), unrestricted=True)
                    for node in (dataset, resource):
                        content.transition(request, node, "submit", unrestricted=True)
                        content.transition(request, node, "publish", unrestricted=True)
                    bar.update(1)
    return time.perf_counter() - started


def queued(registry: Any) -> int:
    with registry["dbsession_factory"]() as session:
        return session.scalar(select(func.count(func.distinct(CkanOutbox.node_id)))) or 0


def synced(registry: Any) -> int:
    with registry["dbsession_factory"]() as session:
        return session.scalar(select(func.count()).select_from(CkanPackage).where(
            CkanPackage.state == SYNCED, CkanPackage.ckan_id.is_not(None))) or 0


def timed(step: str, n: int, run: Any) -> tuple[Report, float]:
    """Run a sender's drain or sync_all with a progress bar; its report and seconds."""
    with tqdm(total=n, desc=step, unit="dataset") as bar:
        def total(count: int) -> None:
            bar.total = count
            bar.refresh()
        started = time.perf_counter()
        report = run(progress=bar.update, total=total)
        return report, time.perf_counter() - started


def verify(url: str, token: str, tag: str, n: int) -> list[str]:
    """What CKAN holds, asked apart from the sender: this run's N packages, and the first one's
    file downloadable with the bytes the portal has."""
    import requests
    from ckanapi import RemoteCKAN

    api = RemoteCKAN(url, apikey=token, user_agent="huangmei-portal-bench")
    names = [name for name in api.action.package_list() if f"-{tag}-" in name]
    problems = [] if len(names) == n else [f"CKAN lists {len(names)} packages of this run, not {n}"]
    first = next((name for name in names if name.endswith(f"-{tag}-00000")), None)
    if first is None:
        return problems + ["CKAN has no package for the first dataset"]
    resources = api.action.package_show(id=first)["resources"]
    want = base64.b64decode(csv_file(0, tag)["data"])
    if len(resources) != 1 or resources[0].get("url_type") != "upload":
        problems.append(f"{first}: expected one uploaded resource, CKAN has {resources}")
    elif requests.get(resources[0]["url"], timeout=30).content != want:
        problems.append(f"{first}: the file CKAN serves is not the portal's")
    return problems


def per_dataset(calls: Counter[str], n: int) -> str:
    return ", ".join(f"{action} {count / n:.2f}" for action, count in calls.most_common())


def datasets(registry: Any) -> int:
    with registry["dbsession_factory"]() as session:
        return session.scalar(select(func.count()).select_from(Dataset)) or 0


def check_drain(report: Report, n: int, stored: int, before: int) -> list[str]:
    problems = []
    if report.created != n or report.failed or report.unreachable:
        problems.append(f"the drain created {report.created} of {n} ({report.failed} refused"
                        f"{'; unreachable: ' + report.unreachable if report.unreachable else ''})")
    if stored != before + n:
        problems.append(f"{stored - before} of {n} datasets are stored as synced with a CKAN id")
    return problems


def check_sync(report: Report, total: int) -> list[str]:
    problems = []
    if report.write_calls:
        writes = {a: c for a, c in report.calls.items() if a not in READ_ACTIONS}
        problems.append(f"ckan-sync --all on the unchanged catalogue made {report.write_calls} WRITE calls "
                        f"({writes}); {report.updated} datasets found different")
    if report.unchanged != total or report.failed or report.unreachable:
        problems.append(f"ckan-sync --all found {report.unchanged} of {total} datasets unchanged ({report.failed} "
                        f"refused{'; unreachable: ' + report.unreachable if report.unreachable else ''})")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=1000, help="published datasets to republish")
    ap.add_argument("--keep-ckan-url", metavar="URL", help="send to this running CKAN instead of starting one")
    ap.add_argument("--token", help="a sysadmin's API token of --keep-ckan-url's CKAN")
    args = ap.parse_args(argv)
    n = args.datasets
    if n < 1:
        raise SystemExit("--datasets must be at least 1")
    tag = "b" + secrets.token_hex(3)  # this run's package names: a reused CKAN keeps earlier runs'
    csv_bytes = len(base64.b64decode(csv_file(0, tag)["data"]))

    work = Path(tempfile.mkdtemp(prefix="ckan-sync-bench-"))
    problems: list[str] = []
    try:
        with ckan(args.keep_ckan_url, args.token) as (url, token, where):
            ini = work / "bench.ini"
            ini.write_text(INI.format(db=work / "portal.db", blobs=work / "blobs", index=work / "index",
                                      ckan_url=url, token=token, prefix=ORG_PREFIX), "utf-8")
            with contextlib.redirect_stdout(io.StringIO()):
                if portal(["-c", str(ini), "init"]) not in (0, None):
                    raise SystemExit("portal init failed")
            registry = make_app({}, **get_appsettings(str(ini))).registry
            with registry["dbsession_factory"]() as session:
                units = session.scalar(select(func.count()).select_from(Unit)) or 0
            print(f"\n== {n:,} datasets over {min(units, n)} units, to {where} ({url}) ==", flush=True)
            # what `portal init` made (the 政府信息公开目录 dataset) is sent first, outside the figures
            before_report = Sender(registry).drain(due_only=False)
            before, before_synced = datasets(registry), synced(registry)
            print(f"datasets made by `portal init`: {before}, sent before the timing: {before_report.line()}")

            create_s = populate(registry, n, tag)
            waiting = queued(registry)
            print(f"created and published {n:,} datasets with one CSV each in {create_s:.1f} s; "
                  f"{waiting:,} waiting in the CKAN outbox")
            if waiting != n:
                problems.append(f"the outbox holds {waiting} datasets, not {n}")

            drain, drain_s = timed("republish", n, Sender(registry).drain)
            print(f"drain: {drain.line()} in {drain_s:.1f} s")
            problems += check_drain(drain, n, synced(registry), before_synced)
            problems += verify(url, token, tag, n)

            total = datasets(registry)
            sync, sync_s = timed("ckan-sync --all", total, Sender(registry).sync_all)
            print(f"sync --all: {sync.line()} in {sync_s:.1f} s")
            problems += check_sync(sync, total)
            registry["dbsession_factory"].kw["bind"].dispose()

        print("\n=== summary (for the README) ===")
        print(f"{n:,} published datasets, one CSV of {csv_bytes} bytes each, over {min(units, n)} units "
              f"(= CKAN organisations); portal on SQLite; {where}:")
        print(f"  republish (drain of the outbox): {drain_s:.1f} s, {n / drain_s:.1f} datasets/s; "
              f"{sum(drain.calls.values()) / n:.2f} CKAN calls per dataset ({drain.write_calls / n:.2f} writes): "
              f"{per_dataset(drain.calls, n)}")
        print(f"  ckan-sync --all, unchanged ({total:,} datasets): {sync.write_calls} write calls, {sync_s:.1f} s "
              f"({total / sync_s:.1f} datasets/s); {sum(sync.calls.values()) / total:.2f} calls per dataset: "
              f"{per_dataset(sync.calls, total)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("\n!!! FAILED !!!", file=sys.stderr)
        for problem in problems:
            print(f"!!! {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

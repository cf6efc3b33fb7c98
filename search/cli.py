"""`portal -c INI reindex`, `portal -c INI indexer` and `portal -c INI check-index [--repair]`."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from tqdm import tqdm

from portal.cli import CommandError, script_request

from .indexer import IndexReport, OutboxBusy, check, count_documents, drain, pending, reindex, repair
from .settings import search_settings
from .whoosh_backend import IndexBusy


def cmd_reindex(args: argparse.Namespace) -> None:
    """Rebuild the whole index from the database beside the live one, then swap (search stays up)."""
    with script_request(args.config) as request:
        registry = request.registry
        total = count_documents(registry, request.dbsession)
    backend = registry["search_backend"]
    # a rebuild may use both cores (the web processes keep one writer process)
    backend.procs = search_settings(registry).reindex_procs
    with tqdm(total=total, unit="doc", desc="reindex", file=sys.stderr) as bar:
        try:
            count = reindex(registry, registry["dbsession_factory"], backend, progress=bar.update)
        except (OutboxBusy, IndexBusy) as e:
            raise CommandError(f"{e}; try again when it is done") from None
    print(f"indexed {count} documents into {getattr(backend, 'path', 'the index')}")


def cmd_indexer(args: argparse.Namespace) -> None:
    """The production writer: apply the outbox as it fills (Ctrl-C stops)."""
    with script_request(args.config) as request:
        registry = request.registry
    factory, backend = registry["dbsession_factory"], registry["search_backend"]
    print(f"indexer: applying the search outbox every {args.interval}s (Ctrl-C stops)", file=sys.stderr)
    try:
        while True:
            try:
                done = drain(registry, factory, backend)
            except (OutboxBusy, IndexBusy):  # a rebuild or a check holds the index: wait for it
                done = 0
                print("indexer: the index is busy (a rebuild or a check); waiting", file=sys.stderr)
            if done:
                with factory() as session:
                    left = pending(session)
                print(f"indexer: applied {done} changes, {left} waiting", file=sys.stderr)
            if args.once:
                return
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


def cmd_check_index(args: argparse.Namespace) -> None:
    """Compare the index with the database; with --repair, fix what differs. Exit status 2 while
    differences remain, so that a cron job can alert."""
    # a check alone writes nothing (not even the start-up drain); a repair applies the outbox first
    with script_request(args.config, drain_search=args.repair) as request:
        registry = request.registry
    factory, backend = registry["dbsession_factory"], registry["search_backend"]

    def bar(desc: str, total: int | None) -> Any:
        return tqdm(total=total, unit="doc", desc=desc, file=sys.stderr, disable=args.quiet)

    try:
        if args.repair and (applied := drain(registry, factory, backend)):
            print(f"applied {applied} outbox rows that were waiting")
        report = check(registry, factory, backend, bar)
        for line in report.lines():
            print(line)
        print(summary(report))
        if args.repair and report.differences:
            written = repair(registry, factory, backend, report)
            print(f"repaired: indexed {len(report.missing)} missing, removed {len(report.extra)} extra, "
                  f"reindexed {len(report.stale)} stale ({written} documents written or removed)")
            report = check(registry, factory, backend, bar)
            for line in report.lines():
                print(line)
            print("after the repair: " + summary(report))
    except (OutboxBusy, IndexBusy) as e:
        raise CommandError(f"{e}; try again when it is done") from None
    if report.differences:
        plural = "s" if report.differences != 1 else ""
        raise CommandError(f"{report.differences} difference{plural} between the search index and the database"
                           + ("" if args.repair else " (`check-index --repair` fixes them)"))


def summary(report: IndexReport) -> str:
    text = (f"checked {report.in_database} documents in the database and {report.in_index} in the index: "
            f"{len(report.missing)} missing, {len(report.extra)} extra, {len(report.stale)} stale")
    if report.waiting_rows:
        age = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - report.oldest_waiting
        text += (f"; {report.waiting_rows} outbox rows ({report.waiting_nodes} documents) not applied yet, the oldest "
                 f"{int(age.total_seconds())} s old (not compared: `portal indexer` applies them)")
    return text


def register(sub: Any) -> None:
    sub.add_parser("reindex", help="rebuild the search index from the database (search stays online)") \
        .set_defaults(func=cmd_reindex)
    indexer = sub.add_parser("indexer", help="apply index changes from the outbox (run as its own process)")
    indexer.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    indexer.add_argument("--once", action="store_true", help="apply what is waiting, then stop")
    indexer.set_defaults(func=cmd_indexer)
    check_index = sub.add_parser(
        "check-index", help="compare the search index with the database and report every difference "
                            "(exit status 2 while any remain)")
    check_index.add_argument("--repair", action="store_true",
                             help="reindex the missing and stale documents, remove the extra ones, and check again")
    check_index.add_argument("--quiet", action="store_true", help="no progress bars")
    check_index.set_defaults(func=cmd_check_index)

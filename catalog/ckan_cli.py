"""`portal -c INI ckan-worker` and `portal -c INI ckan-sync [--all] [--retry-failed]`."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import time
from typing import Any

from sqlalchemy import func, select
from tqdm import tqdm

from portal.cli import CommandError, script_request
from portal.models.node import utcnow

from .ckan_outbox import CkanOutbox, enqueue
from .disclosure_export import FILENAME, regenerate_if_due
from .ckan_sender import Report, Sender, SenderBusy, datasets_reaching_dates, retry_failed
from .settings import catalog_settings

log = logging.getLogger(__name__)


def configured(config: str) -> Any:
    with script_request(config, drain_search=False) as request:
        registry = request.registry
    if not catalog_settings(registry).republishing:
        raise CommandError("republishing to CKAN is off: set catalog.ckan_url (and catalog.ckan_api_token, "
                           "catalog.portal_url) in the .ini file")
    return registry


def waiting(registry: Any) -> int:
    with registry["dbsession_factory"]() as session:
        return session.scalar(select(func.count(func.distinct(CkanOutbox.node_id)))) or 0


def cmd_ckan_sync(args: argparse.Namespace) -> None:
    """Drain the outbox once (every row, backoff or not); --all compares every dataset with CKAN."""
    registry = configured(args.config)
    if args.retry_failed:
        print(f"queued {retry_failed(registry)} datasets that CKAN refused", file=sys.stderr)
    sender = Sender(registry)
    with tqdm(unit="dataset", desc="ckan-sync", file=sys.stderr, disable=args.quiet) as bar:
        def total(n: int) -> None:
            bar.total = n
            bar.refresh()
        started = time.monotonic()
        try:
            if regenerate_if_due(registry):
                print(f"rebuilt {FILENAME}", file=sys.stderr)
            report = sender.drain(due_only=False, progress=bar.update, total=total)
            if args.all and not report.unreachable:
                print(f"outbox: {report.line()}", file=sys.stderr)
                sender.report = Report()  # the comparison's own figures
                bar.reset()
                bar.set_description("ckan-sync --all")
                report = sender.sync_all(progress=bar.update, total=total)
        except SenderBusy as exc:
            raise CommandError(f"{exc}; try again when it is done (is `ckan-worker` running? it sends the "
                               "outbox itself)") from None
    print(f"{report.line()} in {time.monotonic() - started:.1f} s")
    left = waiting(registry)
    if report.unreachable:
        raise CommandError(f"CKAN unreachable, {left} datasets stay queued: {report.unreachable}")
    if report.failed:
        raise CommandError(f"CKAN refused {report.failed} datasets; their pages show why to their editors "
                           "(fix them, or `ckan-sync --retry-failed` after fixing CKAN)")


def cmd_ckan_worker(args: argparse.Namespace) -> None:
    """The production sender: drain the outbox as it fills, respecting the backoff (Ctrl-C stops
    after the dataset being sent)."""
    registry = configured(args.config)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print(f"ckan-worker: sending to {catalog_settings(registry).ckan_url} every {args.interval}s "
          "(Ctrl-C stops)", file=sys.stderr)
    checked = utcnow() - dt.timedelta(days=1)  # dates passed while no worker ran
    sender = Sender(registry)
    try:
        while not stopping:
            now = utcnow()
            with registry["dbsession_factory"]() as session, session.begin():
                enqueue(session, datasets_reaching_dates(session, checked, now))
            checked = now
            try:
                regenerate_if_due(registry)  # a rebuilt 信息公开目录.csv goes out in this pass
            except Exception:  # noqa: BLE001 - the export waits for the next pass; sending goes on
                log.exception("rebuilding %s failed; it is tried again in the next pass", FILENAME)
            sender.report = Report()
            try:
                report = sender.drain()
            except SenderBusy:
                report = None
            if report and (report.created or report.updated or report.withdrawn or report.failed):
                print(f"ckan-worker: {report.line()}; {waiting(registry)} waiting", file=sys.stderr)
            elif report and report.unreachable:
                print(f"ckan-worker: CKAN unreachable, retrying later: {report.unreachable}", file=sys.stderr)
            if args.once:
                return
            deadline = time.monotonic() + args.interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, args.interval))
    except KeyboardInterrupt:
        pass
    print("ckan-worker: stopped", file=sys.stderr)


def register(sub: Any) -> None:
    sync = sub.add_parser("ckan-sync", help="send the CKAN outbox now, with a progress bar")
    sync.add_argument("--all", action="store_true",
                      help="then compare every dataset with CKAN (package_show) and write only where they differ")
    sync.add_argument("--retry-failed", action="store_true", help="send again the datasets CKAN refused")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sync.set_defaults(func=cmd_ckan_sync)
    worker = sub.add_parser("ckan-worker", help="send dataset changes to CKAN as they come (its own process)")
    worker.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    worker.add_argument("--once", action="store_true", help="send what is waiting, then stop")
    worker.set_defaults(func=cmd_ckan_worker)

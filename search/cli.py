"""`portal -c INI reindex` and `portal -c INI indexer`."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tqdm import tqdm

from portal.cli import script_request

from .indexer import count_documents, drain, pending, rebuild
from .settings import search_settings


def cmd_reindex(args: argparse.Namespace) -> None:
    """Rebuild the whole index from the database beside the live one, then swap (search stays up)."""
    with script_request(args.config) as request:
        backend = request.search_backend
        # a rebuild may use both cores (the web processes keep one writer process)
        backend.procs = search_settings(request.registry).reindex_procs
        total = count_documents(request.registry, request.dbsession)
        with tqdm(total=total, unit="doc", desc="reindex", file=sys.stderr) as bar:
            count = rebuild(request.registry, request.dbsession, backend, progress=bar.update)
    print(f"indexed {count} documents into {getattr(backend, 'path', 'the index')}")


def cmd_indexer(args: argparse.Namespace) -> None:
    """The production writer: apply the outbox as it fills (Ctrl-C stops)."""
    with script_request(args.config) as request:
        registry = request.registry
    factory, backend = registry["dbsession_factory"], registry["search_backend"]
    print(f"indexer: applying the search outbox every {args.interval}s (Ctrl-C stops)", file=sys.stderr)
    try:
        while True:
            done = drain(registry, factory, backend)
            if done:
                with factory() as session:
                    left = pending(session)
                print(f"indexer: applied {done} changes, {left} waiting", file=sys.stderr)
            if args.once:
                return
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


def register(sub: Any) -> None:
    sub.add_parser("reindex", help="rebuild the search index from the database (search stays online)") \
        .set_defaults(func=cmd_reindex)
    indexer = sub.add_parser("indexer", help="apply index changes from the outbox (run as its own process)")
    indexer.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    indexer.add_argument("--once", action="store_true", help="apply what is waiting, then stop")
    indexer.set_defaults(func=cmd_indexer)

"""Benchmark ``portal -c INI reindex`` end to end: database rows to a swapped-in index.

``bench/search.py`` times the engine alone on documents it generates; an operator's
reindex also loads every node through the ORM and builds its document (HTML to text,
who may view it).  This script makes a throwaway SQLite portal (``portal init``), inserts N
published disclosure documents spread over the units (the same synthetic corpus as
``bench/search.py``), then times, in the same run:

* building every document from the database (``search.indexer.all_documents``) alone;
* the whole ``portal reindex`` command (documents + Whoosh rebuild on two cores).

    .venv/bin/python bench/reindex.py --docs 10000
    .venv/bin/python bench/reindex.py                 # 100,000 documents
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content_types.disclosure import Disclosure  # noqa: E402
from portal.cli import main as portal  # noqa: E402
from portal.cli import script_request  # noqa: E402
from portal.models import Node, Unit  # noqa: E402
from search.indexer import all_documents  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
assert _spec and _spec.loader
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

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
search.reindex_procs = {procs}
"""


def populate(db: Path, n: int, seed: int) -> None:
    """N published disclosures under the units, inserted in bulk (no events, no outbox)."""
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session, session.begin():
        units = session.execute(select(Unit.id, Unit.path, Unit.org_code)).all()
        next_id = (session.scalar(select(func.max(Node.id))) or 0) + 1
        rng = random.Random(seed)
        nodes: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            session.execute(insert(Node.__table__), nodes)
            session.execute(insert(Disclosure.__table__), rows)
            nodes.clear()
            rows.clear()

        for i, doc in enumerate(tqdm(corpus.gen_docs(n, seed), total=n, desc="insert", unit="doc")):
            unit_id, unit_path, org_code = units[rng.randrange(len(units))]
            when = doc["published"] - dt.timedelta(hours=8)  # the database keeps naive UTC
            nodes.append({
                "id": next_id + i, "type": "Disclosure", "parent_id": unit_id, "name": f"bench-{i}",
                "path": f"{unit_path}bench-{i}/", "position": i, "title": doc["title"], "description": "",
                "owner": "admin", "created": when, "modified": when, "published": when,
                "effective": doc.get("effective"), "expires": doc.get("expires"), "state": "published",
                "inherit_roles": True, "version": 1,
            })  # fmt: skip
            rows.append({
                "id": next_id + i, "index_number": f"{org_code}/{when.year}-b{i:06d}",
                "doc_number": doc.get("doc_number", ""), "subject": "综合政务", "genre": "通知",
                "body": "<p>" + doc["text"] + "</p>", "summary": "", "keywords": "", "publisher": "",
                "disclosure_mode": "主动公开", "validity": "有效", "superseded_by": "",
            })  # fmt: skip
            if len(nodes) >= 2000:
                flush()
        if nodes:
            flush()
    engine.dispose()


def run(*args: str) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = portal(list(args))
    if code not in (0, None):
        raise SystemExit(f"portal {' '.join(args)} failed ({code}): {err.getvalue()[-2000:]}")
    return err.getvalue()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2011)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    args = ap.parse_args(argv)

    work = args.dir or Path(tempfile.mkdtemp(prefix="reindex-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "portal.db"
    ini = work / "bench.ini"
    ini.write_text(INI.format(db=db, blobs=work / "blobs", index=work / "index", procs=args.procs), "utf-8")
    if not db.exists():
        run("-c", str(ini), "init")
        populate(db, args.docs, args.seed)

    with script_request(str(ini)) as request:  # the app configured as the CLI has it (content types loaded)
        t0 = time.perf_counter()
        built = sum(1 for _ in tqdm(all_documents(request.dbsession), total=args.docs, desc="documents only",
                                    unit="doc"))  # fmt: skip
        docs_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    run("-c", str(ini), "reindex")
    reindex_s = time.perf_counter() - t0

    print("\n=== results ===")
    print(f"documents built from the database: {built:,} in {docs_s:,.1f} s ({built / docs_s:,.0f} docs/s)")
    print(f"portal reindex (procs={args.procs}): {reindex_s:,.1f} s ({built / reindex_s:,.0f} docs/s)")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Adding an item to a big column: one `content.create` in a folder of N items, against the same
in an empty folder of the same portal (the baseline), so the figure is the growth with N.

Adding used to load every sibling (the next position, the free name, the taken-name check);
now each is one query. Throwaway SQLite portal, search drains off (the index is not measured).

    .venv/bin/python bench/create.py --items 20000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from content_types.page import Page  # noqa: E402
from portal import content, main  # noqa: E402
from portal.cli import app_request  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Node, Unit, get_engine  # noqa: E402
from portal.units import set_up_site  # noqa: E402
from tests.conftest import test_settings  # noqa: E402

RUNS = 7


def folder(app, title: str) -> tuple[int, str]:
    with app_request(app.registry) as request:
        town = request.dbsession.scalar(select(Unit).where(Unit.title == "黄梅镇"))
        node = content.create(request, town, "Folder", {"title": title}, unrestricted=True)
        return node.id, node.path


def fill(app, folder_id: int, path: str, items: int) -> None:
    """N private pages straight into the session (making them through the actions would take minutes)."""
    with app_request(app.registry) as request:
        for i in range(items):
            page = Page(title=f"页面{i}", state="private", name=f"p{i}", path=f"{path}p{i}/", position=i,
                        parent_id=folder_id)
            request.dbsession.add(page)


def time_create(app, folder_id: int) -> list[float]:
    times = []
    for _ in range(RUNS):
        with app_request(app.registry) as request:
            node = request.dbsession.get(Node, folder_id)
            started = time.perf_counter()
            content.create(request, node, "Page", {"title": "新页面"}, unrestricted=True)
            request.dbsession.flush()
            times.append(time.perf_counter() - started)
    return times


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="items already in the big folder")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="bench-create-"))
    settings = test_settings(f"sqlite:///{where}/portal.db", where / "blobs", where / "index",
                             **{"search.drain_after_commit": "false", "search.drain_on_start": "false"})
    engine = get_engine(settings)
    upgrade(engine)
    app = main({}, **{**settings, "portal.engine": engine})
    with app_request(app.registry) as request:
        set_up_site(request)
    empty, _ = folder(app, "空栏目")
    big, path = folder(app, "大栏目")
    fill(app, big, path, args.items)
    baseline, loaded = statistics.median(time_create(app, empty)), statistics.median(time_create(app, big))
    print(f"content.create, median of {RUNS}: empty folder {baseline * 1000:.1f} ms, "
          f"folder of {args.items:,} items {loaded * 1000:.1f} ms (x{loaded / baseline:.2f})")


if __name__ == "__main__":
    main_()

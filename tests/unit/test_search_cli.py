"""`portal -c INI reindex`, `portal -c INI indexer [--once]` and `portal -c INI check-index [--repair]` on a
throwaway SQLite database.

The .ini turns off the after-commit drain and the drain at start-up, so that what reaches the index
is exactly what these commands put there.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from portal import content
from portal.cli import main, script_request
from portal.models import Node, Unit
from search import SearchQuery, WhooshBackend
from search.backend import EVERYONE
from search.outbox import SearchOutbox
from tests.unit.test_cli import INI as CLI_INI

# The CLI tests' settings, with the outbox left alone so each command's own effect shows.
INI = CLI_INI + "search.drain_after_commit = false\nsearch.drain_on_start = false\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: Any) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("search-cli")
    ini = tmp / "test.ini"
    ini.write_text(INI.format(db=tmp / "portal.db", blobs=tmp / "blobs", index=tmp / "index"), encoding="utf-8")
    code, out, err = run_cli(str(ini), "init")
    assert code == 0, err
    return {"ini": str(ini), "db": tmp / "portal.db", "index": tmp / "index"}


@pytest.fixture
def db(env: dict[str, Any]) -> Any:
    engine = create_engine(f"sqlite:///{env['db']}")
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def index(env: dict[str, Any]) -> Any:
    """The index as a web process would open it."""
    backend = WhooshBackend(env["index"])
    yield backend
    backend.close()


def run_cli(ini: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-c", ini, *args])
    return code, out.getvalue(), err.getvalue()


def publish_disclosure(ini: str, title: str, body: str) -> int:
    """Create and publish a disclosure in 黄梅镇 in its own committed transaction (as set-up code, with no
    user); returns its id."""
    with script_request(ini) as request:
        town = request.dbsession.scalar(select(Unit).where(Unit.title == "黄梅镇"))
        node = content.create(request, town, "Disclosure", {"title": title, "body": body, "subject": "综合政务",
                                                             "genre": "通知"}, unrestricted=True)
        content.set_state(request, node, "published", "publish")
        return node.id


def delete_node(ini: str, node_id: int) -> None:
    with script_request(ini) as request:
        content.delete(request, request.dbsession.get(Node, node_id), unrestricted=True)


def hits(backend: WhooshBackend, text: str) -> list[str]:
    return [h.id for h in backend.query(SearchQuery(text=text, principals=[EVERYONE])).hits]


def waiting(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count(SearchOutbox.id)))


def indexable_count(db: Session) -> int:
    return db.scalar(select(func.count(Node.id)).where(Node.type.notin_(("Portal", "Unit", "Folder", "Resource"))))


def test_init_leaves_the_standard_pages_in_the_outbox(env, db):
    """With the drains off, nothing is indexed until a command does it."""
    assert waiting(db) > 0
    assert indexable_count(db) > 30  # every unit's 信息公开指南


def test_reindex_prints_the_count_and_the_document_is_found(env, db, index):
    node_id = publish_disclosure(env["ini"], "重建索引测试", "<p>全量重建之后可以检索</p>")
    assert hits(index, "全量重建") == []
    code, out, err = run_cli(env["ini"], "reindex")
    assert code == 0, err
    match = re.search(r"indexed (\d+) documents into (.+)", out)
    assert match, out
    assert int(match.group(1)) == indexable_count(db)
    assert Path(match.group(2).strip()) == Path(env["index"])
    assert hits(index, "全量重建") == [str(node_id)]
    assert hits(index, "政府信息公开指南")  # the units' guides, published at init
    assert index.doc_count() == indexable_count(db)
    assert waiting(db) == 0  # what the rebuild covered is done with


def test_reindex_while_a_searcher_of_the_old_index_is_open(env, db, index):
    before = publish_disclosure(env["ini"], "旧索引文件", "<p>旧代索引内容</p>")
    assert run_cli(env["ini"], "reindex")[0] == 0
    assert hits(index, "旧代索引") == [str(before)]
    old_searcher = index._reader().searcher  # a search in progress on the old generation
    old_count = old_searcher.doc_count()

    after = publish_disclosure(env["ini"], "新索引文件", "<p>新代索引内容</p>")
    code, out, err = run_cli(env["ini"], "reindex")
    assert code == 0, err

    assert old_searcher.doc_count() == old_count  # still readable after the swap
    assert hits(index, "新代索引") == [str(after)]  # the next query sees the new generation
    assert hits(index, "旧代索引") == [str(before)]
    gens = [p for p in Path(env["index"]).iterdir() if p.is_dir() and p.name.startswith("gen-")]
    assert len(gens) == 1


def test_indexer_once_applies_the_waiting_outbox_rows(env, db, index):
    assert run_cli(env["ini"], "reindex")[0] == 0
    node_id = publish_disclosure(env["ini"], "外包箱处理", "<p>索引进程应用外包箱</p>")
    assert waiting(db) > 0 and hits(index, "索引进程") == []
    code, out, err = run_cli(env["ini"], "indexer", "--once")
    assert code == 0, err
    assert re.search(r"applied \d+ changes, 0 waiting", err), err
    assert waiting(db) == 0
    assert hits(index, "索引进程") == [str(node_id)]

    delete_node(env["ini"], node_id)
    assert waiting(db) > 0 and hits(index, "索引进程") == [str(node_id)]
    assert run_cli(env["ini"], "indexer", "--once")[0] == 0
    assert waiting(db) == 0 and hits(index, "索引进程") == []


def test_indexer_once_with_nothing_waiting(env, db):
    assert run_cli(env["ini"], "indexer", "--once")[0] == 0
    code, out, err = run_cli(env["ini"], "indexer", "--once")
    assert code == 0 and "applied" not in err and waiting(db) == 0


def test_start_up_refills_an_index_emptied_by_a_format_upgrade(env: dict[str, Any]) -> None:
    from types import SimpleNamespace

    from search.integration import on_start

    node_id = publish_disclosure(env["ini"], "格式升级测试", "升级以后仍能找到这份文件")
    assert run_cli(env["ini"], "reindex")[0] == 0
    gen = (env["index"] / "CURRENT").read_text("utf-8").strip()
    (env["index"] / gen / "FORMAT").write_text("1\n", "utf-8")  # as an older release wrote it
    with script_request(env["ini"]) as request:
        registry = request.registry
    backend = registry["search_backend"]
    assert backend.needs_rebuild and hits(backend, "升级以后") == []
    on_start(SimpleNamespace(app=SimpleNamespace(registry=registry)))
    assert not backend.needs_rebuild
    assert hits(backend, "升级以后") == [str(node_id)]


def node_path(db: Session, node_id: int) -> str:
    return db.scalar(select(Node.path).where(Node.id == node_id))


def test_check_index_reports_every_difference_exactly_and_repairs_them(env, db, index):
    """A missing, an extra and two stale documents (one whose node changed without its outbox row,
    as a lost update leaves it, one indexed with another state); the check names each, exits 2, and
    `--repair` fixes them."""
    assert run_cli(env["ini"], "reindex")[0] == 0
    missing, retitled, restated = (publish_disclosure(env["ini"], f"索引核对{n}", f"<p>核对正文{n}</p>")
                                   for n in range(3))
    assert run_cli(env["ini"], "indexer", "--once")[0] == 0
    code, out, err = run_cli(env["ini"], "check-index", "--quiet")
    assert code == 0 and out.splitlines()[-1].endswith(": 0 missing, 0 extra, 0 stale"), (out, err)

    index.unindex([str(missing)])
    index.index([{"id": "999999", "path": "/no-such-unit/ghost/", "title": "幽灵文档", "type": "Page",
                  "state": "published", "allowed": [EVERYONE]}])
    db.execute(update(Node).where(Node.id == retitled).values(title="改过的标题"))  # no outbox row
    db.execute(update(Node).where(Node.id == restated).values(state="private"))
    db.commit()

    code, out, err = run_cli(env["ini"], "check-index", "--quiet")
    assert code == 2
    lines = out.splitlines()
    assert lines[:3] == [f"missing\t{missing}\t{node_path(db, missing)}\tstate published",
                         "extra\t999999\t/no-such-unit/ghost/\tnot in the database, or not searchable",
                         f"stale\t{retitled}\t{node_path(db, retitled)}\ttitle"]
    assert re.fullmatch(rf"stale\t{restated}\t{re.escape(node_path(db, restated))}\t"
                        r"state published -> private; allowed -system\.Everyone( [-+]\S+)*", lines[3]), lines[3]
    assert re.fullmatch(r"checked (\d+) documents in the database and (\d+) in the index: "
                        r"1 missing, 1 extra, 2 stale", lines[4]), lines[4]
    assert len(lines) == 5
    assert "4 differences between the search index and the database" in err and "--repair" in err

    code, out, err = run_cli(env["ini"], "check-index", "--quiet", "--repair")
    assert code == 0, err
    assert "repaired: indexed 1 missing, removed 1 extra, reindexed 2 stale (4 documents written or removed)" in out
    assert out.splitlines()[-1].startswith("after the repair: ") and out.endswith(": 0 missing, 0 extra, 0 stale\n")
    assert hits(index, "核对正文0") == [str(missing)]
    assert hits(index, "幽灵文档") == []
    assert hits(index, "改过的标题") == [str(retitled)]
    assert hits(index, "核对正文2") == []  # private now: not for the public
    assert run_cli(env["ini"], "check-index", "--quiet")[0] == 0


def test_check_index_leaves_what_waits_in_the_outbox_to_the_indexer(env, db, index):
    """A change whose rows are still in the outbox is not a difference: `portal indexer` applies it
    (and so does `--repair`, before it compares)."""
    assert run_cli(env["ini"], "reindex")[0] == 0
    node_id = publish_disclosure(env["ini"], "尚未应用", "<p>外包箱中等待</p>")
    assert waiting(db) > 0 and hits(index, "外包箱中等待") == []
    code, out, err = run_cli(env["ini"], "check-index")
    assert code == 0, (out, err)
    assert re.search(r": 0 missing, 0 extra, 0 stale; \d+ outbox rows \(1 documents\) not applied yet, the oldest "
                     r"\d+ s old", out), out
    assert "database" in err and "index" in err  # the progress bars
    assert waiting(db) > 0 and hits(index, "外包箱中等待") == []  # a check writes nothing
    code, out, err = run_cli(env["ini"], "check-index", "--repair", "--quiet")  # a repair applies them first
    assert code == 0 and re.match(r"applied \d+ outbox rows that were waiting\n", out), (out, err)
    assert waiting(db) == 0 and hits(index, "外包箱中等待") == [str(node_id)]


def test_reindex_and_check_index_wait_for_a_drain_and_give_up_when_the_lock_stays_taken(env, monkeypatch):
    """The drain lock also keeps a rebuild and a check from racing a drain; they say so and exit 2."""
    import fcntl
    import os

    from search import indexer

    monkeypatch.setattr(indexer, "DRAIN_TIMEOUT", 0.2)
    fd = os.open(env["index"] / indexer.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        for command in ("reindex", "check-index"):
            code, out, err = run_cli(env["ini"], command)
            assert code == 2 and "busy" in err and "try again" in err, (command, out, err)
    finally:
        os.close(fd)

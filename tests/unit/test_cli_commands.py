"""`portal` commands against a throwaway SQLite database with the search drains on (the defaults):
the listing commands leave the search outbox alone, and the demo command of content_types works."""
from __future__ import annotations

import argparse
import re
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from content_types import demo
from content_types.disclosure_catalogue import GUIDE_NAME
from portal.cli import script_request
from portal.models import Node
from search.outbox import SearchOutbox
from tests.unit.test_cli import INI
from tests.unit.test_search_cli import run_cli


@pytest.fixture(scope="module")
def env(tmp_path_factory: Any) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cli-commands")
    ini = tmp / "test.ini"
    ini.write_text(INI.format(db=tmp / "portal.db", blobs=tmp / "blobs", index=tmp / "index") +
                   "\n[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:7654\n", encoding="utf-8")
    code, _out, err = run(str(ini), "init")
    assert code == 0, err
    return {"ini": str(ini), "db": tmp / "portal.db"}


@pytest.fixture
def db(env: dict[str, Any]) -> Any:
    engine = create_engine(f"sqlite:///{env['db']}")
    with Session(engine) as session:
        yield session
    engine.dispose()


run = run_cli


def waiting(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count(SearchOutbox.id)))


def test_listing_commands_leave_the_search_outbox_alone(env, db):
    assert waiting(db) == 0  # init drained what it queued
    guide = db.scalar(select(Node.id).where(Node.path == f"/huangmeizhen/{GUIDE_NAME}/"))
    db.add(SearchOutbox(node_id=guide, op="index"))  # as a crash before the drain leaves it
    db.commit()
    for command in (["unit", "list"], ["user", "list"]):
        code, out, err = run(env["ini"], *command)
        assert code == 0, err
        assert waiting(db) == 1, command
    with script_request(env["ini"]):  # other commands apply it at start-up, as the web app does
        pass
    assert waiting(db) == 0


def test_the_demo_command_is_registered_by_content_types(env, capsys):
    parser = argparse.ArgumentParser(prog="portal")
    parser.add_argument("-c", "--config")
    demo.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["-c", env["ini"], "demo"])
    assert args.func is demo.cmd_demo
    for added, content in ((3, r"demo content: [1-9]\d* items added \(.+ pictures\)"),
                           (0, "demo content: 0 items added")):  # idempotent
        args.func(args)
        out = capsys.readouterr().out.splitlines()
        assert out[:4] == [
            "demo accounts (log in at http://127.0.0.1:7654/@@login):",  # where the ini's server listens
            "  admin        password admin-demo-2026    网站管理员 (manager)",
            "  shenhe       password shenhe-demo-2026   县政府办审核员 (county reviewer)",
            "  hmz-editor   password editor-demo-2026   黄梅镇信息员 (editor of 黄梅镇)",
        ]
        assert re.fullmatch(content, out[4]), out[4]
        assert out[5:] == [f"demo datasets: {added} added"]  # the catalogue's part (entry point group portal.demo)


def test_the_server_address_is_read_from_the_ini(tmp_path):
    from portal.cli import server_urls

    ini = tmp_path / "a.ini"
    ini.write_text("[server:main]\nlisten = 127.0.0.1:7000 [::1]:7001\n", encoding="utf-8")
    assert server_urls(str(ini)) == ["http://127.0.0.1:7000", "http://[::1]:7001"]
    ini.write_text("[server:main]\nhost = 0.0.0.0\nport = 8000\n", encoding="utf-8")
    assert server_urls(str(ini)) == ["http://0.0.0.0:8000"]

"""The `portal` command on a throwaway SQLite database: init, user add, user list, and its errors."""
from __future__ import annotations

import contextlib
import io
import sys

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from portal import security
from portal.cli import main
from portal.models import LocalRole, Node, Unit, User

INI = """\
[app:main]
use = egg:huangmei-portal
pyramid.reload_templates = false
pyramid.default_locale_name = zh_CN
sqlalchemy.url = sqlite:///{db}
retry.attempts = 3
portal.session_secret = cli-test-secret-0123456789-0123456789-0123456789
portal.secure_cookies = false
portal.blobs_dir = {blobs}
portal.max_upload_size = 20MB
portal.argon2_time_cost = 1
portal.argon2_memory_cost = 1024
portal.argon2_parallelism = 1
search.index_dir = {index}
"""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict:
    """An .ini on a fresh database, initialised once for the module (`init` output kept)."""
    tmp = tmp_path_factory.mktemp("cli")
    ini = tmp / "test.ini"
    db = tmp / "portal.db"
    ini.write_text(INI.format(db=db, blobs=tmp / "blobs", index=tmp / "index"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-c", str(ini), "init"])
    return {"ini": str(ini), "db": db, "code": code, "out": out.getvalue(), "err": err.getvalue()}


@pytest.fixture
def db(cli_env):
    engine = create_engine(f"sqlite:///{cli_env['db']}")
    with Session(engine) as session:
        yield session
    engine.dispose()


def run(cli_env, monkeypatch, capsys, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main(["-c", cli_env["ini"], *args])
    out, err = capsys.readouterr()
    return code, out, err


def user(db, login: str) -> User | None:
    db.expire_all()
    return db.scalar(select(User).where(User.login == login))


def local_roles(db, login: str) -> set[tuple[str, str]]:
    rows = db.execute(select(LocalRole.role, Node.path).join(Node, Node.id == LocalRole.node_id)
                      .where(LocalRole.principal == f"user:{login}"))
    return {(role, path) for role, path in rows}


# -- init -----------------------------------------------------------------------------------------

def test_init_creates_the_database_and_units(cli_env, db):
    assert cli_env["code"] == 0, cli_env["err"]
    out = cli_env["out"]
    assert "database ready" in out
    assert "83 created" in out
    assert "县物价局" in out and "more than once" in out
    assert db.scalar(select(Unit).where(Unit.title == "黄梅镇")).path == "/huangmeizhen/"


def test_init_again_changes_nothing(cli_env, monkeypatch, capsys, db):
    code, out, _err = run(cli_env, monkeypatch, capsys, "init")
    assert code == 0
    assert "0 created" in out and "83 already there" in out
    assert "县物价局" in out
    assert len(db.scalars(select(Unit)).all()) == 83


def test_unit_list(cli_env, monkeypatch, capsys):
    code, out, _err = run(cli_env, monkeypatch, capsys, "unit", "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 83
    assert "/huangmeizhen/\t黄梅镇\t乡镇\t421127-001" in lines


# -- user add -------------------------------------------------------------------------------------

def test_user_add_with_password_from_stdin(cli_env, monkeypatch, capsys, db):
    code, out, _err = run(cli_env, monkeypatch, capsys, "user", "add", "alice", "--password-stdin",
                          "--fullname", "张三", stdin="a-long-password\n")
    assert code == 0
    assert "alice" in out
    alice = user(db, "alice")
    assert alice.fullname == "张三"
    assert alice.password_hash and "a-long-password" not in alice.password_hash
    assert security.check_password(alice, "a-long-password")
    assert not security.check_password(alice, "a-long-password\n")
    assert alice.groups == []
    assert local_roles(db, "alice") == set()


def test_user_add_to_groups(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "bob", "--password-stdin",
                          "--group", "managers", stdin="a-long-password\n")
    assert code == 0, err
    assert [g.name for g in user(db, "bob").groups] == ["managers"]


def test_user_add_reviewer(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "carol", "--password-stdin", "--reviewer",
                          stdin="a-long-password\n")
    assert code == 0, err
    assert [g.name for g in user(db, "carol").groups] == ["reviewers"]


@pytest.mark.parametrize("login, ref", [("dave", "黄梅镇"), ("erin", "/huangmeizhen/"), ("frank", "huangmeizhen"),
                                        ("grace", "/huangmeizhen"), ("heidi", "黄梅县黄梅镇人民政府")])
def test_user_add_editor_of_a_unit(cli_env, monkeypatch, capsys, db, login, ref):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", login, "--password-stdin",
                          "--editor-of", ref, stdin="a-long-password\n")
    assert code == 0, err
    assert local_roles(db, login) == {("Reader", "/huangmeizhen/"), ("Contributor", "/huangmeizhen/"),
                                      ("Editor", "/huangmeizhen/")}
    assert user(db, login).groups == []


def test_user_add_editor_of_two_units(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "ivan", "--password-stdin",
                          "--editor-of", "黄梅镇", "--editor-of", "孔垄镇", stdin="a-long-password\n")
    assert code == 0, err
    assert {path for _role, path in local_roles(db, "ivan")} == {"/huangmeizhen/", "/konglongzhen/"}


def test_user_list(cli_env, monkeypatch, capsys):
    run(cli_env, monkeypatch, capsys, "user", "add", "judy", "--password-stdin", "--reviewer",
        "--editor-of", "孔垄镇", "--fullname", "李四", stdin="a-long-password\n")
    code, out, _err = run(cli_env, monkeypatch, capsys, "user", "list")
    assert code == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert "judy" in lines
    login, fullname, groups, local = lines["judy"]
    assert fullname == "李四"
    assert groups == "groups=reviewers"
    assert local.startswith("local=")
    assert set(local.removeprefix("local=").split()) == {"Reader@/konglongzhen/", "Contributor@/konglongzhen/",
                                                         "Editor@/konglongzhen/"}
    logins = [line.split("\t")[0] for line in out.splitlines()]
    assert logins == sorted(logins)
    assert "a-long-password" not in out


# -- errors ---------------------------------------------------------------------------------------

def test_unknown_unit_is_an_error_and_adds_no_user(cli_env, monkeypatch, capsys, db):
    code, out, err = run(cli_env, monkeypatch, capsys, "user", "add", "kim", "--password-stdin",
                         "--editor-of", "火星镇", stdin="a-long-password\n")
    assert code == 2
    assert "火星镇" in err and "not found" in err
    assert "Traceback" not in err
    assert user(db, "kim") is None
    assert local_roles(db, "kim") == set()


def test_ambiguous_unit_is_an_error(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "leo", "--password-stdin",
                          "--editor-of", "便民服务中心", stdin="a-long-password\n")
    assert code == 2
    assert "ambiguous" in err and "/huangmeizhen/bianminfuwuzhongxin/" in err
    assert user(db, "leo") is None


def test_duplicate_login_is_an_error(cli_env, monkeypatch, capsys, db):
    assert run(cli_env, monkeypatch, capsys, "user", "add", "mallory", "--password-stdin",
               stdin="a-long-password\n")[0] == 0
    before = user(db, "mallory").password_hash
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "mallory", "--password-stdin",
                          "--group", "managers", stdin="another-password\n")
    assert code == 2
    assert "mallory" in err and "exists" in err
    again = user(db, "mallory")
    assert again.password_hash == before and again.groups == []


@pytest.mark.parametrize("password", ["short", "1234567", ""])
def test_short_password_is_an_error(cli_env, monkeypatch, capsys, db, password):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "nina", "--password-stdin",
                          stdin=password + "\n")
    assert code == 2
    assert "8 characters" in err
    assert user(db, "nina") is None


def test_unknown_group_is_an_error(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "oscar", "--password-stdin",
                          "--group", "admins", stdin="a-long-password\n")
    assert code == 2
    assert "admins" in err and "managers" in err and "reviewers" in err
    assert user(db, "oscar") is None


def test_no_terminal_and_no_password_stdin_is_an_error(cli_env, monkeypatch, capsys, db):
    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "peggy", stdin="a-long-password\n")
    assert code == 2
    assert "--password-stdin" in err
    assert user(db, "peggy") is None


def test_missing_config_option_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["user", "list"])
    assert exc.value.code == 2

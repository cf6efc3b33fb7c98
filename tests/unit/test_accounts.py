"""portal.accounts: groups, users, editors of a unit and finding a unit, without the CLI around them."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal import events
from portal.accounts import (EDITOR_ROLES, GROUPS, AccountError, add_user, ensure_groups, find_unit,
                             grant_editor)
from portal.cli import make_request
from portal.models import Group, LocalRole, User
from tests.conftest import PASSWORD


@pytest.fixture
def request_(app: Any, tm: Any, dbsession: Any) -> Any:
    return make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})


def roles_of(dbsession: Any, login: str) -> set[tuple[str, str]]:
    return {(r.role, r.node_id) for r in dbsession.scalars(select(LocalRole).where(LocalRole.principal == f"user:{login}"))}


def test_ensure_groups_is_idempotent(dbsession):
    first = ensure_groups(dbsession)
    again = ensure_groups(dbsession)
    assert set(first) == set(GROUPS) and {k: v.id for k, v in first.items()} == {k: v.id for k, v in again.items()}
    assert len(dbsession.scalars(select(Group)).all()) == len(GROUPS)
    assert first["managers"].roles == "Manager" and first["reviewers"].roles == "Reviewer"


@pytest.mark.parametrize("ref", ["黄梅镇", "huangmeizhen", "/huangmeizhen", "/huangmeizhen/", "黄梅县黄梅镇人民政府"])
def test_find_unit(dbsession, town, ref):
    assert find_unit(dbsession, ref) is town


@pytest.mark.parametrize("ref, why", [("火星镇", "not found"), ("便民服务中心", "ambiguous")])
def test_find_unit_refuses(dbsession, ref, why):
    with pytest.raises(AccountError, match=why):
        find_unit(dbsession, ref)


def test_add_user_with_groups_and_units_tells_the_index(request_, dbsession, town, monkeypatch):
    told: list[Any] = []
    monkeypatch.setattr(events, "notify", lambda request, event: told.append(event))
    user = add_user(dbsession, "wang", PASSWORD, ["reviewers"], ["黄梅镇"], fullname="王", request=request_)
    assert [g.name for g in user.groups] == ["reviewers"] and user.fullname == "王"
    assert roles_of(dbsession, "wang") == {(role, town.id) for role in EDITOR_ROLES}
    assert [(type(e).__name__, e.node) for e in told] == [("LocalRolesChanged", town)]


def test_grant_editor_by_login_is_idempotent(request_, dbsession, town, other_town):
    add_user(dbsession, "li", PASSWORD, [], [])
    grant_editor(request_, "li", other_town)
    grant_editor(request_, dbsession.scalar(select(User).where(User.login == "li")), other_town)
    assert roles_of(dbsession, "li") == {(role, other_town.id) for role in EDITOR_ROLES}
    with pytest.raises(AccountError, match="no user"):
        grant_editor(request_, "nobody", town)


@pytest.mark.parametrize("login, password, groups, units, why", [
    ("zhao", "short", [], [], "8 characters"),
    ("zhao", PASSWORD, ["admins"], [], "no group 'admins'"),
    ("zhao", PASSWORD, [], ["火星镇"], "not found"),
])
def test_add_user_refuses_and_adds_nothing(dbsession, login, password, groups, units, why):
    with pytest.raises(AccountError, match=why):
        add_user(dbsession, login, password, groups, units)
    assert dbsession.scalar(select(User).where(User.login == login)) is None


def test_a_login_is_taken_once(dbsession):
    add_user(dbsession, "qian", PASSWORD, [], [])
    with pytest.raises(AccountError, match="exists already"):
        add_user(dbsession, "qian", PASSWORD, ["managers"], [])


# -- passwords, disabling, removing, second factors: what each ends, and the audit log -----------

from portal import second_factor  # noqa: E402
from portal.accounts import (change_password, disable_user, enable_user, end_user_sessions, get_user,  # noqa: E402
                             remove_user, reset_second_factor)
from portal.models import AuditEntry, AuthToken, TrustedDevice, UserSession  # noqa: E402
from portal.models.node import utcnow  # noqa: E402
from portal.security import check_password  # noqa: E402


def give_sessions(dbsession: Any, user: User) -> None:
    """Two browser sessions, an API token and a remembered device, as rows."""
    import datetime as dt

    later = utcnow() + dt.timedelta(hours=1)
    for i in range(2):
        dbsession.add(UserSession(digest=f"s{i}-{user.login}".ljust(64, "0"), user_id=user.id, expires=later))
    dbsession.add(AuthToken(digest=f"t-{user.login}".ljust(64, "0"), user_id=user.id, expires=later))
    dbsession.add(TrustedDevice(digest=f"d-{user.login}".ljust(64, "0"), user_id=user.id, expires=later))
    dbsession.flush()


def count(dbsession: Any, model: Any, user: User) -> int:
    return len(dbsession.scalars(select(model).where(model.user_id == user.id)).all())


def last_entry(dbsession: Any) -> AuditEntry:
    return dbsession.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()


def test_a_new_password_ends_every_session_and_token(request_, dbsession):
    user = add_user(dbsession, "sun", PASSWORD, [], [])
    give_sessions(dbsession, user)
    assert change_password(request_, user, "another-password-1") == 3
    assert check_password(user, "another-password-1") and not check_password(user, PASSWORD)
    assert count(dbsession, UserSession, user) == count(dbsession, AuthToken, user) == 0
    assert count(dbsession, TrustedDevice, user) == 1  # the device still needs the password
    entry = last_entry(dbsession)
    assert (entry.action, entry.actor, entry.target) == ("password.changed", "", "user:sun")
    with pytest.raises(AccountError, match="8 characters"):
        change_password(request_, user, "short")


def test_disabling_ends_everything_and_enabling_gives_back_only_the_login(request_, dbsession):
    user = add_user(dbsession, "zhou", PASSWORD, [], [])
    give_sessions(dbsession, user)
    assert disable_user(request_, user) == 3
    assert user.disabled and not check_password(user, PASSWORD)
    assert count(dbsession, UserSession, user) == count(dbsession, AuthToken, user) == \
        count(dbsession, TrustedDevice, user) == 0
    assert last_entry(dbsession).action == "user.disabled"
    enable_user(request_, user)
    assert not user.disabled and check_password(user, PASSWORD)
    assert last_entry(dbsession).action == "user.enabled"


def test_removing_takes_the_local_roles_away_and_keeps_the_log(request_, dbsession, town):
    user = add_user(dbsession, "wu", PASSWORD, [], ["黄梅镇"], request=request_)
    give_sessions(dbsession, user)
    user_id = user.id
    remove_user(request_, user)
    assert dbsession.scalar(select(User).where(User.login == "wu")) is None
    assert roles_of(dbsession, "wu") == set()
    assert dbsession.scalars(select(UserSession).where(UserSession.user_id == user_id)).all() == []
    actions = dbsession.scalars(select(AuditEntry.action).where(AuditEntry.target == "user:wu")
                                .order_by(AuditEntry.id)).all()
    assert actions == ["user.created", "user.removed"]
    # a new account of the same login inherits nothing
    again = add_user(dbsession, "wu", PASSWORD, [], [])
    assert roles_of(dbsession, again.login) == set()


def test_resetting_a_second_factor(request_, dbsession):
    user = add_user(dbsession, "zheng", PASSWORD, ["managers"], [])
    second_factor.enrol(dbsession, user, second_factor.new_secret())
    give_sessions(dbsession, user)
    assert reset_second_factor(request_, user) == 3
    assert not user.has_second_factor and second_factor.recovery_codes_left(dbsession, user) == 0
    assert count(dbsession, TrustedDevice, user) == 0
    assert last_entry(dbsession).action == "second_factor.reset"


def test_ending_one_session_only_ends_that_users(request_, dbsession):
    user, other = add_user(dbsession, "feng", PASSWORD, [], []), add_user(dbsession, "chen", PASSWORD, [], [])
    give_sessions(dbsession, user)
    give_sessions(dbsession, other)
    theirs = dbsession.scalars(select(UserSession).where(UserSession.user_id == other.id)).first()
    assert end_user_sessions(request_, user, session_id=theirs.id) == 0
    mine = dbsession.scalars(select(UserSession).where(UserSession.user_id == user.id)).first()
    assert end_user_sessions(request_, user, session_id=mine.id) == 1
    assert count(dbsession, UserSession, user) == 1 and count(dbsession, UserSession, other) == 2


def test_get_user(dbsession):
    add_user(dbsession, "he", PASSWORD, [], [])
    assert get_user(dbsession, "he").login == "he"
    with pytest.raises(AccountError, match="no user 'nobody'"):
        get_user(dbsession, "nobody")


# -- the commands --------------------------------------------------------------------------

from tests.unit.test_cli import cli_env, run, user as cli_user  # noqa: E402,F401


def test_user_passwd_disable_enable_reset_otp_and_remove_commands(cli_env, monkeypatch, capsys):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    code, _out, err = run(cli_env, monkeypatch, capsys, "user", "add", "lu", "--password-stdin",
                          "--editor-of", "黄梅镇", stdin="a-long-password\n")
    assert code == 0, err
    engine = create_engine(f"sqlite:///{cli_env['db']}")
    try:
        with Session(engine) as db:
            lu = cli_user(db, "lu")
            give_sessions(db, lu)
            db.commit()
            code, out, err = run(cli_env, monkeypatch, capsys, "user", "passwd", "lu", "--password-stdin",
                                 stdin="another-long-password\n")
            assert code == 0, err
            assert "3 sessions and API tokens ended" in out
            assert check_password(cli_user(db, "lu"), "another-long-password")
            code, out, _err = run(cli_env, monkeypatch, capsys, "user", "disable", "lu")
            assert code == 0 and cli_user(db, "lu").disabled
            code, out, _err = run(cli_env, monkeypatch, capsys, "user", "enable", "lu")
            assert code == 0 and not cli_user(db, "lu").disabled
            second_factor.enrol(db, cli_user(db, "lu"), second_factor.new_secret())
            db.commit()
            code, out, _err = run(cli_env, monkeypatch, capsys, "user", "reset-otp", "lu")
            assert code == 0 and not cli_user(db, "lu").has_second_factor
            code, out, _err = run(cli_env, monkeypatch, capsys, "user", "remove", "lu")
            assert code == 0 and cli_user(db, "lu") is None
            actions = db.scalars(select(AuditEntry.action).where(AuditEntry.target == "user:lu")
                                 .order_by(AuditEntry.id)).all()
            assert actions == ["user.created", "password.changed", "user.disabled", "user.enabled",
                               "second_factor.reset", "user.removed"]
            assert db.scalars(select(AuditEntry.actor).where(AuditEntry.target == "user:lu")).all() == [""] * 6
            code, _out, err = run(cli_env, monkeypatch, capsys, "user", "disable", "nobody")
            assert code == 2 and "no user 'nobody'" in err
    finally:
        engine.dispose()

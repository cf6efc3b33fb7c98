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

"""Accounts: the groups, adding users, making someone the editor of a unit, finding a unit.

The `portal` command, the demo and the tests all make accounts through here, so a rule about
accounts (the groups and their roles, what an editor of a unit may do, how long a password is) is
written once. Failures are `AccountError`s with a message for the operator; the CLI prints them.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from . import sharing
from .models import Group, LocalRole, Node, Unit, User
from .security import hash_password, password_hasher

# name: (title, global role) -- Reviewer and Manager on the whole portal.
GROUPS = {
    "reviewers": ("县政府办公室审核员", "Reviewer"),
    "managers": ("网站管理员", "Manager"),
}
# The local roles that make someone the editor of a unit: view, add and edit there.
EDITOR_ROLES = ("Reader", "Contributor", "Editor")
MIN_PASSWORD_LENGTH = 8


class AccountError(Exception):
    """A request about accounts that cannot be done as asked (the message says why, in English)."""


def ensure_groups(dbsession: Any) -> dict[str, Group]:
    """The groups of GROUPS, created when missing; by name."""
    groups = {g.name: g for g in dbsession.scalars(select(Group))}
    for name, (title, role) in GROUPS.items():
        if name not in groups:
            groups[name] = Group(name=name, title=title, roles=role)
            dbsession.add(groups[name])
    dbsession.flush()
    return groups


def find_unit(dbsession: Any, ref: str) -> Unit:
    """A unit by URL path, URL name, title, short or full name; exactly one must match."""
    if ref.startswith("/"):
        query = select(Unit).where(Node.path == (ref if ref.endswith("/") else ref + "/"))
    else:
        query = select(Unit).where((Node.name == ref) | (Node.title == ref) | (Unit.short_name == ref)
                                   | (Unit.full_name == ref))
    units = dbsession.scalars(query).all()
    if len(units) != 1:
        found = "not found" if not units else "ambiguous: " + ", ".join(u.path for u in units)
        raise AccountError(f"unit {ref!r}: {found} — give its URL path, e.g. /xianzhengfuban, "
                           "see `portal -c INI unit list`")
    return units[0]


def check_new_password(password: str) -> None:
    """A password people choose must be long enough to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def grant_editor(request: Any, user: User | str, unit: Unit) -> None:
    """Make `user` (or the user with that login) an editor of `unit` (EDITOR_ROLES there), through
    the sharing action, so the search index learns who may now see the unit's drafts."""
    login = user.login if isinstance(user, User) else user
    if request.dbsession.scalar(select(User.id).where(User.login == login)) is None:
        raise AccountError(f"no user {login!r}")
    sharing.set_roles(request, unit, {f"user:{login}": {role: True for role in EDITOR_ROLES}})


def add_user(dbsession: Any, login: str, password: str, groups: list[str], editor_of: list[str],
             fullname: str = "", request: Any = None) -> User:
    """A new account, in `groups`, editor of the units named in `editor_of` (see find_unit).

    Without a request (test set-up, before any content exists) the editor roles are written as rows
    and nobody is told; with one they go through `grant_editor`.
    """
    check_new_password(password)
    if dbsession.scalar(select(User).where(User.login == login)) is not None:
        raise AccountError(f"user {login!r} exists already")
    known = ensure_groups(dbsession)
    unknown = [name for name in groups if name not in known]
    if unknown:
        raise AccountError(f"no group {unknown[0]!r}; groups: {', '.join(sorted(known))}")
    units = [find_unit(dbsession, ref) for ref in editor_of]
    hasher = password_hasher(request.registry) if request is not None else None  # else: the current app's
    user = User(login=login, fullname=fullname, password_hash=hash_password(password, hasher))
    user.groups.extend(known[name] for name in groups)
    dbsession.add(user)
    dbsession.flush()
    for unit in units:
        if request is not None:
            grant_editor(request, user, unit)
        else:
            dbsession.add_all(LocalRole(node_id=unit.id, principal=user.principal, role=role)
                              for role in EDITOR_ROLES)
    dbsession.flush()
    return user

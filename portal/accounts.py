"""Accounts: the groups, adding, disabling and removing users, passwords, resetting a second
factor, ending sessions, making someone the editor of a unit, finding a unit.

The `portal` command, the demo and the tests all make accounts through here, so a rule about
accounts (the groups and their roles, what an editor of a unit may do, how long a password is) is
written once. Failures are `AccountError`s with a message for the operator; the CLI prints them.

Everything here that changes who may log in is in the audit log (portal.audit), and ends what it
must: a new password, a disabled account and a reset second factor end every session and API
token of the user (a stolen cookie or token dies with them), a removed account takes its local
roles away first (a later account of the same login must not inherit them).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from . import audit, second_factor, sharing
from .models import AuthToken, Group, LocalRole, Node, Unit, User, UserSession
from .security import end_sessions, hash_password, password_hasher

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
    audit.record(request, "user.created", user.principal,
                 {"groups": sorted(groups), "editor_of": [u.path for u in units]}, dbsession=dbsession)
    dbsession.flush()
    return user


def get_user(dbsession: Any, login: str) -> User:
    user = dbsession.scalar(select(User).where(User.login == login))
    if user is None:
        raise AccountError(f"no user {login!r}")
    return user


def change_password(request: Any, user: User, password: str, keep: UserSession | None = None) -> int:
    """Set a new password; every session (but `keep`, the one that changed it) and every API token
    of the user ends. Returns how many ended."""
    check_new_password(password)
    user.password_hash = hash_password(password, password_hasher(request.registry))
    ended = end_sessions(request.dbsession, user, keep=keep)
    audit.record(request, "password.changed", user.principal, {"ended": ended})
    return ended


def disable_user(request: Any, user: User) -> int:
    """The account can no longer log in; its sessions, tokens and remembered devices end."""
    user.disabled = True
    ended = end_sessions(request.dbsession, user)
    second_factor.forget_devices(request.dbsession, user)
    audit.record(request, "user.disabled", user.principal, {"ended": ended})
    return ended


def enable_user(request: Any, user: User) -> None:
    user.disabled = False
    audit.record(request, "user.enabled", user.principal)


def remove_user(request: Any, user: User) -> None:
    """Delete the account, after taking its local roles away through the sharing action (so the
    search index forgets what it could see, and a new account of that login inherits nothing)."""
    node_ids = select(LocalRole.node_id).where(LocalRole.principal == user.principal)
    nodes = request.dbsession.scalars(select(Node).where(Node.id.in_(node_ids)).order_by(Node.path)).all()
    for node in nodes:
        sharing.set_roles(request, node, {user.principal: {role: False for role in sharing.ROLE_IDS}})
    # roles sharing does not offer (none today) go too
    request.dbsession.execute(delete(LocalRole).where(LocalRole.principal == user.principal))
    audit.record(request, "user.removed", user.principal,
                 {"fullname": user.fullname, "groups": [g.name for g in user.groups]})
    request.dbsession.delete(user)
    request.dbsession.flush()


def reset_second_factor(request: Any, user: User) -> int:
    """A manager's action for a lost phone: the factor, its recovery codes and remembered devices
    go, and every session and token of the user ends (whoever holds the phone is out too). The
    user sets up a new factor at the next login when one is required."""
    second_factor.remove(request.dbsession, user)
    ended = end_sessions(request.dbsession, user)
    audit.record(request, "second_factor.reset", user.principal, {"ended": ended})
    return ended


def end_user_sessions(request: Any, user: User, session_id: int | None = None, token_id: int | None = None,
                      keep: UserSession | None = None) -> int:
    """End one browser session or API token of the user (by id), or else all of them (but `keep`)."""
    if session_id is None and token_id is None:
        ended = end_sessions(request.dbsession, user, keep=keep)
        audit.record(request, "sessions.ended", user.principal, {"ended": ended})
        return ended
    model, row_id = (UserSession, session_id) if session_id is not None else (AuthToken, token_id)
    row = request.dbsession.get(model, row_id)
    if row is None or row.user_id != user.id:
        return 0
    request.dbsession.delete(row)
    request.dbsession.flush()
    audit.record(request, "session.ended", user.principal,
                 {"session" if model is UserSession else "token": row_id, "address": row.address})
    return 1

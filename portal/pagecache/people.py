"""The reader's own tag (`user:<login>`, .tags.user_tag): bumped when what a user's kept pages
show of them may have changed -- their account (name, disabled, password), their groups, a group's
roles, a local role granted to or taken from them (or their group) anywhere (the menus offer the
columns they may add to), or one of their sessions ended (a logout, "log out everywhere", a
password change).

One place sees every such change, whichever code made it: the session's flushes. The tags are
collected after each flush and bumped once, in sorted order, just before the transaction commits
(after the content's tags, which portal.pagecache bumps in the transaction's own before-commit hook).
"""
from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import event, select

from ..models import Group, LocalRole, User, UserSession
from ..models.principals import user_groups
from .tags import bump, user_tag

TOUCHED = "portal.pagecache.people"  # Session.info: the user tags this transaction touched


def touched_users(session: Any) -> set[str]:
    """The tags of the users whose account, groups or sessions this flush changes."""
    tags: set[str] = set()
    groups: set[str] = set()
    everyone = False
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, User) and (obj in session.deleted or session.is_modified(obj)):
            tags.add(user_tag(obj.login))
        elif isinstance(obj, UserSession) and obj in session.deleted and obj.user is not None:
            tags.add(user_tag(obj.user.login))
        elif isinstance(obj, Group) and obj not in session.new:
            groups.add(obj.name)
        elif isinstance(obj, LocalRole):
            kind, _sep, name = obj.principal.partition(":")
            if kind == "user":
                tags.add(user_tag(name))
            elif kind == "group":
                groups.add(name)
            else:  # Authenticated: every user
                everyone = True
    if groups or everyone:
        logins = select(User.login)
        if not everyone:
            logins = (logins.join(user_groups, user_groups.c.user_id == User.id)
                      .join(Group, Group.id == user_groups.c.group_id).where(Group.name.in_(groups)))
        tags |= {user_tag(login) for login in session.connection().execute(logins).scalars()}
    return tags


def after_flush(session: Any, _context: Any) -> None:
    tags = touched_users(session)
    if tags:
        session.info.setdefault(TOUCHED, set()).update(tags)


def before_commit(session: Any) -> None:
    session.flush()
    tags = session.info.pop(TOUCHED, None)
    if tags:
        bump(session, tags)


def after_rollback(session: Any) -> None:
    session.info.pop(TOUCHED, None)


def listen(session_factory: Any) -> None:
    event.listen(session_factory, "after_flush", after_flush)
    event.listen(session_factory, "before_commit", before_commit)
    event.listen(session_factory, "after_soft_rollback", lambda session, _previous: after_rollback(session))

"""The `portal` command: `portal -c INI init | demo | user add | user list`."""
from __future__ import annotations

import argparse
from importlib.metadata import entry_points
import getpass
import sys
from typing import Any

from contextlib import contextmanager
from typing import Iterator

from pyramid.interfaces import ISecurityPolicy
from pyramid.paster import get_app, get_appsettings, setup_logging
from pyramid.request import Request, apply_request_extensions
from pyramid.threadlocal import manager
from sqlalchemy import select

from . import events
from .models import Group, LocalRole, Node, Unit, User, get_engine
from .security import hash_password

GROUPS = {
    "reviewers": ("县政府办公室审核员", "Reviewer"),
    "managers": ("网站管理员", "Manager"),
}
EDITOR_ROLES = ("Reader", "Contributor", "Editor")


class CommandError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@contextmanager
def script_request(config_uri: str) -> Iterator[Any]:
    """A request of the configured app, inside one transaction (committed unless an error escapes)."""
    request = make_request(get_app(config_uri).registry)
    manager.push({"registry": request.registry, "request": request})
    try:
        with request.tm:
            yield request
    finally:
        manager.pop()


def make_request(registry: Any, environ: dict[str, Any] | None = None) -> Request:
    """A request outside of a web server (scripts and test set-up)."""
    request = Request.blank("/", base_url="http://127.0.0.1:6543", environ=environ)
    request.registry = registry
    apply_request_extensions(request)
    return request


def act_as(request: Any, user: User | None) -> None:
    """Run the following content operations as `user` (the CLI has no login)."""
    request.registry.getUtility(ISecurityPolicy).identity_cache.set(request, user)


def ensure_groups(dbsession: Any) -> dict[str, Group]:
    groups = {g.name: g for g in dbsession.scalars(select(Group))}
    for name, (title, role) in GROUPS.items():
        if name not in groups:
            groups[name] = Group(name=name, title=title, roles=role)
            dbsession.add(groups[name])
    dbsession.flush()
    return groups


def find_unit(dbsession: Any, ref: str) -> Unit:
    """A unit by URL path, URL name, title or short name."""
    path = ref if ref.startswith("/") else None
    query = select(Unit).where(Node.path == (path if path.endswith("/") else path + "/")) if path else \
        select(Unit).where((Node.name == ref) | (Node.title == ref) | (Unit.short_name == ref) | (Unit.full_name == ref))
    units = dbsession.scalars(query).all()
    if len(units) != 1:
        raise CommandError(f"unit {ref!r}: {'not found' if not units else 'ambiguous: ' + ', '.join(u.path for u in units)}"
                           " — give its URL path, e.g. /xianzhengfuban, see `portal -c INI unit list`")
    return units[0]


def cmd_init(args: argparse.Namespace) -> None:
    from .migrate import upgrade
    from .units import ensure_root, load_units, read_unit_list

    settings = get_appsettings(args.config)
    engine = get_engine(settings)
    upgrade(engine)
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    with script_request(args.config) as request:
        root = ensure_root(request.dbsession)
        ensure_groups(request.dbsession)
        report = load_units(request.dbsession, root, read_unit_list(), request=request)
    print(f"units: {len(report.created)} created, {len(report.existing)} already there")
    for title in report.duplicates:
        print(f"note: the unit list names {title} more than once; loaded it once")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import load_demo

    with script_request(args.config) as request:
        lines = load_demo(request)
    print("\n".join(lines))


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        raise CommandError("no terminal to ask for a password: pass --password-stdin and pipe it in")
    if len(password) < 8:
        raise CommandError("the password must have at least 8 characters")
    return password


def add_user(dbsession: Any, login: str, password: str, groups: list[str], editor_of: list[str],
             fullname: str = "", request: Any = None) -> User:
    if dbsession.scalar(select(User).where(User.login == login)) is not None:
        raise CommandError(f"user {login!r} exists already")
    known = ensure_groups(dbsession)
    user = User(login=login, fullname=fullname, password_hash=hash_password(password))
    for name in groups:
        if name not in known:
            raise CommandError(f"no group {name!r}; groups: {', '.join(sorted(known))}")
        user.groups.append(known[name])
    dbsession.add(user)
    units = [find_unit(dbsession, ref) for ref in editor_of]
    for unit in units:
        for role in EDITOR_ROLES:
            dbsession.add(LocalRole(node_id=unit.id, principal=f"user:{login}", role=role))
    dbsession.flush()
    if request is not None:  # who may see the unit's items changed (the search index listens)
        for unit in units:
            events.notify(request, events.LocalRolesChanged(unit, request))
    return user


def cmd_user_add(args: argparse.Namespace) -> None:
    password = read_password(args)
    groups = list(args.group) + (["reviewers"] if args.reviewer else [])
    with script_request(args.config) as request:
        add_user(request.dbsession, args.login, password, groups, list(args.editor_of), fullname=args.fullname or "",
                 request=request)
    print(f"user {args.login} added")


def cmd_user_list(args: argparse.Namespace) -> None:
    with script_request(args.config) as request:
        dbsession = request.dbsession
        roles: dict[str, list[str]] = {}
        for principal, role, path in dbsession.execute(
                select(LocalRole.principal, LocalRole.role, Node.path).join(Node, Node.id == LocalRole.node_id)
                .order_by(Node.path)):
            roles.setdefault(principal, []).append(f"{role}@{path}")
        for user in dbsession.scalars(select(User).order_by(User.login)):
            groups = ",".join(g.name for g in user.groups) or "-"
            print(f"{user.login}\t{user.fullname or '-'}\tgroups={groups}\t"
                  f"local={' '.join(roles.get(user.principal, [])) or '-'}")


def cmd_unit_list(args: argparse.Namespace) -> None:
    with script_request(args.config) as request:
        for unit in request.dbsession.scalars(select(Unit).order_by(Node.path)):
            print(f"{unit.path}\t{unit.title}\t{unit.kind}\t{unit.org_code}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="portal", description="Huangmei Portal administration")
    p.add_argument("-c", "--config", required=True, help="the .ini file, e.g. development.ini")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the database, the portal root and the units").set_defaults(
        func=cmd_init)
    sub.add_parser("demo", help="load the demo content and accounts (idempotent)").set_defaults(func=cmd_demo)
    user = sub.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add an account")
    add.add_argument("login")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--group", action="append", default=[], help="add to this group (repeatable)")
    add.add_argument("--editor-of", action="append", default=[], metavar="UNIT",
                     help="make an editor of this unit (URL path, URL name or title; repeatable)")
    add.add_argument("--reviewer", action="store_true", help="add to the county reviewers group")
    add.add_argument("--fullname", help="the person's name")
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list", help="list accounts, groups and local roles").set_defaults(func=cmd_user_list)
    unit = sub.add_parser("unit", help="units").add_subparsers(dest="unit_command", required=True)
    unit.add_parser("list", help="list units with their paths").set_defaults(func=cmd_unit_list)
    # Packages above the core add their own commands (e.g. search: reindex, indexer).
    for entry in entry_points(group="portal.commands"):
        entry.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.config)
    try:
        args.func(args)
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

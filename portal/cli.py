"""The `portal` command: `portal -c INI init | user add | user list | unit list`, and the commands
that packages add (entry point group `portal.commands`: search's reindex and indexer, the demo).

Only argument parsing and printing are here; what the commands do is in portal.accounts,
portal.units and portal.content.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any, Iterator

from pyramid.paster import get_appsettings, setup_logging
from pyramid.request import Request, apply_request_extensions
from pyramid.threadlocal import manager
from sqlalchemy import select

from . import main as make_app
from . import accounts
from .accounts import AccountError, add_user
from .models import LocalRole, Node, Unit, User, get_engine
from .security import act_as

# act_as is portal.security's; scripts and tests have imported it from here.
__all__ = ["CommandError", "act_as", "app_request", "main", "make_request", "script_request"]


class CommandError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@contextmanager
def script_request(config_uri: str, drain_search: bool = True) -> Iterator[Any]:
    """A request of the configured app, inside one transaction (committed unless an error escapes).

    `drain_search=False` builds the app without its start-up work on the search index (applying
    the outbox a crash left, rebuilding an index of an older format): commands that only read the
    database (`user list`, `unit list`) must not wait for that, nor take the index writer.
    """
    settings = get_appsettings(config_uri)
    if not drain_search:
        settings["search.drain_on_start"] = "false"
    with app_request(make_app({}, **settings).registry) as request:
        yield request


def server_urls(config: str) -> list[str]:
    """Where `pserve CONFIG` listens, as URLs: waitress's `listen` (several addresses allowed), else
    its `host` and `port` -- what `make serve` and the demo print, so they never name another port."""
    import configparser

    parser = configparser.RawConfigParser()
    parser.read(config, encoding="utf-8")
    server = parser["server:main"] if parser.has_section("server:main") else {}
    listen = server.get("listen") or f"{server.get('host', '0.0.0.0')}:{server.get('port', '8080')}"
    return [f"http://{address}" for address in listen.split()]


@contextmanager
def app_request(registry: Any) -> Iterator[Any]:
    """A request of a built app, inside one transaction (committed unless an error escapes): the
    CLI's commands and the set-up of test and benchmark servers."""
    request = make_request(registry)
    manager.push({"registry": registry, "request": request})
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


def cmd_init(args: argparse.Namespace) -> None:
    from .migrate import upgrade
    from .units import set_up_site

    settings = get_appsettings(args.config)
    engine = get_engine(settings)
    upgrade(engine)
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    with script_request(args.config) as request:
        report = set_up_site(request)
    print(f"units: {len(report.created)} created, {len(report.existing)} already there")
    for title in report.duplicates:
        print(f"note: the unit list names {title} more than once; loaded it once")
    for line in report.notes:
        print(line)


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for a password: pass --password-stdin and pipe it in")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise CommandError("the two passwords differ")
    return password


def cmd_user_add(args: argparse.Namespace) -> None:
    password = read_password(args)
    groups = list(args.group) + (["reviewers"] if args.reviewer else [])
    with script_request(args.config) as request:
        add_user(request.dbsession, args.login, password, groups, list(args.editor_of), fullname=args.fullname or "",
                 request=request)
    print(f"user {args.login} added")


def cmd_user_list(args: argparse.Namespace) -> None:
    with script_request(args.config, drain_search=False) as request:
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


def cmd_user_passwd(args: argparse.Namespace) -> None:
    password = read_password(args)
    with script_request(args.config, drain_search=False) as request:
        user = accounts.get_user(request.dbsession, args.login)
        ended = accounts.change_password(request, user, password)
    print(f"password of {args.login} changed; {ended} sessions and API tokens ended")


def cmd_user_disable(args: argparse.Namespace) -> None:
    with script_request(args.config, drain_search=False) as request:
        ended = accounts.disable_user(request, accounts.get_user(request.dbsession, args.login))
    print(f"user {args.login} disabled; {ended} sessions and API tokens ended")


def cmd_user_enable(args: argparse.Namespace) -> None:
    with script_request(args.config, drain_search=False) as request:
        accounts.enable_user(request, accounts.get_user(request.dbsession, args.login))
    print(f"user {args.login} enabled")


def cmd_user_remove(args: argparse.Namespace) -> None:
    with script_request(args.config) as request:  # its local roles go: the search index hears of it
        accounts.remove_user(request, accounts.get_user(request.dbsession, args.login))
    print(f"user {args.login} removed")


def cmd_user_reset_otp(args: argparse.Namespace) -> None:
    with script_request(args.config, drain_search=False) as request:
        ended = accounts.reset_second_factor(request, accounts.get_user(request.dbsession, args.login))
    print(f"second factor of {args.login} reset; {ended} sessions and API tokens ended; "
          "a new one is set up at the next login")


def cmd_unit_list(args: argparse.Namespace) -> None:
    with script_request(args.config, drain_search=False) as request:
        for unit in request.dbsession.scalars(select(Unit).order_by(Node.path)):
            print(f"{unit.path}\t{unit.title}\t{unit.kind}\t{unit.org_code}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="portal", description="Huangmei Portal administration")
    p.add_argument("-c", "--config", required=True, help="the .ini file, e.g. development.ini")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the database, the portal root and the units").set_defaults(
        func=cmd_init)
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
    passwd = user.add_parser("passwd", help="set a new password (ends the user's sessions and API tokens)")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd.set_defaults(func=cmd_user_passwd)
    for name, func, text in (
            ("disable", cmd_user_disable, "stop an account from logging in (ends its sessions and API tokens)"),
            ("enable", cmd_user_enable, "let a disabled account log in again"),
            ("remove", cmd_user_remove, "delete an account and its local roles (the audit log keeps its entries)"),
            ("reset-otp", cmd_user_reset_otp, "reset a lost second factor (ends the user's sessions and API tokens)")):
        command = user.add_parser(name, help=text)
        command.add_argument("login")
        command.set_defaults(func=func)
    unit = sub.add_parser("unit", help="units").add_subparsers(dest="unit_command", required=True)
    unit.add_parser("list", help="list units with their paths").set_defaults(func=cmd_unit_list)
    # Packages above the core add their own commands (search: reindex, indexer; content_types: demo,
    # standard-columns).
    for entry in entry_points(group="portal.commands"):
        entry.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.config)
    try:
        args.func(args)
    except (CommandError, AccountError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

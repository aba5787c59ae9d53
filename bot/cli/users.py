"""``policybot user``: the web console's accounts, managed by whoever runs the server.

    policybot user add NAME [--admin] [--password-stdin]   # asks for the password twice
    policybot user list
    policybot user del NAME

The console (``/console``) stays off until an admin exists. Each change is written to the
console's audit log as done by ``shell:<login name>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

USER_HELP = "web console accounts: add, list, del"


def add_user_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``user add|list|del`` on the ``policybot`` parser."""
    user = sub.add_parser("user", help=USER_HELP)
    actions = user.add_subparsers(dest="user_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an account, or set a new password and role")
    add.add_argument("name", help="the sign-in name (no spaces)")
    add.add_argument("--admin", action="store_true", help="may change lookups and documents")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    actions.add_parser("list", help="list the accounts and their roles")
    remove = actions.add_parser("del", help="delete an account")
    remove.add_argument("name")


def _read_password(from_stdin: bool) -> str | None:
    from bot.console.auth import MIN_PASSWORD_CHARS

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("policybot user add: the passwords differ; nothing changed.", file=sys.stderr)
            return None
    if len(password) < MIN_PASSWORD_CHARS:
        print(
            f"policybot user add: the password needs at least {MIN_PASSWORD_CHARS} characters.",
            file=sys.stderr,
        )
        return None
    return password


def _operator() -> str:
    try:
        return f"shell:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's uid without a passwd entry)
        return "shell"


def cmd_user(args: argparse.Namespace) -> int:
    from bot.console.auth import add_user, audit, delete_user, list_users, valid_user_name
    from bot.db import create_tables, make_engine
    from bot.settings import get_settings

    if args.user_action in {"add", "del"} and not valid_user_name(args.name):
        print("policybot user: a name is 1–64 characters without spaces.", file=sys.stderr)
        return 2
    password = _read_password(args.password_stdin) if args.user_action == "add" else None
    if args.user_action == "add" and password is None:
        return 2
    engine = make_engine(get_settings().database_url)
    try:
        create_tables(engine)
        if args.user_action == "list":
            for user in list_users(engine=engine):
                print(f"{user.name}\t{user.role}\t{user.created_at:%Y-%m-%d}")
            return 0
        if args.user_action == "add":
            role = "admin" if args.admin else "staff"
            assert password is not None
            add_user(engine=engine, name=args.name, password=password, role=role)
            audit(
                engine=engine,
                user_name=_operator(),
                action="user_add",
                detail=f"{args.name} ({role})",
            )
            print(f"{args.name}: {role}")
            return 0
        if not delete_user(engine=engine, name=args.name):
            print(f"policybot user del: no account named {args.name}.", file=sys.stderr)
            return 1
        audit(engine=engine, user_name=_operator(), action="user_delete", detail=args.name)
        print(f"{args.name}: deleted")
        return 0
    finally:
        engine.dispose()

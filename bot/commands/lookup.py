"""``/lookup``: list, run, and (admins) add or delete the helpdesk's canned lookups."""

from __future__ import annotations

import time

from bot.commands.registry import CommandHost, command
from bot.lookups import delete_lookup, get_lookup, name_limit, save_lookup, valid_name
from bot.replies import labels_of, refusal
from bot.texts import say
from bot.types import Button, Incoming, Reply

ADMIN_VERBS = frozenset({"add", "del"})  # /lookup add|del …: admins only


@command("lookup")
def lookup(host: CommandHost, incoming: Incoming, args: str) -> Reply:
    verb, _, rest = args.partition(" ")
    verb = verb.lower()
    if verb in ADMIN_VERBS:
        if not incoming.is_admin:
            return refusal(f"/lookup {verb}")
        if verb == "add":
            return _add(host, rest)
        return _delete(host, rest.strip())
    if args:
        return _run(host, incoming, args)
    lookups = host.shelf.visible()
    if not lookups:
        return Reply(text=[say("lookup", "none")], kind="command")
    lines = [say("lookup", "title")]
    lines.extend(
        say("lookup", "line" if finds else "stale_line", name=row.name, question=row.question)
        for row, finds in lookups
    )
    buttons = [
        Button(row.name, f"/lookup {row.name}", listed=True) for row, finds in lookups if finds
    ]
    return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")


def _add(host: CommandHost, rest: str) -> Reply:
    """``/lookup add 名称 = 问题``: the place and topic are read from the question."""
    name, _, question = (part.strip() for part in rest.partition("="))
    if not name or not question:
        return Reply(text=[say("lookup", "usage_add")], kind="command")
    if not valid_name(name) or name.lower() in ADMIN_VERBS:
        return Reply(text=[say("lookup", "bad_name", limit=name_limit())], kind="command")
    understanding = host.service.understand(question)
    labels = labels_of(understanding.intents)
    row = save_lookup(
        engine=host.engine,
        name=name,
        question=question,
        city=understanding.city,
        district=understanding.district,
        topic=labels[0] if labels else None,
    )
    return Reply(
        text=[say("lookup", "added", name=row.name, question=row.question)], kind="command"
    )


def _delete(host: CommandHost, name: str) -> Reply:
    if not name:
        return Reply(text=[say("lookup", "usage_del")], kind="command")
    if not delete_lookup(engine=host.engine, name=name):
        return Reply(text=[say("lookup", "not_found", name=name)], kind="command")
    return Reply(text=[say("lookup", "deleted", name=name)], kind="command")


def _run(host: CommandHost, incoming: Incoming, name: str) -> Reply:
    found = get_lookup(engine=host.engine, name=name)
    if found is None:
        return Reply(
            text=[say("lookup", "not_found", name=name)],
            buttons=host.shelf.suggest(None, ()),
            kind="command",
        )
    return host.ask(
        incoming,
        found.question,
        found.question,
        started=time.perf_counter(),
        city=found.city,
        district=found.district,
    )

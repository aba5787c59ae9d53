"""``policybot ask`` and ``policybot search``: the dialogue core and retrieval from a shell.

``ask`` goes through the same dialogue core as every chat channel (as an admin only with
``--admin``: whoever runs the command on the server is its operator):
plain text, one JSON answer object (``--json``), or JSON lines from stdin (``--jsonl``) where
lines sharing a ``session`` are one conversation. ``search --jsonl`` is pure ranked retrieval.
Bad input lines produce an error object on their line, never a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from bot.app import build_answer_service, build_dialogue
from bot.dialogue import Dialogue
from bot.settings import get_settings
from bot.types import Incoming, Reply

CHANNEL = "cli"


def answer_object(question: str, session: str, reply: Reply) -> dict[str, Any]:
    """The contract's answer object for one reply."""
    return {
        "question": question,
        "session": session,
        "intents": [intent.to_json() for intent in reply.intents],
        "city": reply.city,
        "abstained": reply.abstained,
        "answers": [answer.to_json() for answer in reply.answers],
        "reply": reply.plain_text(),
    }


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _incoming(run_id: str, session: str, text: str, *, is_admin: bool = False) -> Incoming:
    """A CLI message; the run id keeps separate runs' conversations apart in the database."""
    return Incoming(
        channel=CHANNEL,
        user_id=f"cli:{session}",
        session_id=f"{run_id}:{session}",
        text=text,
        is_admin=is_admin,
    )


def _lines() -> Iterator[tuple[int, str]]:
    for number, line in enumerate(sys.stdin, 1):
        if line.strip():
            yield number, line


def _parse(line: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object of a line, or why it is unusable."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg}"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    if not isinstance(value.get(key), str) or not value[key].strip():
        return None, f'missing "{key}" (a non-empty string)'
    return value, None


async def _ask_lines(dialogue: Dialogue, *, is_admin: bool) -> None:
    run_id = uuid.uuid4().hex[:12]
    for number, line in _lines():
        value, error = _parse(line, "question")
        if value is None:
            _print_json({"line": number, "error": error})
            continue
        session = value.get("session")
        if session is not None and not isinstance(session, str | int):
            _print_json({"line": number, "error": '"session" must be a string'})
            continue
        session_id = str(session) if session is not None else uuid.uuid4().hex
        incoming = _incoming(run_id, session_id, value["question"], is_admin=is_admin)
        reply = await dialogue.handle(incoming)
        _print_json(answer_object(value["question"], session_id, reply))


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question (plain text or --json), or JSON lines from stdin (--jsonl)."""
    if not args.jsonl and not (args.question and args.question.strip()):
        print(
            'policybot ask: give a question, e.g. policybot ask "东莞5G项目能拿多少补贴？"',
            file=sys.stderr,
        )
        return 2
    dialogue = build_dialogue(get_settings())
    if args.jsonl:
        asyncio.run(_ask_lines(dialogue, is_admin=args.admin))
        return 0
    session = uuid.uuid4().hex
    incoming = _incoming(session, session, args.question, is_admin=args.admin)
    reply = asyncio.run(dialogue.handle(incoming))
    if args.json:
        _print_json(answer_object(args.question, session, reply))
    else:
        print(reply.plain_text())
    return 1 if reply.kind == "error" else 0


def cmd_search(args: argparse.Namespace) -> int:
    """Pure ranked retrieval: ``{"query", "k"?}`` lines in, ``{"query", "hits"}`` lines out."""
    service = build_answer_service(get_settings())
    for number, line in _lines():
        value, error = _parse(line, "query")
        if value is None:
            _print_json({"line": number, "error": error})
            continue
        k = value.get("k", args.k)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            _print_json({"line": number, "query": value["query"], "error": '"k" must be ≥ 1'})
            continue
        hits = service.search(value["query"], k=k)
        _print_json({"query": value["query"], "hits": [hit.to_json() for hit in hits]})
    return 0

"""The ``policybot`` command: one entry point, subcommands imported only when used.

Usage: ``policybot ask "东莞5G项目能拿多少补贴？"``; ``policybot --help`` lists the rest.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from bot.cli.admin import since_date
from bot.cli.users import add_user_parser
from bot.db import DatabaseLocationError

ADMIN_HELP = "act as an admin (/stats, /reload, /lookup add|del): the shell user is the operator"

# one-shot commands whose process ends at once when they are done (see ``run``)
QUICK_EXIT_COMMANDS = frozenset({"ask", "search", "docs"})

# subcommand -> "module:function"; each function takes the parsed arguments, returns an exit code
_HANDLERS: dict[str, str] = {
    "ask": "bot.cli.answer:cmd_ask",
    "search": "bot.cli.answer:cmd_search",
    "chat": "bot.channels.console:cmd_chat",
    "reload": "bot.cli.corpus:cmd_reload",
    "docs": "bot.cli.corpus:cmd_docs",
    "add": "bot.cli.upload:cmd_add",
    "eval": "bot.cli.evaluate:cmd_eval",
    "serve": "bot.channels.serve:cmd_serve",
    "stats": "bot.cli.admin:cmd_stats",
    "export": "bot.cli.admin:cmd_export",
    "bench": "bot.bench:cmd_bench",
    "user": "bot.cli.users:cmd_user",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policybot", description="惠企政策助手 PolicyBot")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer a question (plain text, --json or --jsonl)")
    mode = ask.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print one JSON answer object")
    mode.add_argument("--jsonl", action="store_true", help="read JSON lines from stdin")
    ask.add_argument("question", nargs="?", help="the question, in plain Chinese")
    ask.add_argument("--admin", action="store_true", help=ADMIN_HELP)

    search = sub.add_parser("search", help="pure ranked retrieval over JSON lines on stdin")
    search.add_argument("--jsonl", action="store_true", required=True)
    search.add_argument("-k", type=int, default=10, help="hits per query when a line has no k")

    chat = sub.add_parser("chat", help="a conversation in the terminal")
    chat.add_argument("--admin", action="store_true", help=ADMIN_HELP)

    reload = sub.add_parser("reload", help="re-read the corpus folder and swap it in atomically")
    reload.add_argument("--corpus", help="folder of policy documents (default: CORPUS_DIR)")

    add = sub.add_parser("add", help="preview a policy file (PDF, Word, web page, text), add it")
    add.add_argument("file", help="the file to add to CORPUS_DIR")
    add.add_argument("--yes", action="store_true", help="add without asking")

    docs = sub.add_parser("docs", help="list the documents of the live corpus")
    docs.add_argument("--json", action="store_true")

    evaluate = sub.add_parser("eval", help="score labelled questions")
    evaluate.add_argument("file", help="labelled questions, JSON lines")
    evaluate.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="run the chat channels")
    # no choices=: argparse (3.11) rejects an empty nargs="*" list against them; serve checks
    serve.add_argument(
        "channels",
        nargs="*",
        metavar="CHANNEL",
        help="telegram and/or wecom; console: the web console alone",
    )

    stats = sub.add_parser("stats", help="usage statistics, as an admin's /stats shows them")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.add_argument("--since", type=since_date, metavar="DATE", help="from YYYY-MM-DD (UTC)")
    stats.add_argument("--top", type=int, default=5, help="unanswered questions to list")

    export = sub.add_parser("export", help="the question log as CSV on stdout")
    export.add_argument(
        "what",
        choices=["questions", "feedback"],
        help="questions: the unanswered log; feedback: rated answers",
    )
    export.add_argument("--csv", action="store_true", required=True, help="CSV (the format)")
    export.add_argument("--all", action="store_true", help="questions: every logged question")
    export.add_argument("--since", type=since_date, metavar="DATE", help="from YYYY-MM-DD (UTC)")

    add_user_parser(sub)

    bench = sub.add_parser("bench", help="retrieval benchmark on a synthetic corpus")
    bench.add_argument("--passages", type=int, default=100_000)
    bench.add_argument("--queries", type=int, default=200)
    bench.add_argument("--json", action="store_true")
    return parser


def _resolve(command: str) -> Callable[[argparse.Namespace], int]:
    module_name, function_name = _HANDLERS[command].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (tests call this in their own process)."""
    return _run(build_parser().parse_args(argv))


def run() -> NoReturn:
    """The ``policybot`` command: ``main``, and for a one-shot question the process then ends
    at once. Its work is done by then (answered, logged and committed, printed); tearing down
    the 650 modules it imported was a sixth of a cold ``policybot ask`` (0.16 s of 1 s). When
    another thread is still at work (an index part being stored after a build), the
    interpreter ends as usual and waits for it."""
    args = build_parser().parse_args()
    code = _run(args)
    if args.command in QUICK_EXIT_COMMANDS and threading.active_count() == 1:
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, a closed stream
            pass
        os._exit(code)
    sys.exit(code)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from retrieval.tokenize import jieba  # imported there without pkg_resources

    jieba.setLogLevel(logging.WARNING)
    try:
        handler = _resolve(args.command)
        # what the command imported lives as long as the process: later collections skip it
        gc.freeze()
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except DatabaseLocationError as error:  # a setup mistake: say what to fix, nothing else
        print(f"policybot {args.command}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the last line of defence: a message, never a traceback
        logging.getLogger("policybot").debug("command failed", exc_info=True)
        print(f"policybot {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2

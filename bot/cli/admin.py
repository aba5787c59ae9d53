"""``policybot stats`` and ``policybot export``: the admin's figures from the operator's shell.

Whoever runs the command on the server is its operator, so these need no chat admin id::

    policybot stats [--json] [--since 2026-11-01]
    policybot export questions --csv [--all] [--since DATE] > unanswered.csv
    policybot export feedback --csv [--since DATE] > feedback.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import create_tables, make_engine
from bot.models import BotQuestion
from bot.settings import get_settings
from bot.stats import EXPORT_COLUMNS, collect_stats, export_cell, stats_lines
from bot.texts import say


def since_date(value: str) -> dt.datetime:
    """``--since YYYY-MM-DD`` as the start of that day in UTC (argparse reports the error)."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(say("cli", "bad_date", value=value)) from None
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _engine() -> Engine:
    engine = make_engine(get_settings().database_url)
    create_tables(engine)
    return engine


def cmd_stats(args: argparse.Namespace) -> int:
    """Print /stats for the operator: readable lines, or one JSON object (--json)."""
    now = dt.datetime.now(dt.UTC)
    if args.since is not None and args.since > now:
        print(say("cli", "future_date", value=args.since.date()), file=sys.stderr)
        return 2
    engine = _engine()
    try:
        stats = collect_stats(engine=engine, now=now, since=args.since, top=args.top)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(stats.to_json(), ensure_ascii=False))
    else:
        print("\n".join(stats_lines(stats)))
    return 0


def _export_rows(
    engine: Engine, what: str, since: dt.datetime | None, everything: bool
) -> Iterator[BotQuestion]:
    """The logged questions to export, oldest first, streamed (the log may be long)."""
    query = select(BotQuestion).order_by(col(BotQuestion.id))
    if since is not None:
        query = query.where(col(BotQuestion.created_at) >= since)
    if what == "feedback":
        query = query.where(col(BotQuestion.feedback).is_not(None))
    elif not everything:
        query = query.where(col(BotQuestion.abstained))
    with Session(engine) as session:
        yield from session.exec(query.execution_options(yield_per=500))


def cmd_export(args: argparse.Namespace) -> int:
    """Write the unanswered questions (or all, --all) or the feedback as CSV on stdout."""
    engine = _engine()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    try:
        for row in _export_rows(engine, args.what, args.since, args.all):
            writer.writerow([export_cell(getattr(row, column)) for column in EXPORT_COLUMNS])
    finally:
        engine.dispose()
    sys.stdout.flush()
    return 0

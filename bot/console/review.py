"""The corpus's to-do list: questions the bot refused or users rated 👎, grouped by their text.

Read from the same question log as ``/stats`` and ``policybot export``; questions an admin
marked "not in our documents" are kept apart (``console_question_mark``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from bot.models import BotQuestion, ConsoleQuestionMark
from bot.stats import ANSWERING_KINDS, EXPORT_COLUMNS, export_cell

REVIEW_LIMIT = 100  # groups shown on one page


@dataclass(slots=True)
class ReviewItem:
    """One question text and what happened each time it was asked."""

    text: str
    count: int = 0
    refused: int = 0
    down: int = 0
    last_at: dt.datetime | None = None
    reasons: set[str] = field(default_factory=set)
    answer_ids: list[str] = field(default_factory=list)  # the latest 👎 answer's clauses
    city: str | None = None
    marked_by: str | None = None


def _to_review(since: dt.datetime | None) -> Iterator[BotQuestion]:
    """Refused (searched, nothing found) or 👎 rows, oldest first."""
    refused = col(BotQuestion.abstained) & col(BotQuestion.kind).in_(ANSWERING_KINDS)
    query = select(BotQuestion).where(or_(refused, BotQuestion.feedback == "down"))
    if since is not None:
        query = query.where(col(BotQuestion.created_at) >= since)
    return query.order_by(col(BotQuestion.id))  # type: ignore[return-value]


def review_items(
    *, engine: Engine, order: str = "newest", marked: bool = False, since: dt.datetime | None = None
) -> list[ReviewItem]:
    """Grouped to-do items, newest or most frequent first; ``marked``: only the marked ones."""
    items: dict[str, ReviewItem] = {}
    with Session(engine) as session:
        marks = {row.text: row.user_name for row in session.exec(select(ConsoleQuestionMark))}
        for row in session.exec(_to_review(since)):  # type: ignore[call-overload]
            item = items.setdefault(row.text, ReviewItem(text=row.text))
            item.count += 1
            item.last_at = row.created_at
            item.city = row.city or item.city
            if row.abstained:
                item.refused += 1
                item.reasons.add(row.reason or "abstain")
            if row.feedback == "down":
                item.down += 1
                item.reasons.add("down")
                item.answer_ids = list(row.answer_ids)
    chosen = [item for item in items.values() if (item.text in marks) == marked]
    for item in chosen:
        item.marked_by = marks.get(item.text)
    if order == "frequent":
        chosen.sort(key=lambda item: (item.count, _stamp(item.last_at)), reverse=True)
    else:
        chosen.sort(key=lambda item: _stamp(item.last_at), reverse=True)
    return chosen[:REVIEW_LIMIT]


def _stamp(moment: dt.datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def set_mark(*, engine: Engine, text: str, user_name: str, marked: bool, now: dt.datetime) -> None:
    """Mark a question "not in our documents" (or take the mark off)."""
    with Session(engine) as session:
        row = session.get(ConsoleQuestionMark, text)
        if marked and row is None:
            session.add(ConsoleQuestionMark(text=text, user_name=user_name, at=now))
        elif not marked and row is not None:
            session.delete(row)
        session.commit()


def review_csv(*, engine: Engine, since: dt.datetime | None = None) -> str:
    """The refused and 👎 questions as CSV, the columns of ``policybot export`` plus ``marked``.

    Starts with a byte-order mark so that Excel and WPS read the Chinese as UTF-8.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, "marked"])
    with Session(engine) as session:
        marks = {row.text for row in session.exec(select(ConsoleQuestionMark))}
        for row in session.exec(_to_review(since)):  # type: ignore[call-overload]
            cells = [export_cell(getattr(row, column)) for column in EXPORT_COLUMNS]
            writer.writerow([*cells, "true" if row.text in marks else "false"])
    return "\ufeff" + out.getvalue()

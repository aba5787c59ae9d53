"""Admin statistics from the question log: volume, abstention, the corpus's to-do list, feedback."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import BotQuestion

ANSWERING_KINDS = ("answer", "abstain")  # replies that searched the corpus


@dataclass(slots=True)
class Stats:
    """What /stats reports for the last ``days`` days."""

    days: int
    per_day: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    abstained: int = 0
    unanswered: list[tuple[str, int]] = field(default_factory=list)
    feedback_up: int = 0
    feedback_down: int = 0

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.total if self.total else 0.0


def collect_stats(*, engine: Engine, now: dt.datetime, days: int = 7, top: int = 5) -> Stats:
    """Aggregate in the database (it may hold many questions); ``now`` is aware UTC."""
    since = now - dt.timedelta(days=days)
    stats = Stats(days=days)
    recent = col(BotQuestion.created_at) >= since
    answering = col(BotQuestion.kind).in_(ANSWERING_KINDS)
    with Session(engine) as session:
        day = func.date(BotQuestion.created_at)
        per_day = session.exec(
            select(day, func.count()).where(recent, answering).group_by(day).order_by(day)
        ).all()
        stats.per_day = [(str(value), int(count)) for value, count in per_day]
        stats.total = sum(count for _, count in stats.per_day)
        stats.abstained = int(
            session.exec(
                select(func.count()).where(recent, answering, col(BotQuestion.abstained))
            ).one()
        )
        text = col(BotQuestion.text)
        unanswered = session.exec(
            select(text, func.count().label("n"))
            .where(recent, answering, col(BotQuestion.abstained))
            .group_by(text)
            .order_by(func.count().desc(), text)
            .limit(top)
        ).all()
        stats.unanswered = [(str(value), int(count)) for value, count in unanswered]
        feedback = session.exec(
            select(BotQuestion.feedback, func.count())
            .where(recent, col(BotQuestion.feedback).is_not(None))
            .group_by(BotQuestion.feedback)
        ).all()
    counts = {str(value): int(count) for value, count in feedback}
    stats.feedback_up, stats.feedback_down = counts.get("up", 0), counts.get("down", 0)
    return stats

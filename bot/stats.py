"""Admin statistics from the question log: volume, abstention, the corpus's to-do list, feedback.

The same figures reach the chat (``/stats``) and the operator's shell (``policybot stats``), so
both are built here: ``collect_stats`` aggregates, ``stats_lines`` words it, ``to_json`` is the
machine form.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.delivery.store import failed_deliveries
from bot.models import BotQuestion
from bot.texts import say

ANSWERING_KINDS = ("answer", "abstain")  # replies that searched the corpus
# CSV columns of the question log (``policybot export``, the web console's CSV): the fields an
# operator works with (answer_ids are clause ids)
EXPORT_COLUMNS = (
    "id", "created_at", "channel", "user_id", "text", "question", "city", "district",
    "intents", "abstained", "reason", "answer_ids", "feedback", "feedback_at", "latency_ms",
)  # fmt: skip


def export_cell(value: object) -> object:
    """A logged value as a CSV cell: times in ISO 8601, lists as JSON, nothing as empty."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


@dataclass(slots=True)
class Stats:
    """What /stats reports: questions since ``since`` (the last ``days`` days by default)."""

    days: int
    since: dt.datetime | None = None
    per_day: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    abstained: int = 0
    unanswered: list[tuple[str, int]] = field(default_factory=list)
    feedback_up: int = 0
    feedback_down: int = 0
    undelivered: int = 0  # answers the platforms refused for good (outbox rows failed)

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.total if self.total else 0.0

    def to_json(self) -> dict[str, object]:
        """The machine form (``policybot stats --json``)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "days": self.days,
            "questions": self.total,
            "abstained": self.abstained,
            "abstention_rate": round(self.abstention_rate, 4),
            "per_day": [{"day": day, "questions": count} for day, count in self.per_day],
            "unanswered": [{"text": text, "count": count} for text, count in self.unanswered],
            "feedback": {"up": self.feedback_up, "down": self.feedback_down},
            "undelivered": self.undelivered,
        }


def collect_stats(
    *,
    engine: Engine,
    now: dt.datetime,
    days: int = 7,
    top: int = 5,
    since: dt.datetime | None = None,
) -> Stats:
    """Aggregate in the database (it may hold many questions); times are aware UTC.

    ``since`` (an operator's ``--since DATE``) overrides the window of ``days`` days.
    """
    if since is None:
        since = now - dt.timedelta(days=days)
    else:
        days = max((now - since).days, 0) + 1
    stats = Stats(days=days, since=since)
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
    stats.undelivered = failed_deliveries(engine)
    return stats


def stats_lines(stats: Stats) -> list[str]:
    """The statistics as the lines an admin reads (in chat and in the terminal)."""
    title = say("stats", "title", days=stats.days)
    lines = [title, say("stats", "per_day_title")]
    lines.extend(say("stats", "per_day_line", day=day, count=n) for day, n in stats.per_day)
    if not stats.per_day:
        lines.append(say("stats", "no_questions"))
    rate = f"{stats.abstention_rate:.0%}"
    lines.append(
        say("stats", "abstention", rate=rate, abstained=stats.abstained, total=stats.total)
    )
    lines.append(say("stats", "unanswered_title"))
    lines.extend(
        say("stats", "unanswered_line", count=n, text=text) for text, n in stats.unanswered
    )
    if not stats.unanswered:
        lines.append(say("stats", "unanswered_none"))
    lines.append(say("stats", "feedback", up=stats.feedback_up, down=stats.feedback_down))
    if stats.undelivered:
        lines.append(say("stats", "undelivered", failed=stats.undelivered))
    return lines

"""What the dialogue remembers: each conversation's context, the question log and feedback.

Keyword-only functions on an open session, the way the FastAPI template's ``crud.py`` does it:
the caller owns the session (and so the transaction); these only read and write rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from bot.models import BotContext, BotQuestion
from bot.types import Incoming, IntentScore

SESSION_KEY_LIMIT = 200  # longer keys are hashed: the column holds 255 characters


@dataclass(slots=True)
class Context:
    """A conversation's state as the dialogue uses it (the row is ``BotContext``)."""

    question: str
    city: str | None
    district: str | None
    intents: list[str]
    shown_ids: list[str]
    question_id: int | None


def session_key(incoming: Incoming) -> str:
    """``channel:session_id``: one conversation, whichever process answers it."""
    key = f"{incoming.channel}:{incoming.session_id}"
    if len(key) > SESSION_KEY_LIMIT:
        key = f"{incoming.channel}:sha1:{hashlib.sha1(key.encode()).hexdigest()}"
    return key


def load_context(
    session: Session, *, key: str, now: dt.datetime, ttl: dt.timedelta
) -> Context | str:
    """The live context, or why there is none: ``"none"`` or ``"expired"``."""
    row = session.get(BotContext, key)
    if row is None:
        return "none"
    if now - row.updated_at > ttl:
        return "expired"
    return Context(
        question=row.last_question,
        city=row.city,
        district=row.district,
        intents=list(row.intents),
        shown_ids=list(row.shown_ids),
        question_id=row.question_id,
    )


def save_context(session: Session, *, key: str, context: Context, now: dt.datetime) -> None:
    """Replace the conversation's context (created on its first question)."""
    row = session.get(BotContext, key) or BotContext(
        session_key=key, last_question=context.question, updated_at=now
    )
    row.last_question = context.question
    row.city, row.district = context.city, context.district
    row.intents = list(context.intents)
    row.shown_ids = list(context.shown_ids)
    row.question_id = context.question_id
    row.updated_at = now
    session.add(row)
    session.commit()


def log_question(
    session: Session,
    *,
    incoming: Incoming,
    text: str,
    question: str,
    intents: Sequence[IntentScore],
    city: str | None,
    district: str | None,
    answer_ids: Sequence[str],
    abstained: bool,
    reason: str | None,
    latency_ms: int,
    now: dt.datetime,
) -> int | None:
    """Record one question as asked and answered; returns its id (feedback refers to it)."""
    row = BotQuestion(
        channel=incoming.channel,
        user_id=incoming.user_id,
        session_id=incoming.session_id,
        text=text,
        question=question,
        intents=[{"label": i.label, "score": round(i.score, 4)} for i in intents],
        city=city,
        district=district,
        answer_ids=list(answer_ids),
        abstained=abstained,
        reason=reason,
        kind="abstain" if abstained else "answer",
        latency_ms=latency_ms,
        created_at=now,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row.id


def append_answers(session: Session, *, question_id: int | None, passage_ids: list[str]) -> None:
    """Add the answers a follow-up (还有吗) showed to the question they belong to."""
    if question_id is None:
        return
    row = session.get(BotQuestion, question_id)
    if row is not None:
        row.answer_ids = [*row.answer_ids, *passage_ids]
        session.add(row)
        session.commit()


def record_feedback(
    session: Session, *, question_id: int, incoming: Incoming, verdict: str, now: dt.datetime
) -> bool:
    """👍/👎 on a question the same user asked on the same channel; False when there is none."""
    row = session.get(BotQuestion, question_id)
    if row is None or row.channel != incoming.channel or row.user_id != incoming.user_id:
        return False
    row.feedback, row.feedback_at = verdict, now
    session.add(row)
    session.commit()
    return True

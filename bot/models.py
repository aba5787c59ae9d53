"""The dialogue core's tables (conversation context, the question log, canned lookups) and the
web console's (its users, the admin audit log, marked questions, the cookie key).

Context lives in the database (not in memory) so that a restart or a second process serving
the same chats keeps every conversation. Times are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


class BotContext(SQLModel, table=True):
    """Where a conversation stands: the last question, its place and topic, answers shown."""

    __tablename__ = "bot_context"

    session_key: str = Field(primary_key=True, max_length=255)  # "channel:session_id"
    last_question: str = Field(sa_column=Column(Text, nullable=False))
    city: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    intents: list[str] = Field(default_factory=list, sa_type=JSON)
    shown_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    question_id: int | None = None  # the logged question the shown answers belong to
    updated_at: dt.datetime = Field(index=True)


class BotQuestion(SQLModel, table=True):
    """One question as asked and answered: the record behind /stats and feedback."""

    __tablename__ = "bot_question"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    user_id: str = Field(max_length=255, index=True)
    session_id: str = Field(max_length=255)
    text: str = Field(sa_column=Column(Text, nullable=False))
    question: str = Field(sa_column=Column(Text, nullable=False))  # what was actually answered
    intents: list[dict[str, float | str]] = Field(default_factory=list, sa_type=JSON)
    city: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    answer_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    abstained: bool = False
    reason: str | None = Field(default=None, max_length=32)
    kind: str = Field(default="answer", max_length=16)
    latency_ms: int = 0
    created_at: dt.datetime = Field(index=True)
    feedback: str | None = Field(default=None, max_length=8)  # "up" | "down"
    feedback_at: dt.datetime | None = None


class BotLookup(SQLModel, table=True):
    """A named, saved lookup for helpdesk staff (东莞5G补贴 = a question with place and topic)."""

    __tablename__ = "bot_lookup"

    name: str = Field(primary_key=True, max_length=64)
    question: str = Field(sa_column=Column(Text, nullable=False))
    city: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    topic: str | None = Field(default=None, max_length=16)
    is_default: bool = False  # derived from the corpus (re-created when missing)
    hidden: bool = False  # a default an admin removed: kept so it is not re-created
    created_at: dt.datetime


class ConsoleUser(SQLModel, table=True):
    """A person who signs in to the web console: helpdesk staff, or an admin (``policybot user``).

    Only the argon2 hash of the password is stored; the console stays off until an admin exists.
    """

    __tablename__ = "console_user"

    name: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(default="staff", max_length=16)  # "staff" | "admin"
    created_at: dt.datetime


class ConsoleAudit(SQLModel, table=True):
    """One admin action in the console (or ``policybot user``), with who did it and when."""

    __tablename__ = "console_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    user_name: str = Field(max_length=64)
    action: str = Field(max_length=32)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))


class ConsoleQuestionMark(SQLModel, table=True):
    """A refused question an admin marked "not in our documents": kept off the to-do list."""

    __tablename__ = "console_question_mark"

    text: str = Field(primary_key=True, max_length=500)
    status: str = Field(default="not_in_corpus", max_length=16)
    user_name: str = Field(max_length=64)
    at: dt.datetime


class ConsoleSecret(SQLModel, table=True):
    """The key console session cookies are signed with when CONSOLE_SECRET_KEY is not set:
    made once, shared by every process on the same database."""

    __tablename__ = "console_secret"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    key: str = Field(max_length=128)
    created_at: dt.datetime

"""The outbox: one row per message a person sent us, until its answer is accepted by the platform.

A row is written when the message arrives (``received``), gets its rendered answer
(``ready``), and ends ``sent`` (or ``failed`` after a bounded number of tries). Whoever works on a
row holds a lease (owner + expiry); a lease that runs out - a process killed, stopped, or stuck -
lets any other process take the row over. Every claim is one conditional UPDATE whose rowcount
says who won, so it is atomic on SQLite and on PostgreSQL alike.

Each method is one short transaction and blocking: callers on the event loop run them with
``asyncio.to_thread``. SQLite's "database is locked" is retried (each statement is idempotent).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Text, and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, SQLModel

from retrieval.store import utc_now

RECEIVED, READY, SENT, FAILED = "received", "ready", "sent", "failed"
_LOCKED_RETRIES = 5
T = TypeVar("T")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class OutboxRow(SQLModel, table=True):
    """A message to answer and its answer, until the platform accepts it."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32, index=True)
    user_id: str = Field(max_length=255)
    session_id: str = Field(max_length=255)
    # the platform's id of the message (WeCom: user + MsgId): a retried callback finds its row
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    text: str = Field(default="", sa_type=Text)  # what the person wrote (re-answered on takeover)
    address: str = Field(default="{}", sa_type=Text)  # JSON: where the answer goes
    status: str = Field(default=RECEIVED, max_length=16, index=True)
    messages: str | None = Field(default=None, sa_type=Text)  # JSON: the rendered answer
    parts_sent: int = 0  # messages of the answer already accepted (never sent again)
    passive: bool = False  # answered inside the platform's callback (WeCom)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utc_now, index=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: dt.datetime | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: dt.datetime = Field(default_factory=utc_now)
    updated_at: dt.datetime = Field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class Job:
    """A row as the courier works on it."""

    id: int
    channel: str
    user_id: str
    session_id: str
    text: str
    address: dict[str, Any]
    status: str
    rendered: dict[str, Any] | None
    parts_sent: int
    passive: bool
    attempts: int
    next_attempt_at: dt.datetime

    @classmethod
    def of(cls, row: Any) -> Job:
        return cls(
            id=row.id,
            channel=row.channel,
            user_id=row.user_id,
            session_id=row.session_id,
            text=row.text,
            address=json.loads(row.address or "{}"),
            status=row.status,
            rendered=json.loads(row.messages) if row.messages else None,
            parts_sent=row.parts_sent,
            passive=bool(row.passive),
            attempts=row.attempts,
            next_attempt_at=_aware(row.next_attempt_at) or utc_now(),
        )


def _retry_locked(work: Callable[[], T]) -> T:
    """Run ``work`` again when SQLite says the database is locked (busy timeout ran out)."""
    for attempt in range(_LOCKED_RETRIES):
        try:
            return work()
        except OperationalError as error:
            if "locked" not in str(error).lower() or attempt == _LOCKED_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


_T = OutboxRow.__table__  # type: ignore[attr-defined]


class OutboxStore:
    """The outbox's statements; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_table(self) -> None:
        _T.create(self.engine, checkfirst=True)

    def _write(self, statement: Any) -> int:
        def run() -> int:
            with self.engine.begin() as connection:
                return int(connection.execute(statement).rowcount)

        return _retry_locked(run)

    def _write_owned(self, row_id: int, owner: str, **values: Any) -> int:
        """Update a row only while ``owner`` holds its lease: a lapsed holder writes nothing."""
        return self._write(
            update(_T).where(_T.c.id == row_id, _T.c.lease_owner == owner).values(**values)
        )

    def _rows(self, statement: Any) -> list[Any]:
        def run() -> list[Any]:
            with self.engine.connect() as connection:
                return list(connection.execute(statement).all())

        return _retry_locked(run)

    # ---- arriving ----------------------------------------------------------------------------

    def record(
        self,
        *,
        channel: str,
        user_id: str,
        session_id: str,
        text: str,
        address: dict[str, Any],
        owner: str,
        lease_seconds: float,
        dedupe_key: str | None = None,
        rendered: dict[str, Any] | None = None,
    ) -> tuple[int, bool]:
        """The row for a new message (leased to ``owner``); (id, False) if already recorded."""
        now = utc_now()
        values = {
            "channel": channel,
            "user_id": user_id,
            "session_id": session_id,
            "dedupe_key": dedupe_key,
            "text": text,
            "address": json.dumps(address, ensure_ascii=False),
            "status": READY if rendered is not None else RECEIVED,
            "messages": json.dumps(rendered, ensure_ascii=False) if rendered else None,
            "parts_sent": 0,
            "passive": False,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_owner": owner,
            "lease_until": now + dt.timedelta(seconds=lease_seconds),
            "created_at": now,
            "updated_at": now,
        }

        def run() -> tuple[int, bool]:
            try:
                with self.engine.begin() as connection:
                    result = connection.execute(_T.insert().values(**values))
                    return int(result.inserted_primary_key[0]), True  # type: ignore[index]
            except IntegrityError:
                existing = self._rows(select(_T.c.id).where(_T.c.dedupe_key == dedupe_key))
                if not existing:
                    raise
                return int(existing[0][0]), False

        return _retry_locked(run)

    def get(self, row_id: int) -> Job | None:
        rows = self._rows(select(_T).where(_T.c.id == row_id))
        return Job.of(rows[0]) if rows else None

    def find(self, dedupe_key: str) -> Job | None:
        """The row of a platform's message id (WeCom: ``wecom:<user>:msg:<MsgId>``)."""
        rows = self._rows(select(_T).where(_T.c.dedupe_key == dedupe_key))
        return Job.of(rows[0]) if rows else None

    # ---- answering and sending -------------------------------------------------------------

    def set_ready(
        self,
        row_id: int,
        *,
        owner: str,
        rendered: dict[str, Any],
        hold_until: dt.datetime,
        lease_seconds: float = 60.0,
    ) -> bool:
        """Store the rendered answer. Held (``hold_until`` ahead: a callback may take it) it is
        released from the lease; otherwise ``owner`` keeps the lease to send it at once."""
        now = utc_now()
        held = hold_until > now
        return (
            self._write(
                update(_T)
                .where(_T.c.id == row_id, _T.c.status == RECEIVED, _T.c.lease_owner == owner)
                .values(
                    status=READY,
                    messages=json.dumps(rendered, ensure_ascii=False),
                    next_attempt_at=hold_until,
                    lease_owner=None if held else owner,
                    lease_until=None if held else now + dt.timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
            )
            == 1
        )

    def take_passive(self, row_id: int, *, has_rest: bool) -> bool:
        """The callback answers in its HTTP response: only while nobody has started sending.

        What did not fit the passive reply (``rest`` of the rendered answer) stays due.
        """
        now = utc_now()
        values: dict[str, Any] = {"passive": True, "updated_at": now, "next_attempt_at": now}
        if not has_rest:
            values["status"] = SENT
        return (
            self._write(
                update(_T)
                .where(
                    _T.c.id == row_id,
                    _T.c.status == READY,
                    _T.c.parts_sent == 0,
                    _T.c.passive.is_(False),
                    _T.c.lease_owner.is_(None),
                )
                .values(**values)
            )
            == 1
        )

    def release_hold(self, row_id: int) -> None:
        """The callback gave up waiting: the answer is due now (active send)."""
        self._write(
            update(_T)
            .where(_T.c.id == row_id, _T.c.status == READY, _T.c.passive.is_(False))
            .values(next_attempt_at=utc_now())
        )

    def claim(self, row_id: int, *, owner: str, lease_seconds: float) -> bool:
        """Lease one ready row that is due (or already ours)."""
        now = utc_now()
        free = or_(_T.c.lease_owner.is_(None), _T.c.lease_until < now, _T.c.lease_owner == owner)
        return (
            self._write(
                update(_T)
                .where(_T.c.id == row_id, _T.c.status == READY, _T.c.next_attempt_at <= now, free)
                .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=lease_seconds))
            )
            == 1
        )

    def claim_due(
        self, *, owner: str, lease_seconds: float, limit: int, channels: list[str]
    ) -> list[Job]:
        """Take over rows nobody works on (lease free or lapsed) that are due, oldest first."""
        now = utc_now()
        due = and_(
            _T.c.status.in_((READY, RECEIVED)),
            _T.c.channel.in_(channels),
            _T.c.next_attempt_at <= now,
            or_(_T.c.lease_owner.is_(None), _T.c.lease_until < now),
        )
        candidates = self._rows(select(_T.c.id).where(due).order_by(_T.c.id).limit(limit))
        claimed: list[Job] = []
        for (row_id,) in candidates:
            won = self._write(
                update(_T)
                .where(_T.c.id == row_id, due)
                .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=lease_seconds))
            )
            if won == 1 and (job := self.get(row_id)) is not None:
                claimed.append(job)
        return claimed

    def renew(self, row_id: int, *, owner: str, lease_seconds: float) -> None:
        """Keep a lease while a slow answer is being made (so nobody else answers it too)."""
        until = utc_now() + dt.timedelta(seconds=lease_seconds)
        self._write_owned(row_id, owner, lease_until=until)

    def progress(self, row_id: int, *, owner: str, parts_sent: int) -> None:
        self._write_owned(row_id, owner, parts_sent=parts_sent, updated_at=utc_now())

    def finish(self, row_id: int, *, owner: str, status: str, error: str | None = None) -> None:
        """Sent, or failed for good (``error`` says why)."""
        self._write_owned(
            row_id,
            owner,
            status=status,
            last_error=error,
            lease_owner=None,
            lease_until=None,
            updated_at=utc_now(),
        )

    def retry_later(
        self, row_id: int, *, owner: str, attempts: int, delay: float, error: str
    ) -> None:
        """Count the failed try and make the row due again after ``delay`` seconds."""
        now = utc_now()
        self._write_owned(
            row_id,
            owner,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            lease_until=now + dt.timedelta(seconds=delay + 30),
            updated_at=now,
        )

    def release(self, *, owner: str) -> int:
        """Give up every lease of ``owner`` (shutdown): the rows are due for the next process."""
        return self._write(
            update(_T)
            .where(_T.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, next_attempt_at=utc_now())
        )

    # ---- for operators -----------------------------------------------------------------------

    def unsettled(self) -> int:
        """Rows being answered, or ready and due: work for someone right now."""
        now = utc_now()
        due = or_(_T.c.status == RECEIVED, and_(_T.c.status == READY, _T.c.next_attempt_at <= now))
        return int(self._rows(select(func.count()).where(due))[0][0])

    def counts(self) -> dict[str, int]:
        rows = self._rows(select(_T.c.status, func.count()).group_by(_T.c.status))
        return {str(status): int(count) for status, count in rows}

    def purge(self, *, older_than: dt.timedelta) -> int:
        """Forget sent rows (a WeCom retry comes within a minute; a day is plenty)."""
        cutoff = utc_now() - older_than
        return self._write(delete(_T).where(_T.c.status == SENT, _T.c.updated_at < cutoff))


def failed_deliveries(engine: Engine) -> int:
    """How many answers could not be delivered (for /stats); 0 before the table exists."""
    try:
        return OutboxStore(engine).counts().get(FAILED, 0)
    except OperationalError:
        return 0
    except Exception:  # a missing table on PostgreSQL raises ProgrammingError
        return 0


__all__ = ["FAILED", "READY", "RECEIVED", "SENT", "Job", "OutboxRow", "OutboxStore"]

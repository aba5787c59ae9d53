"""WeCom deliveries: one row per WeCom message, so that WeCom's retries never get a second answer.

Kept apart from the channel so that creating the tables does not import wechatpy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

PENDING, ANSWERED, DEFERRED, SENT, FAILED = "pending", "answered", "deferred", "sent", "failed"


def _utc_now() -> dt.datetime:
    """Aware UTC: sqlmodel's datetime columns store UTC and refuse naive values."""
    return dt.datetime.now(dt.UTC)


class WeComDelivery(SQLModel, table=True):
    """The outcome of one WeCom message, kept so that WeCom's retries get the same one."""

    __tablename__ = "wecom_delivery"

    key: str = Field(primary_key=True, max_length=255)  # msg:<MsgId> | event:<user>:<time>:<event>
    user_id: str = Field(max_length=255)
    status: str = Field(default=PENDING, max_length=16)
    passive_text: str | None = Field(default=None, sa_type=Text)
    created_at: dt.datetime = Field(index=True)
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    status: str
    passive_text: str | None


class DeliveryStore:
    """Claims and outcomes of WeCom messages; safe across processes (conditional updates)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_table(self) -> None:
        WeComDelivery.__table__.create(self.engine, checkfirst=True)  # type: ignore[attr-defined]

    def claim(self, key: str, user_id: str) -> Delivery | None:
        """Record ``key`` as pending; None if this call claimed it, else the existing outcome."""
        now = _utc_now()
        with Session(self.engine) as session:
            session.add(
                WeComDelivery(
                    key=key, user_id=user_id, status=PENDING, created_at=now, updated_at=now
                )
            )
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()
        existing = self.get(key)
        return existing if existing is not None else self.claim(key, user_id)

    def get(self, key: str) -> Delivery | None:
        with Session(self.engine) as session:
            row = session.get(WeComDelivery, key)
            return None if row is None else Delivery(row.status, row.passive_text)

    def transition(
        self, key: str, *, from_status: str, to_status: str, text: str | None = None
    ) -> bool:
        """Move ``key`` from one status to another; True only if it was in ``from_status``."""
        values: dict[str, Any] = {"status": to_status, "updated_at": _utc_now()}
        if text is not None:
            values["passive_text"] = text
        statement = (
            update(WeComDelivery)
            .where(col(WeComDelivery.key) == key, col(WeComDelivery.status) == from_status)
            .values(**values)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def purge(self, *, older_than: dt.timedelta) -> int:
        """Forget deliveries older than ``older_than``; WeCom stops retrying within a minute."""
        cutoff = _utc_now() - older_than
        statement = delete(WeComDelivery).where(col(WeComDelivery.updated_at) < cutoff)
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount

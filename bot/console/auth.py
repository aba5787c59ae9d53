"""Console accounts, sign-in and the audit log: hashed passwords, roles, a login rate limit.

Passwords are hashed with argon2 (argon2-cffi); only the hash is stored. Roles are ``staff``
(ask, run lookups, read everything) and ``admin`` (also change lookups and documents). Every
admin action is written to ``console_audit`` with who did it.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bot.models import ConsoleAudit, ConsoleSecret, ConsoleUser
from retrieval.store import utc_now

ROLES = ("staff", "admin")
NAME_CHARS = 64
MIN_PASSWORD_CHARS = 8

_hasher = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def valid_user_name(name: str) -> bool:
    return 0 < len(name) <= NAME_CHARS and not any(c.isspace() for c in name)


def add_user(*, engine: Engine, name: str, password: str, role: str) -> ConsoleUser:
    """Create a user or replace one of the same name (a new password, a new role)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    with Session(engine) as session:
        row = session.get(ConsoleUser, name) or ConsoleUser(
            name=name, password_hash="", created_at=utc_now()
        )
        row.password_hash = _hasher.hash(password)
        row.role = role
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def delete_user(*, engine: Engine, name: str) -> bool:
    with Session(engine) as session:
        row = session.get(ConsoleUser, name)
        if row is None:
            return False
        session.delete(row)
        session.commit()
    return True


def list_users(*, engine: Engine) -> list[ConsoleUser]:
    with Session(engine) as session:
        return list(session.exec(select(ConsoleUser).order_by(col(ConsoleUser.name))).all())


def get_user(*, engine: Engine, name: str) -> ConsoleUser | None:
    with Session(engine) as session:
        return session.get(ConsoleUser, name)


def admin_exists(*, engine: Engine) -> bool:
    """The console is off until this is true (``policybot user add NAME --admin``)."""
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(ConsoleUser).where(ConsoleUser.role == "admin")
        ).one()
    return int(count) > 0


def check_password(*, engine: Engine, name: str, password: str) -> ConsoleUser | None:
    """The user when the password is right; None otherwise (unknown names take as long)."""
    user = get_user(engine=engine, name=name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def audit(*, engine: Engine, user_name: str, action: str, detail: str = "") -> None:
    """Write down one admin action and who did it."""
    with Session(engine) as session:
        session.add(ConsoleAudit(at=utc_now(), user_name=user_name, action=action, detail=detail))
        session.commit()


def audit_log(*, engine: Engine, limit: int = 200) -> list[ConsoleAudit]:
    with Session(engine) as session:
        query = select(ConsoleAudit).order_by(col(ConsoleAudit.id).desc()).limit(limit)
        return list(session.exec(query).all())


def signing_key(*, engine: Engine, configured: str | None) -> str:
    """CONSOLE_SECRET_KEY, or the key kept in the database (made by the first process)."""
    if configured:
        return configured
    with Session(engine) as session:
        row = session.get(ConsoleSecret, 1)
        if row is None:
            session.add(ConsoleSecret(id=1, key=secrets.token_urlsafe(48), created_at=utc_now()))
            try:
                session.commit()
            except Exception:  # another process made it first: use theirs
                session.rollback()
            row = session.get(ConsoleSecret, 1)
        assert row is not None
        return row.key


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per (address, name) within ``window`` seconds.

    Kept in memory: each process limits on its own, which bounds guessing just as well.
    """

    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures[key]
        cutoff = self._clock() - self._window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def blocked(self, address: str, name: str) -> bool:
        return len(self._recent((address, name.lower()))) >= self._attempts

    def failed(self, address: str, name: str) -> None:
        self._recent((address, name.lower())).append(self._clock())

    def succeeded(self, address: str, name: str) -> None:
        self._failures.pop((address, name.lower()), None)

    def minutes_left(self, address: str, name: str) -> int:
        failures = self._recent((address, name.lower()))
        if not failures:
            return 0
        return max(1, round((failures[0] + self._window - self._clock()) / 60))

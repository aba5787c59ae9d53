"""The web console's settings (``CONSOLE_*`` in the environment or ``.env``).

Kept apart from :mod:`bot.settings` so the console's knobs travel with the console package.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Sign-in and session settings of the console served under ``/console``."""

    model_config = SettingsConfigDict(
        env_prefix="CONSOLE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # signs the session cookies; unset: a random key made once and kept in the database
    secret_key: SecretStr | None = None
    session_hours: float = Field(default=12.0, gt=0)  # a sign-in lasts this long
    cookie_secure: bool = False  # True behind HTTPS: the cookie is never sent over plain HTTP
    login_attempts: int = Field(default=5, ge=1)  # failed sign-ins per name and address …
    login_window_minutes: float = Field(default=15.0, gt=0)  # … within this many minutes


@lru_cache(maxsize=1)
def get_console_settings() -> ConsoleSettings:
    return ConsoleSettings()

"""All of PolicyBot's settings in one pydantic-settings class (environment or ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_ids(value: object) -> object:
    """Accept ``"1, 2,3"`` as well as a list; blank means nobody."""
    if value is None:
        return set()
    if isinstance(value, str | int):
        return {part.strip() for part in str(value).split(",") if part.strip()}
    return value


class Settings(BaseSettings):
    """Settings of the contract (shared/docs/contract.md) plus a few operational knobs."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///data/policybot.db"
    corpus_dir: Path = Path("seeds")
    # start-up data built once per machine (the gazetteer): a process loads it instead
    cache_dir: Path = Path("data/cache")
    # each corpus version's index as files every process of the machine maps (default:
    # CACHE_DIR/index; a fast local disk; the newest four contents are kept)
    index_dir: Path | None = None
    # worker processes a first build of an index may start to prepare clauses (None: the
    # cores this process may use but one, at most three; 0: the building process alone)
    build_workers: int | None = Field(default=None, ge=0, le=8)

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    # who may run admin commands: `channel:user_id` pairs (like NoneBot's superusers), e.g.
    # "telegram:4242,wecom:zhangsan"; ADMIN_IDS / WECOM_ADMIN_IDS are the older spellings
    admins: Annotated[set[str], NoDecode] = Field(default_factory=set)
    admin_ids: Annotated[set[str], NoDecode] = Field(default_factory=set)
    telegram_max_body_bytes: int = Field(default=1_000_000, gt=0)  # webhook bodies beyond: 413

    wecom_corp_id: str | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_agent_id: str | None = None
    wecom_secret: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_admin_ids: Annotated[set[str], NoDecode] = Field(default_factory=set)

    wecom_timestamp_window_seconds: float = Field(default=300.0, gt=0)  # older/newer: refused

    host: str = "127.0.0.1"
    port: int = 8080
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # delivery (bot/delivery): retries of answers the platform did not accept, queues per user
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(default=1.0, ge=0)
    delivery_backoff_max_seconds: float = Field(default=60.0, ge=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_poll_seconds: float = Field(default=2.0, gt=0)
    user_queue_limit: int = Field(default=50, ge=1)

    context_ttl_minutes: int = Field(default=30, ge=1)
    answers_per_reply: int = Field(default=3, ge=1, le=10)
    corpus_check_seconds: float = Field(default=2.0, ge=0)
    max_upload_mb: float = Field(default=20.0, gt=0)  # files sent to the bot or `policybot add`
    # a corpus file larger than this is skipped at reload, named in the report (scans, stray ISOs)
    corpus_max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0)

    @property
    def index_mirror(self) -> Path:
        """Where this machine keeps the mapped index files (``INDEX_DIR`` or CACHE_DIR/index)."""
        return self.index_dir or self.cache_dir / "index"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    _split_admin_ids = field_validator("admins", "admin_ids", "wecom_admin_ids", mode="before")(
        _split_ids
    )

    def is_admin(self, channel: str, user_id: str) -> bool:
        """Admin identity in one place: ADMINS pairs, or the older per-channel id lists."""
        if f"{channel}:{user_id}" in self.admins:
            return True
        older = {"telegram": self.admin_ids, "wecom": self.wecom_admin_ids}.get(channel, set())
        return user_id in older

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and bool(
            self.telegram_bot_token.get_secret_value().strip()
        )

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_token and self.wecom_aes_key)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

"""The Telegram channel's own texts, command menu and limits, read from bot/data/telegram.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "telegram.toml"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """The channel's own texts, command menu and limits (bot/data/telegram.toml)."""

    commands: dict[str, str]
    texts: dict[str, str]
    callback_max_keys: int
    keyboard_max_per_row: int
    keyboard_max_row_width: int
    message_chars: int
    overall_per_second: float
    group_per_minute: float
    network_retries: int
    network_retry_seconds: float
    typing_after_seconds: float

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> TelegramConfig:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keyboard, limits = data["keyboard"], data["limits"]
        return cls(
            commands=dict(data["commands"]),
            texts=dict(data["texts"]),
            callback_max_keys=int(data["callbacks"]["max_keys"]),
            keyboard_max_per_row=int(keyboard["max_per_row"]),
            keyboard_max_row_width=int(keyboard["max_row_width"]),
            message_chars=int(limits["message_chars"]),
            overall_per_second=float(limits["overall_per_second"]),
            group_per_minute=float(limits["group_per_minute"]),
            network_retries=int(limits["network_retries"]),
            network_retry_seconds=float(limits["network_retry_seconds"]),
            typing_after_seconds=float(limits["typing_after_seconds"]),
        )

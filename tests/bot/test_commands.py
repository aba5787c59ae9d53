"""The command registry: every command found by name, with help text and its admin flag."""

from __future__ import annotations

import pytest

from bot.commands import all_commands, find_command
from bot.commands.registry import command


def test_every_command_is_registered_once_with_help_text() -> None:
    names = [entry.name for entry in all_commands()]
    assert set(names) >= {"start", "help", "topics", "lookup", "doc", "more", "full", "feedback"}
    assert len(names) == len(set(names))
    for entry in all_commands():
        assert entry.help.strip(), f"/{entry.name} has no help text"


def test_only_corpus_and_statistics_commands_are_admin_only() -> None:
    admin_only = {entry.name for entry in all_commands() if entry.admin_only}
    assert admin_only == {"reload", "stats", "upload", "remove"}


def test_start_and_help_share_one_handler() -> None:
    start, help_ = find_command("start"), find_command("help")
    assert start is not None and help_ is not None
    assert start.run is help_.run
    assert find_command("nosuchcommand") is None


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="/help"):
        command("help")(lambda host, incoming, args: None)  # type: ignore[arg-type,return-value]

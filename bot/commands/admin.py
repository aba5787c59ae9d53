"""Admins' commands on the running bot: reload the corpus, see the usage statistics."""

from __future__ import annotations

import logging

from bot.commands.registry import CommandHost, command
from bot.stats import collect_stats, stats_lines
from bot.texts import say
from bot.types import Incoming, Reply

logger = logging.getLogger(__name__)


@command("reload", admin_only=True)
def reload(host: CommandHost, _incoming: Incoming, _args: str) -> Reply:
    try:
        report = host.reload()
    except Exception as error:  # a bad corpus folder is reported to the admin, not raised
        logger.exception("reload failed")
        return Reply(text=[say("reload", "failed", error=error)], kind="command")
    return Reply(text=["\n".join([say("reload", "lead"), *report.summary_lines()])], kind="command")


@command("stats", admin_only=True)
def stats(host: CommandHost, _incoming: Incoming, _args: str) -> Reply:
    figures = collect_stats(engine=host.engine, now=host.now())
    return Reply(text=["\n".join(stats_lines(figures))], kind="command")

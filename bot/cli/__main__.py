"""``python -m bot.cli``: the same as the ``policybot`` command."""

from bot.cli import run

run()

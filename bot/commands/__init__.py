"""Chat commands (/help, /lookup, /doc, /reload …), one function each, found by name.

Importing this package registers every command module below.
"""

from bot.commands import admin, documents, general, lookup  # noqa: F401  (registers them)
from bot.commands.registry import Command, CommandHost, all_commands, find_command

__all__ = ["Command", "CommandHost", "all_commands", "find_command"]

"""The web console for helpdesk staff and admins, served by ``policybot serve`` under ``/console``.

Ask (a ``web`` channel of the dialogue core), canned lookups, documents, unanswered questions
and stats, behind a sign-in with staff and admin roles (``policybot user add NAME --admin``).
"""

from bot.console.app import console_app, console_mount

__all__ = ["console_app", "console_mount"]

"""Durable delivery shared by every chat channel: the outbox, per-session queues, the courier.

``bot.delivery.store`` holds the table (imported by ``bot.db.create_tables``);
``bot.delivery.core`` the asyncio side. See ``core``'s docstring for the guarantees.
"""

from bot.delivery.core import Delivery, DeliveryError, Inbound, Outlet, Ticket
from bot.delivery.store import FAILED, READY, RECEIVED, SENT, OutboxStore

__all__ = [
    "FAILED",
    "READY",
    "RECEIVED",
    "SENT",
    "Delivery",
    "DeliveryError",
    "Inbound",
    "OutboxStore",
    "Outlet",
    "Ticket",
]

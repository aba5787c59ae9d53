"""Durable delivery shared by every chat channel: the outbox, per-session queues, the courier.

``bot.delivery.store`` holds the table (imported by ``bot.db.create_tables``);
``bot.delivery.core`` the asyncio side (queues, courier), ``sender`` the sending with
retries, ``passive`` the answer handed back in a callback, ``types`` what channels exchange with
it. See ``core``'s docstring for the guarantees.
"""

from bot.delivery.core import Delivery
from bot.delivery.store import FAILED, READY, RECEIVED, SENT, OutboxStore
from bot.delivery.types import DeliveryError, Inbound, Outlet, Ticket

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

"""Sending a ready answer until the platform accepts it: part by part (progress recorded, so a
takeover resumes where it stopped), retries with backoff on retryable refusals (``retry_after``
honoured), up to ``DELIVERY_MAX_ATTEMPTS`` tries, then recorded as failed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot.delivery.store import SENT, Job, OutboxStore
from bot.delivery.types import DeliveryError, Inbound, Outlet
from bot.settings import Settings
from bot.types import Reply

log = logging.getLogger(__name__)


class Sender:
    """Sends outbox rows through the registered outlets on behalf of one owner (a process)."""

    def __init__(
        self,
        store: OutboxStore,
        settings: Settings,
        owner: str,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.owner = owner
        self.outlets: dict[str, Outlet] = {}
        self._settings = settings
        self._sleep = sleep

    async def send(self, row_id: int, job: Job | None = None) -> None:
        """Send a ready answer part by part until accepted; retries with backoff, then failed."""
        settings = self._settings
        if job is None:
            claimed = await asyncio.to_thread(
                self.store.claim,
                row_id,
                owner=self.owner,
                lease_seconds=settings.delivery_lease_seconds,
            )
            if not claimed or (job := await asyncio.to_thread(self.store.get, row_id)) is None:
                return
        outlet = self.outlets[job.channel]
        rendered = job.rendered or {}
        messages = list(rendered.get("rest") or []) if job.passive else rendered["messages"]
        sent, attempts = job.parts_sent, job.attempts
        while True:
            try:
                for message in messages[sent:]:
                    await outlet.deliver(job.address, message)
                    sent += 1
                    await asyncio.to_thread(
                        self.store.progress, row_id, owner=self.owner, parts_sent=sent
                    )
                await asyncio.to_thread(self.store.finish, row_id, owner=self.owner, status=SENT)
                return
            except DeliveryError as error:
                attempts += 1
                if not error.retryable or attempts >= settings.delivery_max_attempts:
                    log.warning("%s answer %d failed for good: %s", job.channel, row_id, error)
                    await asyncio.to_thread(
                        self.store.finish,
                        row_id,
                        owner=self.owner,
                        status="failed",
                        error=str(error),
                    )
                    return
                delay = error.retry_after or min(
                    settings.delivery_backoff_seconds * 2 ** (attempts - 1),
                    settings.delivery_backoff_max_seconds,
                )
                log.info(
                    "%s answer %d: %s; retry %d in %.1fs",
                    job.channel,
                    row_id,
                    error,
                    attempts,
                    delay,
                )
                await asyncio.to_thread(
                    self.store.retry_later,
                    row_id,
                    owner=self.owner,
                    attempts=attempts,
                    delay=delay,
                    error=str(error),
                )
                await self._sleep(delay)

    async def tell_directly(self, inbound: Inbound, text: str) -> None:
        """Best effort, unrecorded: used only when the outbox itself cannot be written."""
        outlet = self.outlets.get(inbound.channel)
        if outlet is None:
            return
        rendered = outlet.render(Reply(text=[text], kind="error"), inbound.address)
        with contextlib.suppress(Exception):
            for message in rendered["messages"]:
                await outlet.deliver(inbound.address, message)

"""Delivery: every message is recorded, answered in order per session, and its answer sent until
the platform accepts it. Channels only translate; this is the part they share.

- ``submit`` records the message in the outbox (off the event loop) and queues it on its
  session's queue; one worker per session answers in order, so a fast typist is answered
  message by message, later. Past ``USER_QUEUE_LIMIT`` a message gets a polite notice naming it
  (commands included): never silently dropped.
- An answer is rendered by its channel, stored, then sent part by part; network errors, 5xx and
  429 are retried with backoff (``retry_after`` honoured), up to ``DELIVERY_MAX_ATTEMPTS`` tries,
  then recorded as failed (``/stats`` shows them).
- The courier (``start``) takes over, at start and every ``DELIVERY_POLL_SECONDS``, what any
  process left pending: leases that ran out, answers deferred by a WeCom callback.
- ``stop`` is bounded by ``SHUTDOWN_GRACE_SECONDS``: unfinished work keeps its row for the next
  start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from bot.delivery.passive import passive_text
from bot.delivery.sender import Sender
from bot.delivery.store import READY, Job, OutboxStore, utc_now
from bot.delivery.types import (
    DeliveryError,
    Dialogue,
    Inbound,
    Outlet,
    Queued,
    Ticket,
)
from bot.settings import Settings
from bot.texts import say
from bot.types import Incoming, Reply

log = logging.getLogger(__name__)

_STOP_TASK_SECONDS = 2.0  # how long cancelled tasks get to unwind


class Delivery:
    """The per-session queues, the outbox and the courier, shared by every channel."""

    def __init__(
        self,
        dialogue: Dialogue,
        engine: Engine,
        settings: Settings,
        *,
        owner: str | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._dialogue = dialogue
        self._settings = settings
        self.store = OutboxStore(engine)
        self.store.create_table()
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sender = Sender(self.store, settings, self.owner, sleep=sleep)
        self._queues: dict[str, deque[Queued]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._courier: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._submitting = 0  # messages being recorded right now

    # ---- wiring ------------------------------------------------------------------------------

    def register(self, outlet: Outlet) -> None:
        self._sender.outlets[outlet.name] = outlet

    async def start(self) -> None:
        """Start the courier: it takes over what was left pending, now and periodically."""
        self._closing = False
        if self._courier is None or self._courier.done():
            self._courier = asyncio.create_task(self._courier_loop(), name="delivery-courier")

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Finish what can be finished within the grace period; the rest stays in the outbox."""
        grace = self._settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        self._closing = True
        self._wake.set()
        if self._courier is not None:
            await _cancel([self._courier])
        busy = [task for task in [*self._workers.values(), *self._tasks] if not task.done()]
        if busy:
            _done, late = await asyncio.wait(busy, timeout=grace)
            if late:
                log.warning("%d answers unfinished at shutdown: kept for the next start", len(late))
                await _cancel(late)
        try:
            released = await asyncio.wait_for(
                asyncio.to_thread(self.store.release, owner=self.owner), _STOP_TASK_SECONDS * 2
            )
            if released:
                log.info("released %d outbox rows for the next start", released)
        except Exception:  # the database is gone: the leases simply run out
            log.warning("could not release outbox leases at shutdown", exc_info=True)

    async def idle(self, timeout: float = 30.0) -> None:
        """Until nothing is being answered or sent here and no row is waiting (tests, tools)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            tasks = [*self._workers.values(), *self._tasks]
            busy = self._submitting or any(not task.done() for task in tasks)
            if not busy and not await asyncio.to_thread(self.store.unsettled):
                return
            self._wake.set()
            await asyncio.sleep(0.05)
        raise TimeoutError("delivery still busy")

    # ---- arriving ----------------------------------------------------------------------------

    async def submit(self, inbound: Inbound) -> Ticket | None:
        """Record and queue a message; None when it could not be recorded (the user is told).

        Its place in the session's queue is taken before anything is awaited, so messages are
        answered in the order they arrived even when recording them finishes out of order.
        """
        queue = self._queues.setdefault(inbound.session_id, deque())
        over = len(queue) >= self._settings.user_queue_limit
        item = Queued(inbound)
        if not over and not self._closing:
            queue.append(item)
            if inbound.session_id not in self._workers:
                self._workers[inbound.session_id] = asyncio.create_task(
                    self._work(inbound.session_id), name=f"session-{inbound.session_id}"
                )
        self._submitting += 1
        try:
            row_id, created = await _record(self.store, inbound, self.owner, self._settings)
        except Exception:
            log.exception("could not record a %s message", inbound.channel)
            await self._sender.tell_directly(inbound, say("delivery", "not_recorded"))
            return None
        finally:
            self._submitting -= 1
            item.recorded.set()
        if not created:
            return Ticket(row_id, created=False)
        item.ticket = Ticket(row_id, True, asyncio.get_running_loop().create_future())
        if over:
            preview = inbound.text.strip()[:20] or (inbound.attachment and inbound.attachment.name)
            notice = Reply(text=[say("delivery", "queue_full", text=preview)], kind="refusal")
            self._spawn(self._answered(item, notice))
        return item.ticket  # (while closing: recorded, and the next start answers it)

    async def say(self, inbound: Inbound, reply: Reply) -> None:
        """A reply the channel made itself (a hint): recorded and delivered like an answer."""
        try:
            row_id, created = await _record(self.store, inbound, self.owner, self._settings)
        except Exception:
            log.exception("could not record a %s reply", inbound.channel)
            await self._sender.tell_directly(inbound, say("delivery", "not_recorded"))
            return
        if created:
            self._spawn(self._answered(Queued(inbound, Ticket(row_id, True)), reply))

    async def ask(self, incoming: Incoming) -> Reply:
        """The core's reply without recording (a button's toast, which cannot be re-sent)."""
        return await self._reply(incoming)

    async def passive(
        self, ticket: Ticket, deadline: dt.datetime, *, release: bool = True
    ) -> str | None:
        """The answer's passive text if it is ready before ``deadline`` and nobody sent it yet.

        A retried callback (``ticket.created`` False) gets the passive text again if the first
        callback answered with it. Past the deadline the answer is released to the courier
        (unless ``release`` is False: nothing can send it, a retried callback will carry it).
        """
        return await passive_text(self.store, ticket, deadline, release=release, wake=self._wake)

    # ---- answering ---------------------------------------------------------------------------

    async def _work(self, session_id: str) -> None:
        """Answer one session's messages in order, each until delivered or given up."""
        queue = self._queues[session_id]
        try:
            while queue and not self._closing:
                item = queue[0]
                try:
                    await item.recorded.wait()
                    if item.ticket is not None and item.ticket.created:
                        await self._answer(item)
                finally:
                    queue.popleft()
        finally:
            self._workers.pop(session_id, None)
            if not queue:
                self._queues.pop(session_id, None)

    async def _answer(self, item: Queued) -> None:
        inbound = item.inbound
        incoming = Incoming(
            channel=inbound.channel,
            user_id=inbound.user_id,
            session_id=inbound.session_id,
            text=inbound.text,
            is_admin=self._settings.is_admin(inbound.channel, inbound.user_id),
            attachment=inbound.attachment,
        )
        assert item.ticket is not None
        keep_lease = asyncio.create_task(
            _keep_lease(
                self.store, item.ticket.row_id, self.owner, self._settings.delivery_lease_seconds
            )
        )
        working = asyncio.create_task(self._working(inbound))
        try:
            reply = await self._reply(incoming)
        finally:
            await _cancel([keep_lease, working])
        await self._answered(item, reply)

    async def _reply(self, incoming: Incoming) -> Reply:
        try:
            return await self._dialogue.handle(incoming)
        except Exception:  # the core never raises; if it does, the person still hears back
            log.exception("dialogue failed for a %s message", incoming.channel)
            return Reply(text=[say("delivery", "error")], kind="error")

    async def _working(self, inbound: Inbound) -> None:
        with contextlib.suppress(Exception):
            await self._sender.outlets[inbound.channel].working(inbound.address)

    async def _answered(self, item: Queued, reply: Reply) -> None:
        """Store the rendered answer, hand it to a waiting callback, else send it now."""
        inbound, ticket = item.inbound, item.ticket
        assert ticket is not None
        outlet = self._sender.outlets[inbound.channel]
        rendered = outlet.render(reply, inbound.address)
        hold = inbound.hold_until or utc_now()
        stored = await asyncio.to_thread(
            self.store.set_ready,
            ticket.row_id,
            owner=self.owner,
            rendered=rendered,
            hold_until=hold,
            lease_seconds=self._settings.delivery_lease_seconds,
        )
        if ticket.answered is not None and not ticket.answered.done():
            ticket.answered.set_result(rendered)
        if stored and hold <= utc_now():
            await self._sender.send(ticket.row_id)

    # ---- sending -----------------------------------------------------------------------------

    # ---- the courier -------------------------------------------------------------------------

    async def _courier_loop(self) -> None:
        """Take over due rows: those another process left, deferred ones, retries after restart."""
        while not self._closing:
            try:
                jobs = await asyncio.to_thread(
                    self.store.claim_due,
                    owner=self.owner,
                    lease_seconds=self._settings.delivery_lease_seconds,
                    limit=100,
                    channels=sorted(self._sender.outlets),
                )
            except Exception:
                log.warning("outbox check failed", exc_info=True)
                jobs = []
            by_session: dict[str, list[Job]] = {}
            for job in jobs:
                by_session.setdefault(job.session_id, []).append(job)
            for session_jobs in by_session.values():
                self._spawn(self._take_over(session_jobs))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.delivery_poll_seconds)

    async def _take_over(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status == READY:
                await self._sender.send(job.id, job)
                continue
            log.info("answering %s message %d left unanswered", job.channel, job.id)
            inbound = Inbound(job.channel, job.user_id, job.session_id, job.text, job.address)
            await self._answer(Queued(inbound, Ticket(job.id, True)))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _record(
    store: OutboxStore, inbound: Inbound, owner: str, settings: Settings
) -> tuple[int, bool]:
    """The message's outbox row (and whether this call created it), off the event loop."""
    return await asyncio.to_thread(
        store.record,
        channel=inbound.channel,
        user_id=inbound.user_id,
        session_id=inbound.session_id,
        text=inbound.text,
        address=inbound.address,
        owner=owner,
        lease_seconds=settings.delivery_lease_seconds,
        dedupe_key=inbound.dedupe_key,
    )


async def _keep_lease(store: OutboxStore, row_id: int, owner: str, lease: float) -> None:
    """Renew a row's lease while its answer is being made, so no other process takes it over."""
    while True:
        await asyncio.sleep(lease / 3)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(store.renew, row_id, owner=owner, lease_seconds=lease)


async def _cancel(tasks: list[asyncio.Task[Any]] | set[asyncio.Task[Any]]) -> None:
    """Cancel and wait (bounded) for tasks to unwind."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_STOP_TASK_SECONDS)


__all__ = ["Delivery", "DeliveryError", "Inbound", "Outlet", "Ticket"]

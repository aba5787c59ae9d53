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
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from bot.delivery.store import READY, RECEIVED, SENT, Job, OutboxStore, utc_now
from bot.settings import Settings
from bot.texts import say
from bot.types import Attachment, Incoming, Reply

log = logging.getLogger(__name__)

_STOP_TASK_SECONDS = 2.0  # how long cancelled tasks get to unwind
_PASSIVE_POLL_SECONDS = 0.05


class DeliveryError(Exception):
    """A platform refused a message. ``retryable``: network error, 5xx, 429 (``retry_after``)."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


class Outlet(Protocol):
    """What delivery needs of a channel: its name, a renderer and one send."""

    name: str

    def render(self, reply: Reply, address: dict[str, Any]) -> dict[str, Any]:
        """``{"messages": [...]}`` (JSON-able, sent in order); WeCom adds "passive" and "rest"."""
        ...

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None:
        """Send one rendered message; raise :class:`DeliveryError` when it was not accepted."""
        ...

    async def working(self, address: dict[str, Any]) -> None:
        """Show that an answer is being made ("typing…"), if the platform can; cancelled."""
        ...


class Dialogue(Protocol):
    async def handle(self, incoming: Incoming) -> Reply: ...


@dataclass(slots=True)
class Inbound:
    """A message a channel translated: who, what, and where the answer goes."""

    channel: str
    user_id: str
    session_id: str
    text: str
    address: dict[str, Any]
    dedupe_key: str | None = None
    attachment: Attachment | None = None
    hold_until: dt.datetime | None = None  # a callback may answer in its response until then


@dataclass(slots=True)
class Ticket:
    """The outbox row of a submitted message; ``answered`` resolves with its rendered answer."""

    row_id: int
    created: bool
    answered: asyncio.Future[dict[str, Any]] | None = None


@dataclass(slots=True)
class _Queued:
    inbound: Inbound
    ticket: Ticket | None = None  # None until recorded (or when recording failed)
    recorded: asyncio.Event = field(default_factory=asyncio.Event)


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
        self._sleep = sleep
        self._outlets: dict[str, Outlet] = {}
        self._queues: dict[str, deque[_Queued]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._courier: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._submitting = 0  # messages being recorded right now

    # ---- wiring ------------------------------------------------------------------------------

    def register(self, outlet: Outlet) -> None:
        self._outlets[outlet.name] = outlet

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

    async def _record(self, inbound: Inbound) -> tuple[int, bool]:
        return await asyncio.to_thread(
            self.store.record,
            channel=inbound.channel,
            user_id=inbound.user_id,
            session_id=inbound.session_id,
            text=inbound.text,
            address=inbound.address,
            owner=self.owner,
            lease_seconds=self._settings.delivery_lease_seconds,
            dedupe_key=inbound.dedupe_key,
        )

    async def submit(self, inbound: Inbound) -> Ticket | None:
        """Record and queue a message; None when it could not be recorded (the user is told).

        Its place in the session's queue is taken before anything is awaited, so messages are
        answered in the order they arrived even when recording them finishes out of order.
        """
        queue = self._queues.setdefault(inbound.session_id, deque())
        over = len(queue) >= self._settings.user_queue_limit
        item = _Queued(inbound)
        if not over and not self._closing:
            queue.append(item)
            if inbound.session_id not in self._workers:
                self._workers[inbound.session_id] = asyncio.create_task(
                    self._work(inbound.session_id), name=f"session-{inbound.session_id}"
                )
        self._submitting += 1
        try:
            row_id, created = await self._record(inbound)
        except Exception:
            log.exception("could not record a %s message", inbound.channel)
            await self._tell_directly(inbound, say("delivery", "not_recorded"))
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
            row_id, created = await self._record(inbound)
        except Exception:
            log.exception("could not record a %s reply", inbound.channel)
            await self._tell_directly(inbound, say("delivery", "not_recorded"))
            return
        if created:
            self._spawn(self._answered(_Queued(inbound, Ticket(row_id, True)), reply))

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
        rendered: dict[str, Any] | None = None
        remaining = (deadline - utc_now()).total_seconds()
        if ticket.answered is not None and remaining > 0:
            with contextlib.suppress(TimeoutError):
                rendered = await asyncio.wait_for(asyncio.shield(ticket.answered), remaining)
        job: Job | None = None
        while rendered is None:
            job = await asyncio.to_thread(self.store.get, ticket.row_id)
            if job is None:
                return None
            if job.passive:
                return str((job.rendered or {}).get("passive") or "")
            if job.status not in (RECEIVED,) or utc_now() >= deadline:
                rendered = job.rendered
                break
            await asyncio.sleep(_PASSIVE_POLL_SECONDS)
        if rendered is None or rendered.get("passive") is None:
            if release:
                await self._release_hold(ticket.row_id)
            return None
        taken = await asyncio.to_thread(
            self.store.take_passive, ticket.row_id, has_rest=bool(rendered.get("rest"))
        )
        if not taken:  # a parallel callback (WeCom's retry) answered with it: the same text
            job = await asyncio.to_thread(self.store.get, ticket.row_id)
            return str(rendered["passive"]) if job is not None and job.passive else None
        if rendered.get("rest"):
            self._wake.set()
        return str(rendered["passive"])

    async def _release_hold(self, row_id: int) -> None:
        try:
            await asyncio.to_thread(self.store.release_hold, row_id)
        finally:
            self._wake.set()

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

    async def _answer(self, item: _Queued) -> None:
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
        keep_lease = asyncio.create_task(self._keep_lease(item.ticket.row_id))
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
            await self._outlets[inbound.channel].working(inbound.address)

    async def _keep_lease(self, row_id: int) -> None:
        lease = self._settings.delivery_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.store.renew, row_id, owner=self.owner, lease_seconds=lease
                )

    async def _answered(self, item: _Queued, reply: Reply) -> None:
        """Store the rendered answer, hand it to a waiting callback, else send it now."""
        inbound, ticket = item.inbound, item.ticket
        assert ticket is not None
        outlet = self._outlets[inbound.channel]
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
            await self._send(ticket.row_id)

    # ---- sending -----------------------------------------------------------------------------

    async def _send(self, row_id: int, job: Job | None = None) -> None:
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
        outlet = self._outlets[job.channel]
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

    async def _tell_directly(self, inbound: Inbound, text: str) -> None:
        """Best effort, unrecorded: used only when the outbox itself cannot be written."""
        outlet = self._outlets.get(inbound.channel)
        if outlet is None:
            return
        rendered = outlet.render(Reply(text=[text], kind="error"), inbound.address)
        with contextlib.suppress(Exception):
            for message in rendered["messages"]:
                await outlet.deliver(inbound.address, message)

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
                    channels=sorted(self._outlets),
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
                await self._send(job.id, job)
                continue
            log.info("answering %s message %d left unanswered", job.channel, job.id)
            inbound = Inbound(job.channel, job.user_id, job.session_id, job.text, job.address)
            await self._answer(_Queued(inbound, Ticket(job.id, True)))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _cancel(tasks: list[asyncio.Task[Any]] | set[asyncio.Task[Any]]) -> None:
    """Cancel and wait (bounded) for tasks to unwind."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_STOP_TASK_SECONDS)


__all__ = ["Delivery", "DeliveryError", "Inbound", "Outlet", "Ticket"]

"""A WeCom-style passive answer: the rendered answer handed back in the callback's own response
when it is ready before the callback's deadline, exactly once (a retried callback gets the same
text), and otherwise released to the courier."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from bot.delivery.store import RECEIVED, Job, OutboxStore, utc_now
from bot.delivery.types import Ticket

_PASSIVE_POLL_SECONDS = 0.05


async def passive_text(
    store: OutboxStore,
    ticket: Ticket,
    deadline: dt.datetime,
    *,
    release: bool,
    wake: asyncio.Event,
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
        job = await asyncio.to_thread(store.get, ticket.row_id)
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
            try:
                await asyncio.to_thread(store.release_hold, ticket.row_id)
            finally:
                wake.set()
        return None
    taken = await asyncio.to_thread(
        store.take_passive, ticket.row_id, has_rest=bool(rendered.get("rest"))
    )
    if not taken:  # a parallel callback (WeCom's retry) answered with it: the same text
        job = await asyncio.to_thread(store.get, ticket.row_id)
        return str(rendered["passive"]) if job is not None and job.passive else None
    if rendered.get("rest"):
        wake.set()
    return str(rendered["passive"])

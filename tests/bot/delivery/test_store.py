"""The outbox table (bot/delivery/store.py) on SQLite and PostgreSQL: a row is recorded once per
platform message, claimed by exactly one process however many race for it, and taken over only
when its lease has lapsed (a crashed process), never from a live owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.delivery.store import READY, RECEIVED, SENT, OutboxRow, OutboxStore, utc_now

LAPSED = -1.0  # a lease that ran out already: its owner died
LIVE = 600.0


def record(store: OutboxStore, n: int, *, owner: str, lease: float, **extra: object) -> int:
    row_id, created = store.record(
        channel="telegram",
        user_id=str(n),
        session_id=f"s{n}",
        text=f"问题{n}",
        address={"chat_id": n},
        owner=owner,
        lease_seconds=lease,
        **extra,  # type: ignore[arg-type]
    )
    assert created
    return row_id


def lease_owner(engine: Engine, row_id: int) -> str | None:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return connection.execute(
            select(table.c.lease_owner).where(table.c.id == row_id)
        ).scalar_one()


def test_a_platform_message_recorded_by_racing_processes_is_one_row(db_engine: Engine) -> None:
    store = OutboxStore(db_engine)

    def record_once(owner: int) -> tuple[int, bool]:
        return store.record(
            channel="wecom",
            user_id="lisi",
            session_id="wecom:lisi",
            text="东莞5G",
            address={"user_id": "lisi"},
            owner=f"p{owner}",
            lease_seconds=LIVE,
            dedupe_key="wecom:lisi:msg:1",
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(record_once, range(8)))
    assert len({row_id for row_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert store.counts() == {RECEIVED: 1}


def test_racing_processes_claim_each_lapsed_row_exactly_once(db_engine: Engine) -> None:
    store = OutboxStore(db_engine)
    rows = {record(store, n, owner="crashed", lease=LAPSED) for n in range(30)}

    def claim(owner: int) -> list[int]:
        jobs = store.claim_due(
            owner=f"p{owner}", lease_seconds=LIVE, limit=100, channels=["telegram"]
        )
        return [job.id for job in jobs]

    with ThreadPoolExecutor(max_workers=6) as pool:
        claimed = [row for rows_of_one in pool.map(claim, range(6)) for row in rows_of_one]
    assert sorted(claimed) == sorted(rows)  # every row taken over, none by two processes
    assert store.claim_due(owner="late", lease_seconds=LIVE, limit=100, channels=["telegram"]) == []


def test_a_ready_row_is_sent_by_one_claimant_only(db_engine: Engine) -> None:
    store = OutboxStore(db_engine)
    row_id = record(store, 1, owner="p0", lease=LAPSED, rendered={"messages": [{"html": "答"}]})
    with ThreadPoolExecutor(max_workers=6) as pool:
        won = list(
            pool.map(lambda n: store.claim(row_id, owner=f"p{n}", lease_seconds=LIVE), range(6))
        )
    assert won.count(True) == 1
    job = store.get(row_id)
    assert job is not None and job.status == READY
    assert lease_owner(db_engine, row_id) == f"p{won.index(True)}"


def test_a_live_lease_is_not_taken_over_a_lapsed_one_is(db_engine: Engine) -> None:
    store = OutboxStore(db_engine)
    alive = record(store, 1, owner="alive", lease=LIVE)
    dead = record(store, 2, owner="crashed", lease=LAPSED)
    jobs = store.claim_due(owner="heir", lease_seconds=LIVE, limit=100, channels=["telegram"])
    assert [job.id for job in jobs] == [dead]
    assert lease_owner(db_engine, dead) == "heir"
    # the crashed owner, should it come back, can no longer store an answer for the row
    assert not store.set_ready(
        dead, owner="crashed", rendered={"messages": []}, hold_until=utc_now()
    )
    assert store.set_ready(dead, owner="heir", rendered={"messages": []}, hold_until=utc_now())
    store.finish(dead, owner="heir", status=SENT)
    assert lease_owner(db_engine, alive) == "alive"
    assert store.counts() == {RECEIVED: 1, SENT: 1}

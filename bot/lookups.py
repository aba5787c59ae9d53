"""Canned lookups: named, saved questions (东莞5G补贴 = a question with its place and topic).

Helpdesk staff run them in one tap; a default set is derived from the corpus's coverage, one
per place and topic that has clauses, and follows the corpus: re-created when missing (not when
an admin removed it: removed defaults are kept hidden), removed when their place or topic left
the corpus. Lookups an admin made are never removed by a reload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.models import BotLookup
from bot.texts import lookup_templates, topic_labels
from retrieval.store import utc_now


@dataclass(frozen=True, slots=True)
class PlaceRef:
    """A place of the corpus: its display name and the city/district filters it stands for."""

    name: str
    city: str | None
    district: str | None


def name_limit() -> int:
    return int(lookup_templates()["limits"]["name_chars"])


def valid_name(name: str) -> bool:
    """Short, no white space and no ``=``: it must fit a ``/lookup NAME`` button command."""
    return 0 < len(name) <= name_limit() and not any(c.isspace() or c == "=" for c in name)


def default_lookups(
    coverage: dict[str, dict[str, int]], resolve: Callable[[str], PlaceRef]
) -> list[BotLookup]:
    """One lookup per covered place and topic with clauses, from the templates in lookups.toml."""
    templates = lookup_templates()["templates"]
    lookups: list[BotLookup] = []
    now = utc_now()
    for place_name in coverage:
        place = resolve(place_name)
        for topic in topic_labels():
            if coverage[place_name].get(topic, 0) <= 0 or topic not in templates:
                continue
            name = templates[topic]["name"].format(place=place.name)
            if not valid_name(name):
                continue
            lookups.append(
                BotLookup(
                    name=name,
                    question=templates[topic]["question"].format(place=place.name),
                    city=place.city,
                    district=place.district,
                    topic=topic,
                    is_default=True,
                    created_at=now,
                )
            )
    return lookups


def ensure_lookups(*, engine: Engine, lookups: Iterable[BotLookup]) -> int:
    """Create the given lookups where no lookup of that name exists; returns how many."""
    created, _removed = sync_default_lookups(engine=engine, lookups=lookups, prune=False)
    return created


def sync_default_lookups(
    *, engine: Engine, lookups: Iterable[BotLookup], prune: bool = True
) -> tuple[int, int]:
    """Make the visible defaults exactly ``lookups`` (the corpus's): (created, removed).

    Missing ones are created unless a lookup of that name exists (an admin's, or a default an
    admin hid); with ``prune``, visible defaults no longer derived are deleted. Hidden defaults
    stay hidden, so a document that comes back does not resurrect what an admin removed.
    """
    wanted = {lookup.name: lookup for lookup in lookups}
    created = removed = 0
    with Session(engine) as session:
        rows = {row.name: row for row in session.exec(select(BotLookup)).all()}
        for name, lookup in wanted.items():
            if name not in rows:
                session.add(lookup)
                created += 1
        if prune:
            for name, row in rows.items():
                if row.is_default and not row.hidden and name not in wanted:
                    session.delete(row)
                    removed += 1
        session.commit()
    return created, removed


def list_lookups(*, engine: Engine) -> list[BotLookup]:
    """Visible lookups: admins' own first, then the defaults, each by name."""
    with Session(engine) as session:
        rows = session.exec(select(BotLookup).where(BotLookup.hidden == False)).all()  # noqa: E712
    return sorted(rows, key=lambda row: (row.is_default, row.city or "", row.name))


def get_lookup(*, engine: Engine, name: str) -> BotLookup | None:
    with Session(engine) as session:
        row = session.get(BotLookup, name)
    return row if row is not None and not row.hidden else None


def save_lookup(
    *,
    engine: Engine,
    name: str,
    question: str,
    city: str | None,
    district: str | None,
    topic: str | None,
) -> BotLookup:
    """Add a lookup or replace one of the same name (an admin's lookup is never a default)."""
    with Session(engine) as session:
        row = session.get(BotLookup, name)
        if row is None:
            row = BotLookup(name=name, question=question, created_at=utc_now())
        row.question = question
        row.city, row.district, row.topic = city, district, topic
        row.is_default, row.hidden = False, False
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def delete_lookup(*, engine: Engine, name: str) -> bool:
    """Remove a lookup; a default one is hidden so that it is not re-created. False if absent."""
    with Session(engine) as session:
        row = session.get(BotLookup, name)
        if row is None or row.hidden:
            return False
        if row.is_default:
            row.hidden = True
            session.add(row)
        else:
            session.delete(row)
        session.commit()
    return True

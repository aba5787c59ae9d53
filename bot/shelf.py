"""The canned lookups the dialogue offers: kept in step with the live corpus.

Default lookups follow the corpus version (re-derived when any process reloaded it), and an
admin's lookup is shown as a button only while it still finds something.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.lookups import (
    PlaceRef,
    default_lookups,
    list_lookups,
    lookup_templates,
    sync_default_lookups,
)
from bot.models import BotLookup
from bot.types import Button

logger = logging.getLogger(__name__)


def resolve_place(key: str) -> PlaceRef:
    """A coverage key (``东莞``, ``深圳·宝安``) as a place: named by its smallest part."""
    city, _, district = key.partition("·")
    return PlaceRef(name=district or city, city=city or None, district=district or None)


class LookupShelf:
    """The lookups to list and suggest, refreshed lazily when the corpus version changes."""

    def __init__(self, service: AnswerService, engine: Engine) -> None:
        self._service = service
        self._engine = engine
        self._version: int | None = None  # the corpus version the defaults follow
        self._finds: dict[tuple[str, str, str | None, str | None], bool] = {}

    def refresh(self) -> int:
        """Make the default lookups follow the live corpus; returns how many were created.

        Also run whenever the corpus version changed (a reload by any process), so that
        /lookup never offers a lookup derived from a document that is gone.
        """
        version = self._service.index.version
        lookups = default_lookups(self._service.coverage(), resolve_place)
        created, removed = sync_default_lookups(engine=self._engine, lookups=lookups)
        if removed:
            logger.info("removed %d default lookups no longer in the corpus", removed)
        self._version = version
        self._finds.clear()
        return created

    def visible(self) -> list[tuple[BotLookup, bool]]:
        """The visible lookups, each with whether it still finds anything in the live corpus."""
        if self._service.index.version != self._version:
            self.refresh()
        return [(row, self._finds_something(row)) for row in list_lookups(engine=self._engine)]

    def suggest(self, city: str | None, topics: Sequence[str]) -> list[Button]:
        """A few canned lookups as buttons, those of this place and topic first."""
        limit = int(lookup_templates()["limits"]["suggested"])
        lookups = [row for row, finds in self.visible() if finds]

        def rank(lookup: BotLookup) -> tuple[int, int]:
            return (0 if city and lookup.city == city else 1, 0 if lookup.topic in topics else 1)

        chosen = sorted(lookups, key=rank)[:limit]
        return [Button(lookup.name, f"/lookup {lookup.name}") for lookup in chosen]

    def _finds_something(self, lookup: BotLookup) -> bool:
        """Defaults do by construction; an admin's is tried once per corpus version."""
        if lookup.is_default:
            return True
        key = (lookup.name, lookup.question, lookup.city, lookup.district)
        if key not in self._finds:
            answered = self._service.answer(
                lookup.question, city=lookup.city, district=lookup.district, k=1
            )
            self._finds[key] = bool(answered.answers) and not answered.abstained
        return self._finds[key]

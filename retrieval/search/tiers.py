"""Place tiers: how near each clause's document is to the place a question names.

A question about 南山 is answered from 南山's documents first, then 深圳's, 广东's and the
nation's; another place's documents not at all. Clauses' places are held as integer codes and
the tiers of a combination of places are cached, as places recur from question to question.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np

from retrieval.places import Place
from retrieval.store import StoredDocument

# Place tiers: how near a document's place is to the place a question names.
TIER_SAME = 1.0  # the place itself (南山区 for 南山)
TIER_CITY = 0.9  # its city (深圳 for 南山)
TIER_PROVINCE = 0.8  # its province (广东)
TIER_NATIONAL = 0.7  # national documents apply everywhere
TIER_UNKNOWN = 0.55  # a document whose place could not be read: ranked after those that match
TIER_CACHE_SIZE = 256  # place combinations whose tiers are kept (a few hundred kilobytes each)


class _Codes:
    """Per-clause names (a document's city, level) as integer codes: comparing with a name
    compares integers, 30× faster than an array of Python strings."""

    def __init__(self, names: Sequence[str], rows: np.ndarray) -> None:
        """``names[rows[i]]`` is clause ``i``'s name (names per document, rows per clause)."""
        self._code: dict[str, int] = {}
        codes = [self._code.setdefault(name, len(self._code)) for name in names]
        self.codes = np.array(codes, dtype=np.int32)[rows]

    def __eq__(self, name: object) -> np.ndarray:  # type: ignore[override]
        return self.codes == self._code.get(str(name), -1)

    def __len__(self) -> int:
        return len(self.codes)

    __hash__ = None  # type: ignore[assignment]


class PlaceTiers:
    """The tiers of one corpus version's clauses, for any places a question names."""

    def __init__(self, documents: Sequence[StoredDocument], doc_of_clause: np.ndarray) -> None:
        """``documents[doc_of_clause[i]]``: the document of clause ``i``."""
        rows = np.asarray(doc_of_clause, dtype=np.int64)
        self.clause_level = _Codes([doc.level or "" for doc in documents], rows)
        self.clause_province = _Codes([doc.province or "" for doc in documents], rows)
        self.clause_city = _Codes([doc.city or "" for doc in documents], rows)
        self.clause_district = _Codes([doc.district or "" for doc in documents], rows)
        self._cache: dict[tuple[Place, ...], np.ndarray | None] = {}

    def of(self, places: Sequence[Place]) -> np.ndarray | None:
        """Per clause, how near its document's place is to any of ``places`` (0: another
        place's document); None when no place is named (every document applies).

        A question about 南山 is answered from 南山's documents, then 深圳's, 广东's and
        national ones; a document whose place is unknown comes after those.
        """
        if not places:
            return None
        key = tuple(places)
        if key in self._cache:  # asked for twice a question, and places recur
            return self._cache[key]
        tier = np.zeros(len(self.clause_level), dtype=np.float64)
        national = self.clause_level == "national"
        unknown = self.clause_level == ""
        for place in places:
            in_province = self.clause_province == (place.province or "")
            province_level = (self.clause_level == "province") & in_province
            in_city = self.clause_city == (place.city or "")
            if place.kind == "province":
                same = in_province
                city_level = np.zeros_like(same)
            elif place.kind == "city":
                same = in_city  # a city's question is answered by its districts' documents too
                city_level = np.zeros_like(same)
            else:
                same = in_city & (self.clause_district == place.display)
                city_level = in_city & (self.clause_level == "city")
            tier = np.maximum(tier, np.where(same, TIER_SAME, 0.0))
            tier = np.maximum(tier, np.where(city_level, TIER_CITY, 0.0))
            if place.kind != "province":
                tier = np.maximum(tier, np.where(province_level, TIER_PROVINCE, 0.0))
        tier = np.maximum(tier, np.where(national, TIER_NATIONAL, 0.0))
        tier = np.maximum(tier, np.where(unknown, TIER_UNKNOWN, 0.0))
        tier.flags.writeable = False  # shared by every question naming these places
        if len(self._cache) >= TIER_CACHE_SIZE:
            with contextlib.suppress(RuntimeError, KeyError, StopIteration):  # a racing thread
                self._cache.pop(next(iter(self._cache)))
        self._cache[key] = tier
        return tier

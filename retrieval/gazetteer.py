"""Finding places in text: which province, city, district, county or town a text names.

Matching is longest-first and left to right, so 东莞市 is one place and 中山大学 is none. A name
several places share (鼓楼区 of 福州, 南京, 徐州, 开封) is resolved by the other places the text
names (福州市鼓楼区), else by the data's order of preference (the corpus's home province first).
The gazetteer is built from the data files by :func:`retrieval.places.load_gazetteer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

CITY, DISTRICT, TOWN, PROVINCE = "city", "district", "town", "province"
NATIONAL = "national"
_LEVEL_OF_KIND = {PROVINCE: PROVINCE, CITY: CITY, DISTRICT: DISTRICT, TOWN: DISTRICT}


@dataclass(frozen=True, slots=True)
class Place:
    """A place: a province, a prefecture city, a district or county, or a town or zone.

    ``name`` is the short name people use (深圳, 南山, 广东); ``full`` the official one (深圳市,
    南山区, 广东省). ``city`` is the prefecture city it belongs to (its own name for a city; a
    municipality such as 天津 is a city of its own province); ``province`` likewise.
    """

    name: str
    kind: str  # "province" | "city" | "district" | "town"
    city: str | None
    province: str | None = None
    full: str = ""
    code: str = ""

    @property
    def level(self) -> str:
        """The level a document of this place has: province | city | district."""
        return _LEVEL_OF_KIND[self.kind]

    @property
    def display(self) -> str:
        return self.full or self.name

    def within(self, other: Place) -> bool:
        """Whether this place is ``other`` or lies inside it (南山 within 深圳 within 广东)."""
        if other.kind == PROVINCE:
            return self.province == other.name
        if other.kind == CITY:
            return self.city == other.name
        return self.name == other.name and self.city == other.city


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """Where a place is named: ``surface`` is the text as written (宝安区), ``place`` its entry."""

    place: Place
    surface: str
    start: int
    end: int


@dataclass(slots=True)
class _Surface:
    """A written form and the places it may stand for, best first; ``blocked`` ordinary words;
    ``short`` a name without its suffix (南山), which must not be part of another word."""

    places: list[Place] = field(default_factory=list)
    blocked: bool = False
    short: bool = False


class Gazetteer:
    """Finds places in text; built once from the data files by :func:`load_gazetteer`."""

    def __init__(
        self,
        places: Iterable[Place],
        *,
        short_forms: Mapping[str, Iterable[Place]] | None = None,
        aliases: Mapping[str, str] | None = None,
        not_places: Iterable[str] = (),
        short_names: Mapping[str, str] | None = None,
        short_before: Iterable[str] = (),
        short_after: Iterable[str] = (),
        word_frequency: Mapping[str, int] | None = None,
        word_min_frequency: int = 1000,
        zone_suffixes: Iterable[str] = (),
        province_abbreviations: Mapping[str, str] | None = None,
    ) -> None:
        self._zone_suffixes = tuple(zone_suffixes)
        self._abbreviations = dict(province_abbreviations or {})
        self._places: list[Place] = list(places)
        self._words = {
            w for w, f in (word_frequency or {}).items() if f >= word_min_frequency and len(w) == 2
        }
        surfaces: dict[str, _Surface] = {}
        self._surfaces = surfaces  # filled below; aliases already look names up in it

        def add(surface: str, place: Place) -> None:
            entry = surfaces.setdefault(surface, _Surface())
            if place not in entry.places:
                entry.places.append(place)

        for place in self._places:
            add(place.full or place.name, place)
        for surface, places_of_surface in (short_forms or {}).items():
            for place in places_of_surface:
                add(surface, place)
            if not any(surface == p.full for p in places_of_surface):
                surfaces[surface].short = True
        for alias, name in (aliases or {}).items():
            add(alias, self._entry(name, alias))
        for word in not_places:  # blockers win over any place they contain
            surfaces[word] = _Surface(blocked=True)
        self._short = {char: self._entry(name, char) for char, name in (short_names or {}).items()}

        # What the scanner needs, as plain dicts and tuples: a compiled pattern of thousands of
        # names would be compiled again by every process that unpickles the gazetteer. Empty
        # names and context words (the data has none) are ignored.
        lengths: dict[str, set[int]] = {}
        for surface in surfaces:
            if surface:
                lengths.setdefault(surface[0], set()).add(len(surface))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}
        short_at: dict[str, list[str]] = {}
        for char in self._short:
            if char:
                short_at.setdefault(char[0], []).append(char)
        self._short_at = {c: tuple(chars) for c, chars in short_at.items()}
        self._short_before = tuple(w for w in short_before if w)
        self._short_after = tuple(w for w in short_after if w)

    def _entry(self, name: str, referrer: str) -> Place:
        surface = self._surfaces_for(name)
        if surface:
            return surface[0]
        raise ValueError(f"{referrer!r} refers to unknown place {name!r}")

    def _surfaces_for(self, name: str) -> list[Place]:
        entry = self._surfaces.get(name)
        if entry is not None and entry.places:
            return entry.places
        return [p for p in self._places if name in (p.name, p.full)]

    def matches(self, text: str) -> list[PlaceMatch]:
        """Every mention of a place in ``text``, in order, longest match first, no overlaps.

        A name several places share becomes the one whose province or city the text also
        names (福州市鼓楼区), else the first in the data's order of preference.
        """
        raw: list[tuple[list[Place], str, int, int]] = []
        for surface, start, end in self._scan(text):
            entry = self._surfaces.get(surface)
            if entry is not None:
                if entry.blocked or not entry.places:
                    continue
                if entry.short and self._inside_word(text, start, end):
                    continue  # 和政 in 人民政府和政府部门, 金安 in 资金安排
                if (
                    entry.short
                    and text.startswith(self._zone_suffixes, end)
                    and all(p.kind not in (CITY, PROVINCE) for p in entry.places)
                ):
                    continue  # 东湖高新区 is a zone, not 东湖区 (肇庆高新区 is 肇庆's)
                candidates = entry.places
            else:
                candidates = [self._short[surface]]
            raw.append((candidates, surface, start, end))
        certain = [c[0] for c, *_ in raw if len(c) == 1]
        found = []
        for candidates, surface, start, end in raw:
            place = candidates[0]
            if len(candidates) > 1:
                place = next(
                    (c for c in candidates if any(c != o and c.within(o) for o in certain)),
                    place,
                )
            found.append(PlaceMatch(place, surface, start, end))
        return found

    def _scan(self, text: str) -> Iterator[tuple[str, int, int]]:
        """The names written in ``text`` as ``(surface, start, end)``, left to right, none
        overlapping: at each position the longest name that starts there (only the lengths
        names starting with that character have are tried), else a one-character name in
        context (在莞, 莞企); after a name the scan goes on at its end. Blocked words are
        found like names, so that the caller can drop them and what they contain."""
        surfaces, lengths, short_at = self._surfaces, self._lengths, self._short_at
        before, after = self._short_before, self._short_after
        start, size = 0, len(text)
        while start < size:
            char = text[start]
            end = 0
            for length in lengths.get(char, ()):
                if start + length <= size and text[start : start + length] in surfaces:
                    end = start + length
                    break
            else:
                for short in short_at.get(char, ()):
                    if text.startswith(short, start) and (
                        text.endswith(before, 0, start)
                        or text.startswith(after, start + len(short))
                    ):
                        end = start + len(short)
                        break
            if end:
                yield text[start:end], start, end
                start = end
            else:
                start += 1

    def _inside_word(self, text: str, start: int, end: int) -> bool:
        """A short name whose first or last character forms a common word with its neighbour."""
        before = text[start - 1 : start + 1] if start > 0 else ""
        after = text[end - 1 : end + 1] if end < len(text) else ""
        return any(
            pair in self._words and pair not in self._surfaces for pair in (before, after) if pair
        )

    def find(self, text: str) -> list[Place]:
        """The places ``text`` names, each once, in order of first mention."""
        seen: dict[tuple[str, str | None], Place] = {}
        for match in self.matches(text):
            seen.setdefault((match.place.name, match.place.city), match.place)
        return list(seen.values())

    def lookup(self, name: str) -> Place | None:
        """The place a name stands for: 宝安, 宝安区, 鹏城."""
        name = name.strip()
        if not name:
            return None
        places = self._surfaces_for(name)
        if places:
            return places[0]
        return self._short.get(name)

    def city_of(self, name: str) -> str | None:
        """The city a city, district or town belongs to; None for provinces and unknown names."""
        place = self.lookup(name)
        if place is None or place.kind == PROVINCE:
            return None
        return place.city

    def province(self, name: str) -> Place | None:
        """The province entry of a province's short name (广东)."""
        return next((p for p in self._places if p.kind == PROVINCE and p.name == name), None)

    def province_of_abbreviation(self, char: str) -> Place | None:
        """The province a one-character name stands for (粤 → 广东)."""
        name = self._abbreviations.get(char)
        return self.province(name) or self.city(name) if name else None

    def city(self, name: str) -> Place | None:
        """The city entry of a city's short name (深圳)."""
        return next((p for p in self._places if p.kind == CITY and p.name == name), None)

    def cities(self) -> list[str]:
        """Every city known, in the order of preference (the corpus's home province first)."""
        return [p.name for p in self._places if p.kind == CITY]

    def places_of(self, city: str) -> list[Place]:
        """The districts and towns of a city, in the order of the data."""
        return [p for p in self._places if p.city == city and p.kind not in (CITY, PROVINCE)]


def level_rank(level: str | None) -> int:
    """How specific a level is: district 3, city 2, province 1, national 0, unknown -1."""
    return {DISTRICT: 3, CITY: 2, PROVINCE: 1, NATIONAL: 0}.get(level or "", -1)

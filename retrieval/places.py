"""Place names in text: which city, district or town a question or a document names.

The names live in ``data/places.toml`` so that people can add a town without touching code.
Matching is longest-first and left to right, so 东莞市 is one place and 中山大学 is none.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PLACES_FILE = Path(__file__).parent / "data" / "places.toml"

CITY, DISTRICT, TOWN, PROVINCE = "city", "district", "town", "province"


@dataclass(frozen=True, slots=True)
class Place:
    """A place named in text: a city, a district or town of a city, or a province.

    ``city`` is the city the place belongs to (a city's own name; for a province, its name).
    """

    name: str
    kind: str  # "city" | "district" | "town" | "province"
    city: str


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """Where a place is named: ``surface`` is the text as written (宝安区), ``place`` its entry."""

    place: Place
    surface: str
    start: int
    end: int


class Gazetteer:
    """Finds places in text; built once from the data file by :func:`load_gazetteer`."""

    def __init__(
        self,
        places: Iterable[Place],
        *,
        suffixes: Iterable[str] = (),
        aliases: Mapping[str, str] | None = None,
        strict: Iterable[str] = (),
        not_places: Iterable[str] = (),
        short_names: Mapping[str, str] | None = None,
        short_before: Iterable[str] = (),
        short_after: Iterable[str] = (),
    ) -> None:
        self._places: dict[str, Place] = {}
        for place in places:
            if place.name in self._places:
                raise ValueError(f"place {place.name!r} is listed twice")
            self._places[place.name] = place
        strict_names = set(strict)
        unknown = strict_names - self._places.keys()
        if unknown:
            raise ValueError(f"strict names that are no place: {sorted(unknown)}")
        self._suffixes = tuple(sorted(suffixes, key=len, reverse=True))

        surfaces: dict[str, Place | None] = {}
        for place in self._places.values():
            if place.name not in strict_names:
                surfaces[place.name] = place
            for suffix in self._suffixes:
                if not place.name.endswith(suffix):
                    surfaces[place.name + suffix] = place
        for alias, name in (aliases or {}).items():
            surfaces[alias] = self._entry(name, alias)
        for word in not_places:  # blockers win over any place they contain
            surfaces[word] = None
        self._surfaces = surfaces
        self._short = {char: self._entry(name, char) for char, name in (short_names or {}).items()}

        alternatives = [re.escape(s) for s in sorted(surfaces, key=len, reverse=True)]
        before = "|".join(f"(?<={re.escape(w)})" for w in short_before)
        after = "|".join(re.escape(w) for w in short_after)
        for char in self._short:
            if before:
                alternatives.append(f"(?:{before}){re.escape(char)}")
            if after:
                alternatives.append(f"{re.escape(char)}(?=(?:{after}))")
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def _entry(self, name: str, referrer: str) -> Place:
        try:
            return self._places[name]
        except KeyError:
            raise ValueError(f"{referrer!r} refers to unknown place {name!r}") from None

    def matches(self, text: str) -> list[PlaceMatch]:
        """Every mention of a place in ``text``, in order, longest match first, no overlaps."""
        if self._pattern is None:
            return []
        found = []
        for match in self._pattern.finditer(text):
            surface = match.group()
            if surface in self._surfaces:
                place = self._surfaces[surface]  # None: a word that only contains a place
            else:
                place = self._short.get(surface)
            if place is not None:
                found.append(PlaceMatch(place, surface, match.start(), match.end()))
        return found

    def find(self, text: str) -> list[Place]:
        """The places ``text`` names, each once, in order of first mention."""
        seen: dict[str, Place] = {}
        for match in self.matches(text):
            seen.setdefault(match.place.name, match.place)
        return list(seen.values())

    def lookup(self, name: str) -> Place | None:
        """The place a name stands for: 宝安, 宝安区, 鹏城 (a strict name counts here too)."""
        name = name.strip()
        if name in self._places:
            return self._places[name]
        place = self._surfaces.get(name) or self._short.get(name)
        if place is not None:
            return place
        for suffix in self._suffixes:
            if name.endswith(suffix) and name[: -len(suffix)] in self._places:
                return self._places[name[: -len(suffix)]]
        return None

    def city_of(self, name: str) -> str | None:
        """The city a city, district or town belongs to; None for provinces and unknown names."""
        place = self.lookup(name)
        if place is None or place.kind == PROVINCE:
            return None
        return place.city

    def cities(self) -> list[str]:
        """Every city known, in the order of the data file (Guangdong's first)."""
        return [p.name for p in self._places.values() if p.kind == CITY]

    def places_of(self, city: str) -> list[Place]:
        """The districts and towns of a city, in the order of the data file."""
        return [p for p in self._places.values() if p.city == city and p.kind != CITY]


def parse_places(data: Mapping[str, object]) -> Gazetteer:
    """Build a gazetteer from the parsed TOML of a places file."""
    places: list[Place] = []
    for entry in _list(data.get("city")):
        city = str(entry["name"])
        places.append(Place(city, CITY, city))
        places.extend(Place(str(n), DISTRICT, city) for n in _list(entry.get("districts")))
        places.extend(Place(str(n), TOWN, city) for n in _list(entry.get("towns")))
    others = data.get("other_cities", {})
    places.extend(Place(str(n), CITY, str(n)) for n in _list(_get(others, "names")))
    provinces = data.get("provinces", {})
    places.extend(Place(str(n), PROVINCE, str(n)) for n in _list(_get(provinces, "names")))
    context = data.get("short_name_context", {})
    return Gazetteer(
        places,
        suffixes=[str(s) for s in _list(data.get("suffixes"))],
        aliases={str(k): str(v) for k, v in _dict(data.get("aliases")).items()},
        strict=[str(s) for s in _list(data.get("strict"))],
        not_places=[str(s) for s in _list(data.get("not_places"))],
        short_names={str(k): str(v) for k, v in _dict(data.get("short_names")).items()},
        short_before=[str(s) for s in _list(_get(context, "before"))],
        short_after=[str(s) for s in _list(_get(context, "after"))],
    )


def _list(value: object) -> list:
    return list(value) if isinstance(value, list) else []


def _dict(value: object) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _get(table: object, key: str) -> object:
    return table.get(key) if isinstance(table, dict) else None


@cache
def load_gazetteer(path: Path = PLACES_FILE) -> Gazetteer:
    """The gazetteer of ``data/places.toml``, read once per process."""
    with path.open("rb") as handle:
        return parse_places(tomllib.load(handle))

"""Place names: the gazetteer of provinces, cities, districts, counties and towns, built from
two data files so that people can add a town without touching code:

- ``data/adcodes.csv``: China's administrative divisions (provinces, prefecture cities,
  districts and counties, with their codes), taken as it is from the MIT-licensed cpca
  package (see ``data/adcodes.LICENSE``). The code says what belongs to what.
- ``data/places.toml``: what that dataset lacks — towns (镇), development zones and new areas
  (大亚湾, 松山湖, 南沙), other names (鹏城), names that are also ordinary words, words that only
  contain a place name (中山大学), one-character names used in context (在莞).

How names are then found in text (longest first, shared names resolved by the others the text
names) is :mod:`retrieval.gazetteer`'s job; its names are re-exported here.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path

from retrieval import gazetteer
from retrieval.disk_cache import cached
from retrieval.gazetteer import (
    CITY,
    DISTRICT,
    NATIONAL,
    PROVINCE,
    TOWN,
    Gazetteer,
    Place,
    PlaceMatch,
    level_rank,
)

DATA_DIR = Path(__file__).parent / "data"
PLACES_FILE = DATA_DIR / "places.toml"
DIVISIONS_FILE = DATA_DIR / "adcodes.csv"
_ETHNIC_AUTONOMY = re.compile(r"^(?P<stem>.{2,}?)(?:[一-龥]{1,5}族)*自治(?:州|县|旗)$")


def short_name(full: str, suffixes: Iterable[str]) -> str:
    """广东省 → 广东, 广西壮族自治区 → 广西, 延边朝鲜族自治州 → 延边, 南山区 → 南山."""
    if match := _ETHNIC_AUTONOMY.match(full):
        return match.group("stem")
    for suffix in sorted(suffixes, key=len, reverse=True):
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def _divisions(path: Path, suffixes: list[str]) -> list[Place]:
    """Provinces, prefecture cities and county-level places from the adcode dataset."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append((row["adcode"][:6], row["name"].strip()))
    provinces = {code[:2]: name for code, name in rows if code[2:] == "0000"}
    cities = {code[:4]: name for code, name in rows if code[4:] == "00" and code[2:] != "0000"}
    places: list[Place] = []
    for code, full in rows:
        province_full = provinces.get(code[:2])
        if province_full is None:
            continue
        province = short_name(province_full, suffixes)
        municipality = province_full.endswith("市")
        if code[2:] == "0000":
            kind, city = (CITY, province) if municipality else (PROVINCE, None)
            places.append(Place(province, kind, city, province, full, code))
        elif code[4:] == "00":
            if municipality:
                continue  # 北京市 listed again as its own city
            places.append(Place(short_name(full, suffixes), CITY, None, province, full, code))
        else:
            city_full = cities.get(code[:4])
            if municipality:
                city = province
            elif city_full is None:
                continue  # 省直辖县: no prefecture city
            else:
                city = short_name(city_full, suffixes)
            places.append(Place(short_name(full, suffixes), DISTRICT, city, province, full, code))
    fixed = []
    for place in places:
        if place.kind == CITY and place.city is None:
            place = Place(place.name, CITY, place.name, place.province, place.full, place.code)
        fixed.append(place)
    return fixed


def parse_places(
    data: Mapping[str, object], divisions: Iterable[Place], word_frequency: Mapping[str, int]
) -> Gazetteer:
    """Build a gazetteer from the parsed places file and the administrative divisions.

    ``word_frequency`` (jieba's general-Chinese counts) marks short names that are common words
    (和平, 城区): those count only with their suffix (和平区).
    """
    suffixes = [str(s) for s in _list(data.get("suffixes"))]
    preferred = [str(p) for p in _list(data.get("preferred_provinces"))]
    rank = {name: i for i, name in enumerate(preferred)}
    places = sorted(divisions, key=lambda p: rank.get(p.province or "", len(rank)))
    by_city = {p.name: p for p in places if p.kind == CITY}
    known = {(p.full, p.city) for p in places}
    for entry in _list(data.get("city")):
        city = by_city.get(str(entry["name"]))
        if city is None:
            continue
        for kind, key, suffix in ((DISTRICT, "zones", ""), (TOWN, "towns", "镇")):
            for name in _list(entry.get(key)):
                name, full = (str(name), "") if isinstance(name, str) else _named(name)
                full = full or (name if any(name.endswith(s) for s in suffixes) else name + suffix)
                if (full, city.name) not in known and (name + "区", city.name) not in known:
                    places.append(Place(name, kind, city.name, city.province, full))
                    known.add((full, city.name))

    strict = {str(s) for s in _list(data.get("strict"))}
    common = _dict(data.get("common_word"))
    threshold = int(common.get("min_frequency", 500))
    generic = int(common.get("max_sharing", 3))
    short_forms: dict[str, list[Place]] = {}
    for place in places:
        name = place.name
        if name == place.full or len(name) < 2:
            continue
        short_forms.setdefault(name, []).append(place)
    upper = {p.name for p in places if p.kind in (PROVINCE, CITY)}
    kept: dict[str, list[Place]] = {}
    for name, sharing in short_forms.items():
        lower = [p for p in sharing if p.kind not in (PROVINCE, CITY)]
        if name in strict:
            continue
        if lower and (
            name in upper  # 长沙县 is not 长沙
            or len(lower) >= generic  # 城关, 新华: a name many counties share
            or word_frequency.get(name, 0) >= threshold
        ):
            sharing = [p for p in sharing if p.kind in (PROVINCE, CITY)]
        if sharing:
            kept[name] = sharing
    # a county whose short name does not count on its own is named in full (长沙县, 和平区)
    places = [
        p
        if p.kind in (PROVINCE, CITY) or p in kept.get(p.name, ()) or p.name == p.full
        else replace(p, name=p.full)
        for p in places
    ]
    kept = {
        name: [p if p.name == name else replace(p, name=name) for p in sharing]
        for name, sharing in kept.items()
    }
    aliases = {str(k): str(v) for k, v in _dict(data.get("aliases")).items()}
    context = data.get("short_name_context", {})
    return Gazetteer(
        places,
        short_forms=kept,
        aliases=aliases,
        not_places=[str(s) for s in _list(data.get("not_places"))],
        short_names={str(k): str(v) for k, v in _dict(data.get("short_names")).items()},
        short_before=[str(s) for s in _list(_get(context, "before"))],
        short_after=[str(s) for s in _list(_get(context, "after"))],
        word_frequency=word_frequency,
        word_min_frequency=int(common.get("boundary_frequency", 1000)),
        zone_suffixes=[str(s) for s in _list(data.get("zone_suffixes"))],
        province_abbreviations={
            str(k): str(v) for k, v in _dict(data.get("province_abbreviations")).items()
        },
    )


def _named(entry: object) -> tuple[str, str]:
    table = _dict(entry)
    return str(table["name"]), str(table.get("full", ""))


def _list(value: object) -> list:
    return list(value) if isinstance(value, list) else []


def _dict(value: object) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _get(table: object, key: str) -> object:
    return table.get(key) if isinstance(table, dict) else None


def _jieba_frequencies() -> dict[str, int]:
    """jieba's general-Chinese counts of common words that are not place names (its ``ns``
    tag), read from its dictionary file (no model load)."""
    import jieba

    frequencies: dict[str, int] = {}
    with (Path(jieba.__file__).parent / "dict.txt").open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 3 and 2 <= len(parts[0]) <= 4 and parts[2] != "ns":
                frequencies[parts[0]] = int(parts[1])
    return frequencies


@cache
def load_gazetteer(
    path: Path = PLACES_FILE, divisions: Path = DIVISIONS_FILE, cache_dir: Path | None = None
) -> Gazetteer:
    """The gazetteer of the data files, read once per process (from ``cache_dir`` when an
    earlier process built it from the same files: a tenth of the time)."""
    import jieba

    def build() -> Gazetteer:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        suffixes = [str(s) for s in _list(data.get("suffixes"))]
        return parse_places(data, _divisions(divisions, suffixes), _jieba_frequencies())

    code = [Path(__file__), Path(gazetteer.__file__)]
    inputs: list[Path | str] = [path, divisions, *code, f"jieba {jieba.__version__}"]
    return cached("gazetteer", inputs, build, cache_dir)


__all__ = [
    "CITY",
    "DISTRICT",
    "NATIONAL",
    "PROVINCE",
    "TOWN",
    "Gazetteer",
    "Place",
    "PlaceMatch",
    "level_rank",
    "load_gazetteer",
    "short_name",
]

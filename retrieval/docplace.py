"""Where a document applies: its level (national, province, city, district) and its place.

Read from the authority, the title, the 文号's own prefix, the header and the body, in that
order of trust: the first that names a place decides. Documents cite documents of other places
and levels (《广东省…》, 粤工信…〔2022〕7号), so the body is read with its citations removed, and
a body that names many cities is a province's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.places import CITY, NATIONAL, PROVINCE, Gazetteer, Place, level_rank

_CITATION = re.compile(
    r"《[^》]{0,120}》|[（(][^（()）]{0,80}[〔\[][0-9]{4}[〕\]][^（()）]{0,20}[)）]"
)
_EXCEPTED = re.compile(r"[^，。,;；(（)）]{0,12}除外")  # (深圳市除外): not where it applies
_MANY_CITIES = 3  # a body naming this many cities is about their province


@dataclass(frozen=True, slots=True)
class DocumentPlace:
    """Where a document applies; every field None when nothing says."""

    level: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None  # full name: 南山区, 洪梅镇, 大亚湾开发区

    @classmethod
    def of(cls, place: Place) -> DocumentPlace:
        district = (place.full or place.name) if place.level == "district" else None
        city = place.city if place.kind != PROVINCE else None
        return cls(place.level, place.province, city, district)


def document_place(
    gazetteer: Gazetteer,
    *,
    authority: str | None,
    title: str | None,
    doc_number: str | None,
    header: str | None,
    body: str,
    national_bodies: Sequence[str],
    recipient: str | None = None,
) -> DocumentPlace:
    """The place a document applies to, from the most trusted source that names one.

    The addressees (各县(市、区)人民政府, 肇庆高新区管委会) lie one level below the issuer: a
    document sent to a city's districts is the city's."""
    for source in (authority, title, header):
        if not source:
            continue
        text = _CITATION.sub(" ", source) if source is header else source
        places = gazetteer.find(text)
        if places:
            return DocumentPlace.of(_most_specific(places))
        if any(body_name in text for body_name in national_bodies):
            return DocumentPlace(NATIONAL)
    if recipient and (addressed := _above_addressees(gazetteer, recipient)) is not None:
        return addressed
    if doc_number and (place := _from_doc_number(gazetteer, doc_number, body)):
        return DocumentPlace.of(place)
    return _from_body(gazetteer, body, national_bodies)


def _above_addressees(gazetteer: Gazetteer, recipient: str) -> DocumentPlace | None:
    """The place one level above the places a salutation addresses."""
    places = gazetteer.find(recipient)
    if not places:
        return None
    deepest = max(places, key=lambda p: level_rank(p.level))
    if deepest.kind in (CITY, PROVINCE):
        return DocumentPlace.of(deepest)  # 南昌市各县区: the city's own document
    city = gazetteer.city(deepest.city or "")
    return DocumentPlace.of(city) if city else None


def _national_subject(head: str, national_bodies: Sequence[str]) -> bool:
    """The opening names a national body as the one acting (财政部、工业和信息化部…印发)."""
    return any(name in head for name in national_bodies)


def _most_specific(places: Sequence[Place]) -> Place:
    """The deepest place of a text whose other places contain it (福州市鼓楼区 → 鼓楼区)."""
    best = places[0]
    for place in places[1:]:
        if level_rank(place.level) > level_rank(best.level) and place.within(best):
            best = place
    return best


def _from_doc_number(gazetteer: Gazetteer, doc_number: str, body: str) -> Place | None:
    """揭府规〔2020〕3号: the prefix's first character names the city when the body names a
    city of that initial (揭阳); else a province's one-character name (粤工信… → 广东)."""
    initial = doc_number[:1]
    for place in gazetteer.find(_CITATION.sub(" ", body)):
        if place.kind == CITY and place.name.startswith(initial):
            return place
    return gazetteer.province_of_abbreviation(initial)


def _from_body(gazetteer: Gazetteer, body: str, national_bodies: Sequence[str]) -> DocumentPlace:
    """The body's own place: its city (and district) when it names few, its province when it
    names many; national when it addresses every province."""
    text = _EXCEPTED.sub(" ", _CITATION.sub(" ", body))
    matches = gazetteer.matches(text)
    if not matches:
        text = body  # a page that names its place only in what it cites (《大亚湾…》)
        matches = gazetteer.matches(text)
    head = text[:400]
    if any(name in head for name in national_bodies if "各省" in name or "计划单列" in name):
        return DocumentPlace(NATIONAL)
    mentions: Counter[tuple[str, str | None]] = Counter()
    first: dict[tuple[str, str | None], Place] = {}
    for match in matches:
        key = (match.place.name, match.place.city)
        first.setdefault(key, match.place)
        mentions[key] += 1
    if not mentions:
        return (
            DocumentPlace(NATIONAL) if _national_subject(head, national_bodies) else DocumentPlace()
        )
    places = list(first.values())
    cities = {p.city for p in places if p.kind != PROVINCE}
    if len(cities) >= _MANY_CITIES:
        provinces = Counter(p.province for p in places if p.province)
        province = gazetteer.province(provinces.most_common(1)[0][0]) if provinces else None
        if province is not None:
            return DocumentPlace.of(province)
    local = [p for p in places if p.kind != PROVINCE]
    if not local:
        return DocumentPlace.of(places[0])
    city_counts = Counter(p.city for p in local for _ in range(mentions[(p.name, p.city)]))
    city = city_counts.most_common(1)[0][0]
    in_city = [p for p in local if p.city == city]
    districts = [p for p in in_city if p.kind != CITY]
    if districts and (len(districts) == 1 or not any(p.kind == CITY for p in in_city)):
        # the one district a body names is its own (青岛…城阳区乾运高科): the city is where it is
        return DocumentPlace.of(max(districts, key=lambda p: mentions[(p.name, p.city)]))
    city_place = next((p for p in in_city if p.kind == CITY), None) or gazetteer.city(city or "")
    return DocumentPlace.of(city_place) if city_place else DocumentPlace()

"""What a question is about, before any retrieval: its intents, places, words, and typos read.

The dialogue understands a message (to route it), then answers it: the second step reuses the
first, which is kept for the last questions asked.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass, field, replace

from bot.types import IntentScore
from intents import OTHER, IntentClassifier
from intents.classifier import LEXICON_PATH
from retrieval.places import Gazetteer, Place
from retrieval.search import ClauseIndex, Query, QueryBuilder
from retrieval.tokenize import PolicyTokenizer
from zhtext.normalize import normalize_text

SMALLTALK_PATH = LEXICON_PATH.parent / "smalltalk.toml"
UNDERSTOOD_KEPT = 64  # recent questions whose understanding is reused (understand, then answer)
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(slots=True)
class Understanding:
    """What a question is about, before any retrieval."""

    text: str  # normalised question
    intents: list[IntentScore]  # sorted, first is primary; [other] when nothing matched
    cues: dict[str, list[str]]  # intent label -> cue words that decided it
    places: list[Place]  # places named in the question, in order
    city: str | None  # the city searched (from the places), None = all
    district: str | None
    unknown_place: str | None  # a named place with no documents (e.g. 北京): answer honestly
    content_terms: list[str]  # informative words, place names and stop words removed
    is_greeting: bool = False  # 你好 / 在吗 / 谢谢 / 你能做什么: help, not a search
    # typos read as words: (数子贷, 数字贷)
    corrections: list[tuple[str, str]] = field(default_factory=list)


class QuestionReader:
    """Reads a question against the live index: typos, intents, places, the query it makes."""

    def __init__(
        self,
        *,
        tokenizer: PolicyTokenizer,
        classifier: IntentClassifier,
        gazetteer: Gazetteer,
        queries: QueryBuilder,
    ) -> None:
        self.tokenizer = tokenizer
        self.classifier = classifier
        self.gazetteer = gazetteer
        self.queries = queries
        smalltalk = tomllib.loads(SMALLTALK_PATH.read_text(encoding="utf-8"))
        self._smalltalk = [_PUNCTUATION.sub("", normalize_text(p)) for p in smalltalk["phrases"]]
        self._smalltalk_slack = int(smalltalk.get("slack", 2))
        self._understood: dict[tuple[str, int], tuple[Understanding, Query]] = {}

    def understand(self, text: str, index: ClauseIndex) -> tuple[Understanding, Query]:
        """The question understood, and the query it makes. The dialogue understands a
        message, then answers it: the second call reuses the first (a copy: ``answer`` sets
        the place of a follow-up on it)."""
        key = (text, index.version)
        known = self._understood.get(key)
        if known is None:
            known = self._understand_anew(text, index)
            if len(self._understood) >= UNDERSTOOD_KEPT:
                with contextlib.suppress(RuntimeError, KeyError, StopIteration):
                    self._understood.pop(next(iter(self._understood)))
            self._understood[key] = known
        return replace(known[0]), known[1]

    def _understand_anew(self, text: str, index: ClauseIndex) -> tuple[Understanding, Query]:
        normalized = normalize_text(text)
        normalized, corrections = index.corrector.correct(
            normalized,
            self.tokenizer.words(normalized),
            weak=index.weak_word,
            particles=self.tokenizer.stopwords,
        )
        classification = self.classifier.classify(normalized, normalized=True)
        places = self.places(normalized)
        tiers = index.tiers(places)
        unknown = next((p.name for p in places if tiers is not None and not tiers.any()), None)
        intents = {label: score for label, score in classification.scores if label != OTHER}
        query = self.queries.build(normalized, ignore=_place_words(places), intents=intents)
        first = places[0] if places else None
        understanding = Understanding(
            text=normalized,
            intents=[
                IntentScore(label, score, tuple(classification.cues.get(label, ())))
                for label, score in classification.scores
            ],
            cues=classification.cues,
            places=places,
            city=(first.city or first.name) if first else None,
            district=first.name if first and first.kind not in ("city", "province") else None,
            unknown_place=unknown,
            content_terms=query.content_terms,
            is_greeting=self.is_smalltalk(normalized),
            corrections=[(c.wrong, c.right) for c in corrections],
        )
        return understanding, query

    def places(self, normalized: str) -> list[Place]:
        """The places a question names, the most specific of each chain (深圳南山 → 南山)."""
        found = self.gazetteer.find(normalized)
        return [p for p in found if not any(o != p and o.within(p) for o in found)]

    def place_of(self, city: str | None, district: str | None) -> Place | None:
        """The place a follow-up names by city and district (那中山呢)."""
        if district:
            in_city = [
                p for p in self.gazetteer.places_of(city or "") if district in (p.name, p.full)
            ]
            return in_city[0] if in_city else self.gazetteer.lookup(district)
        if city:
            return self.gazetteer.city(city) or self.gazetteer.lookup(city)
        return None

    def is_smalltalk(self, normalized: str) -> bool:
        bare = _PUNCTUATION.sub("", normalized)
        if not bare:
            return False
        return any(
            bare.startswith(phrase) and len(bare) - len(phrase) <= self._smalltalk_slack
            for phrase in self._smalltalk
        )


def _place_words(places: list[Place]) -> list[str]:
    """The ways a question may write its places (南山, 南山区), which are not its content."""
    words: list[str] = []
    for place in places:
        words.extend({place.name, place.full})
        words.extend(place.name + suffix for suffix in ("市", "区", "镇", "县", "省"))
    return [w for w in words if w]

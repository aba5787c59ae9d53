"""The best clauses of a question, scored exactly as ``retrieval.search.scoring`` says, in few
passes over every clause.

The plain way (``ClauseFields.scores``, then ``topic_and_kind_boost``, the opening prior and
place tiers, every factor an array over all clauses) makes some twenty passes over 100,000
clauses and counts each word's discount again for every question. Here:

- the words field is added in one pass over the question's postings, each word's discount
  folded into weights kept per word (``ClauseFields.word``); the characters and titles are
  added as the plain way adds them;
- the fields are added and scaled in arrays kept from one search to the next (a search that
  made and freed them had the allocator hand back fresh pages: 800 page faults a question);
- the boosts are read only at the clauses that may still rank: the boosted k-th best of the
  clauses leading before boosts bounds every other clause, as no clause's factors multiply
  above ``QueryBoost.bound``;
- the clauses that rank, and those within the first pass's rounding of ranking, are scored
  again the plain way (their words looked up in the postings): the scores, and so the order
  and the ties, are the plain way's to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from retrieval.cores import usable_cores
from retrieval.index import SparseBM25
from retrieval.postings import add_rows, combine, locate
from retrieval.search.query import Query
from retrieval.search.scoring import (
    FIELD_WEIGHTS,
    INTENT_BOOST,
    KIND_BOOST,
    TITLE_WORD_DISCOUNT,
    ClauseFields,
    Word,
    topic_affinity,
)

# The first pass adds the words in another order than the plain sums: each addition rounds by
# 2⁻⁵³ of its sum at most (all weights are positive), and the plain way's subtracted discounts
# can leave a score as small as (1 − TITLE_WORD_DISCOUNT) of the sum it was taken from, which
# magnifies its rounding by 1 / (1 − discount): ``_relative_error`` bounds both, twice over;
# every clause the pass could misplace by it is scored again the plain way.
_UNIT_ROUNDING = 2.0**-53
_SAMPLE_STRIDE = 64  # a 1/64 sample's k-th best leaves about 64·k clauses to bound the rest with
_LEADING = 8  # of which the 8·k best (before boosts) are boosted: their k-th best bounds the rest


@dataclass(frozen=True, slots=True)
class Ranked:
    """The best clauses, best first, with their scores and their words' raw BM25."""

    positions: list[int]
    scores: list[float]
    bm25: list[float]


def top(fields: ClauseFields, query: Query, k: int, boost: QueryBoost) -> Ranked:
    """The ``k`` best clauses by ``fields.scores(query)`` moved by ``boost`` (positive scores
    only, ties by position), with the very scores ``boost.at`` gives the plain sums."""
    n = len(fields.doc_of_clause)
    if k <= 0 or not n:
        return Ranked([], [], [])
    scratch = _scratch.take(n)
    try:
        return _top(fields, query, k, boost, scratch)
    finally:
        _scratch.give_back(scratch)


def _top(fields: ClauseFields, query: Query, k: int, boost: QueryBoost, scratch: _Arrays) -> Ranked:
    words = _WordRows(fields, query)
    total = words.approximate(scratch.words)
    chars = scratch.chars
    chars[:] = 0.0
    _add(chars, fields.chars, query.chars)  # exactly as ``chars.scores`` adds
    titles = fields.titles.scores(query.terms) if query.terms else None
    best_words, best_chars = float(total.max()), float(chars.max())
    best_title = 0.0
    if titles is not None:
        best_title = float(titles[fields.documents_with_clauses()].max())
    error = _relative_error(len(words.rows))  # of the words' first pass
    near_best = np.zeros(0, dtype=np.int64)  # where the words may score best: the exact best
    if best_words > 0:  # is one of theirs
        np.greater_equal(total, best_words / (1.0 + error) ** 2, out=scratch.flags)
        near_best = np.flatnonzero(scratch.flags)
    # the fields added in units of the words' best (a factor that changes no rank, and saves
    # a pass): each other field scaled to its best, in those units
    unit = best_words / FIELD_WEIGHTS["words"] if best_words > 0 else 1.0
    combine(
        total,
        chars if best_chars > 0 else None,
        FIELD_WEIGHTS["chars"] * unit / best_chars if best_chars > 0 else 0.0,
        titles * (FIELD_WEIGHTS["title"] * unit / best_title)
        if titles is not None and best_title > 0
        else None,
        fields.doc_of_clause,
        scratch.other,
    )
    candidates = _candidates(total, k, boost, 2 * error, scratch)  # the best's error, and its own
    if not len(candidates):
        return Ranked([], [], [])
    # the candidates again, the plain way: their words looked up, the other fields read
    both = _union(candidates, near_best)
    bm25, word_scores = words.exact(both)
    at = np.searchsorted(both, candidates)
    exact = np.zeros(len(candidates), dtype=np.float64)
    if best_words > 0:
        best = float(word_scores[np.searchsorted(both, near_best)].max())
        exact += FIELD_WEIGHTS["words"] * word_scores[at] / best
    if best_chars > 0:
        exact += FIELD_WEIGHTS["chars"] * chars[candidates] / best_chars
    if titles is not None and best_title > 0:
        title_scores = titles[fields.doc_of_clause[candidates]]
        exact += FIELD_WEIGHTS["title"] * title_scores / best_title
    score = boost.at(exact, candidates)
    keep = score > 0
    order = np.lexsort((candidates[keep], -score[keep]))[:k]
    return Ranked(
        candidates[keep][order].tolist(),
        score[keep][order].tolist(),
        bm25[at][keep][order].tolist(),
    )


class _WordRows:
    """The question's words in the words field: each one's weight, postings, BM25 weights and
    what ``ClauseFields.word`` keeps of it, in the question's order (the plain sums' order)."""

    def __init__(self, fields: ClauseFields, query: Query) -> None:
        self.rows: list[tuple[float, np.ndarray, np.ndarray, Word]] = []
        for term, weight in query.terms.items():
            if weight == 0:
                continue
            if weight < 0:  # the error bound holds for added weights only
                raise ValueError(f"a negative word weight cannot be ranked: {term} {weight}")
            clauses, data = fields.words.row(term)
            if len(clauses):
                self.rows.append((weight, clauses, data, fields.word(term)))

    def approximate(self, out: np.ndarray) -> np.ndarray:
        """``out`` set to every clause's ``word_scores`` (within ``_relative_error`` of the
        score) in one pass over the postings, the discount folded into each word's weights
        (the plain way subtracts it after the sum)."""
        out[:] = 0.0
        add_rows(out, [(clauses, word.folded, weight) for weight, clauses, _, word in self.rows])
        return out

    def exact(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw BM25 and the ``word_scores`` of the clauses at ``positions`` (ascending),
        bit for bit: each word's weight is looked up and added in the plain sums' order."""
        bm25 = np.zeros(len(positions), dtype=np.float64)
        looked_up = []
        for weight, clauses, data, word in self.rows:
            slot = locate(positions, clauses)  # -1 where the word is not: clipped to 0
            here = slot >= 0
            values = np.where(here, data.take(slot, mode="clip"), 0.0)  # adding 0.0 leaves
            bm25 += values if weight == 1.0 else values * weight  # a sum's bits alone
            if TITLE_WORD_DISCOUNT > 0:
                looked_up.append((weight, values, here & word.through.take(slot, mode="clip")))
        scores = bm25.copy()
        for weight, values, running in looked_up:
            scores -= np.where(running, TITLE_WORD_DISCOUNT * weight * values, 0.0)
        return bm25, scores


def _relative_error(words: int) -> float:
    """A bound on how far, relatively, the first pass's words sum may be from the plain one
    (``words``: the question's words in the field): both sums' roundings, the plain one's
    magnified by its discounts' cancellation, and a few roundings of the scaling after."""
    if not 0.0 <= TITLE_WORD_DISCOUNT < 1.0:
        raise ValueError("ranking needs a title-word discount in [0, 1)")
    plain = (2 * words + 2) / (1.0 - TITLE_WORD_DISCOUNT)
    return 2.0 * (plain + words + 4) * _UNIT_ROUNDING


def _add(out: np.ndarray, field: SparseBM25, weights: Mapping[str, float]) -> None:
    """``field.scores(weights)`` added into ``out`` (zeroed): the same terms in the same order,
    each clause's sum the same bits."""
    rows = []
    for term, weight in weights.items():
        clauses, data = field.row(term)
        if len(clauses) and weight != 0.0:
            rows.append((clauses, data, weight))
    add_rows(out, rows)


class Boosts:
    """The factors that move one corpus version's clauses after their fields are added, and
    the largest of each (kept): what ``QueryBoost.bound`` is made of."""

    def __init__(
        self,
        *,
        labels: list[str],
        intent_profile: np.ndarray,
        kind_masks: Mapping[str, np.ndarray],
        opening_prior: np.ndarray,
        opening_exempt: frozenset[str],
    ) -> None:
        self.labels, self.intent_profile, self.kind_masks = labels, intent_profile, kind_masks
        self.opening_prior, self.opening_exempt = opening_prior, opening_exempt
        empty = not intent_profile.size
        self._topic_max = np.zeros(len(labels)) if empty else intent_profile.max(axis=0)
        self._topic_min = np.zeros(len(labels)) if empty else intent_profile.min(axis=0)
        self._kind_any = {kind: bool(mask.any()) for kind, mask in kind_masks.items()}
        self._opening_max = float(opening_prior.max()) if len(opening_prior) else 0.0

    def of(self, query: Query, tiers: np.ndarray | None, excluded: np.ndarray) -> QueryBoost:
        """The factors of ``query`` (as ``topic_and_kind_boost`` applies them, then the
        opening prior unless the question is about the document, then ``tiers``), with
        ``excluded`` positions scored 0 (``bound``: of all of them but the tiers)."""
        topics, bound = None, 1.0
        if query.intents and self.labels:
            weights = np.array([query.intents.get(label, 0.0) for label in self.labels])
            if weights.sum() > 0:
                topics = weights / weights.sum()
                highest = np.maximum(self._topic_max * topics, self._topic_min * topics).sum()
                bound *= 1.0 + INTENT_BOOST * float(highest)
        kinds = []
        for kind in query.kinds:
            mask = self.kind_masks.get(kind)
            if mask is not None:
                kinds.append(mask)
                bound *= max(1.0 + KIND_BOOST, 1.0) if self._kind_any[kind] else 1.0
        opening = None if self.opening_exempt & set(query.kinds) else self.opening_prior
        if opening is not None:
            bound *= self._opening_max
        bound *= 1.0 + 1e-9  # the factors' own roundings (a product of a few floats)
        profile = self.intent_profile
        return QueryBoost(profile, topics, tuple(kinds), opening, tiers, excluded, bound)


@dataclass(frozen=True, slots=True)
class QueryBoost:
    """A question's factors, read at any clauses; no clause's factors but its place tier
    multiply above ``bound`` (ranking reads the tiers with the fields' total)."""

    profile: np.ndarray
    topics: np.ndarray | None  # the question's topic weights, summing to 1 (None: no boost)
    kinds: tuple[np.ndarray, ...]  # the clauses holding what it asks for, a mask a kind
    opening: np.ndarray | None
    tiers: np.ndarray | None
    excluded: np.ndarray  # positions scored 0 (clauses already shown)
    bound: float

    def at(self, score: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``score`` (of the clauses at ``positions``) moved by each factor in the plain
        order, each product as the whole-corpus arrays give it."""
        score = np.array(score, dtype=np.float64)
        if self.topics is not None:
            affinity = topic_affinity(self.profile[positions], self.topics)
            score = score * (1.0 + INTENT_BOOST * affinity)
        for mask in self.kinds:
            score = score * np.where(mask[positions], 1.0 + KIND_BOOST, 1.0)
        if self.opening is not None:
            score = score * self.opening[positions]
        if self.tiers is not None:
            score = score * self.tiers[positions]
        if len(self.excluded):
            score[np.isin(positions, self.excluded)] = 0.0
        return score


def _candidates(
    total: np.ndarray, k: int, boost: QueryBoost, margin: float, scratch: _Arrays
) -> np.ndarray:
    """The clauses (ascending) that may be among the ``k`` best once boosted, given their
    fields' ``total`` within ``margin`` (relative): the boosted k-th best of the clauses
    leading by ``total`` bounds the rest, and those that may reach it are boosted to see."""
    proxy = total  # what no clause's boosted score exceeds, but for ``boost.bound``
    if boost.tiers is not None:
        proxy = np.multiply(total, boost.tiers, out=scratch.other)
    if len(boost.excluded):  # clauses already shown score 0: they lead nothing
        if proxy is total:
            np.copyto(scratch.other, total)
            proxy = scratch.other
        proxy[boost.excluded] = 0.0
    floor = 0.0
    if len(proxy) > _SAMPLE_STRIDE * k * 4:  # a strided sample's k-th best: some 64·k lead
        sample = proxy[::_SAMPLE_STRIDE]
        floor = max(float(np.partition(sample, len(sample) - k)[len(sample) - k]), 0.0)
    leading = _at_least(proxy, floor, scratch)
    best = leading
    if len(leading) > _LEADING * k:  # boosting thousands costs more than the bound saves
        cut = len(leading) - _LEADING * k
        best = leading[np.argpartition(proxy[leading], cut)[cut:]]
    theta = _kth(boost.at(total[best], best), k)
    spread = (1.0 - margin) / (1.0 + margin)
    reach = theta * spread / (boost.bound * (1.0 + margin)) if theta > 0 else 0.0
    if floor > 0 and reach >= floor:  # all that may reach theta lead already
        rest = leading[proxy[leading] >= reach]
    else:
        rest = _at_least(proxy, reach, scratch)
    score = boost.at(total[rest], rest)
    theta = _kth(score, k)
    return rest[score >= theta * spread] if theta > 0 else rest[score > 0]


def _union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The positions in either, ascending and distinct: ``np.union1d``, which imports
    ``numpy.ma`` on its first call (40-90 ms of a cold ``policybot ask``)."""
    both = np.sort(np.concatenate((first, second)))
    if len(both) < 2:
        return both
    keep = np.empty(len(both), dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def _at_least(scores: np.ndarray, floor: float, scratch: _Arrays) -> np.ndarray:
    """The positions of the positive ``scores`` at or above ``floor``."""
    if floor > 0:
        np.greater_equal(scores, floor, out=scratch.flags)
    else:
        np.greater(scores, 0.0, out=scratch.flags)
    return np.flatnonzero(scratch.flags)


def _kth(values: np.ndarray, k: int) -> float:
    """The k-th largest of ``values`` when at least ``k`` are positive, else 0."""
    if np.count_nonzero(values > 0) < k:
        return 0.0
    return float(np.partition(values, len(values) - k)[len(values) - k])


class _Arrays:
    """One thread's scratch arrays for ranking a corpus of ``n`` clauses."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.words = np.empty(n, dtype=np.float64)  # the words' sums, then the fields' total
        self.chars = np.empty(n, dtype=np.float64)
        self.other = np.empty(n, dtype=np.float64)  # a field scaled, the total placed
        self.flags = np.empty(n, dtype=bool)


class _Scratch:
    """Scratch arrays kept from one search to the next (see the module's docstring): a search
    takes a set and gives it back; up to ``kept`` sets are kept (searches running at once
    beyond them make their own), all of the size of the corpus searched last (a reload's new
    size lets go of the old sets)."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._free: list[_Arrays] = []
        self._size = 0

    def take(self, n: int) -> _Arrays:
        if n != self._size:  # another corpus: the old sets go
            self._size, self._free = n, []
        try:
            arrays = self._free.pop()  # atomic: no two searches take the same set
        except IndexError:
            return _Arrays(n)
        return arrays if arrays.n == n else _Arrays(n)

    def give_back(self, arrays: _Arrays) -> None:
        if arrays.n == self._size and len(self._free) < self._kept:
            self._free.append(arrays)


_scratch = _Scratch(kept=usable_cores())

"""Which ranked clauses are worth showing: relevance is judged on coverage, not on rank.

A question is answered only when its top clause carries enough of what it says; further
answers must be about the question too, a place's own documents come before those from
further away, and an article (第X条) is one answer however many paragraphs it has.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from retrieval.search import TIER_PROVINCE, ClauseIndex, Hit

# Relevance, tuned on the dev questions as a whole (not row by row): the top clause must carry
# this share of the question's information, or the honest answer is "not found".
MIN_COVERAGE = 0.47
# Further answers must also be about the question, not just share a word with it.
MIN_COVERAGE_MORE = 0.4
MIN_SCORE_RATIO_MORE = 0.25
# A question that names a place, answered from a national document or one whose place is
# unknown: that answer must carry this much more of the question.
AWAY_MARGIN = 0.15


def relevant_hits(
    hits: list[Hit],
    index: ClauseIndex,
    *,
    specific_topics: Collection[str],
    paging: bool,
    topics: dict[str, float],
    placed: bool,
) -> list[Hit]:
    """The hits worth showing: about the question's specific topic (5G, talent, loans) when
    it has one; the first must carry enough of the question, the rest must be about it.
    When the question names a place, a national document or one of unknown place must
    carry more of it than the place's own documents do (``placed``). ``index`` is the one
    that found the hits; ``specific_topics`` are the labels of specific topics (5G, talent),
    not general ones (补贴)."""
    general = max(
        (score for label, score in topics.items() if label not in specific_topics),
        default=0.0,
    )
    columns = [  # a topic the question is mainly about, not one it brushes (投资奖励)
        index.labels.index(label)
        for label, score in topics.items()
        if label in specific_topics and label in index.labels and score >= 0.5 and score >= general
    ]
    if columns and hits:  # a 5G question is answered by clauses about 5G, not merely about 补贴
        rows = index.intent_profile[[h.position for h in hits]][:, columns]
        hits = [h for h, about in zip(hits, (rows.max(axis=1) > 0).tolist(), strict=True) if about]
    if not hits:
        return []
    strong = [h for h in hits if h.coverage >= MIN_COVERAGE + _away_margin(h, placed)]
    if not strong and not paging:
        return []
    first = strong[0] if strong else hits[0]
    rest = [
        hit
        for hit in hits
        if hit is not first
        and hit.coverage >= MIN_COVERAGE_MORE + _away_margin(hit, placed)
        and hit.score >= MIN_SCORE_RATIO_MORE * first.score
    ]
    ranked = _one_per_article([first, *rest])
    if not placed:
        return ranked
    # the place's own documents first, then its city's, province's, the nation's, then
    # those of unknown place: among the answers that carry the question, nearest first
    carrying = {h.position for h in strong}
    answering = [h for h in ranked if h.position in carrying]
    answering.sort(key=lambda h: -h.tier)  # stable: by score within a level
    return [*answering, *(h for h in ranked if h.position not in carrying)]


def _away_margin(hit: Hit, placed: bool) -> float:
    """How much more of the question a hit from beyond the place asked must carry."""
    return AWAY_MARGIN if placed and hit.tier < TIER_PROVINCE else 0.0


_ARTICLE = re.compile(r"第[一二三四五六七八九十百零〇0-9]+条")


def _one_per_article(hits: list[Hit]) -> list[Hit]:
    """An article (第X条) is one answer with all its paragraphs: ten answers are ten articles."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for hit in hits:
        match = _ARTICLE.search(hit.clause.section)
        if match is not None:
            article = (hit.clause.doc_key, hit.clause.section[: match.end()])
            if article in seen:
                continue
            seen.add(article)
        kept.append(hit)
    return kept

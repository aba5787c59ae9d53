"""Ranked clause retrieval over one corpus version: BM25 fields, synonyms, places, intents.

The way a question is searched, one module a job:

- ``query``: the question made ready (its words and their weights, synonyms, what it asks for);
- ``chars``: the characters-and-pairs field, where differently worded texts still meet;
- ``clause_index``: the index of a corpus version, built or loaded, and the ranked search;
- ``scoring``: the fields' BM25 scores added, then topic and kind boosts;
- ``tiers``: how near each clause's document is to the place a question names;
- ``coverage``: how much of the question a clause carries (what relevance is judged on).

Every name callers use is importable from ``retrieval.search`` itself.
"""

from retrieval.search.chars import char_term_ids, char_terms
from retrieval.search.clause_index import WEAK_WORD_FREQUENCY, ClauseIndex, Hit
from retrieval.search.coverage import Coverage
from retrieval.search.query import (
    SYNONYM_WEIGHT,
    Query,
    QueryBuilder,
    QuestionForms,
    QuestionKinds,
    Synonyms,
    get_question_kinds,
    get_synonyms,
)
from retrieval.search.scoring import (
    FIELD_WEIGHTS,
    INTENT_BOOST,
    KIND_BOOST,
    MIN_FIELD_IDF,
    TITLE_WORD_DISCOUNT,
    ClauseFields,
)
from retrieval.search.tiers import (
    TIER_CITY,
    TIER_NATIONAL,
    TIER_PROVINCE,
    TIER_SAME,
    TIER_UNKNOWN,
    PlaceTiers,
)

__all__ = [
    "FIELD_WEIGHTS",
    "INTENT_BOOST",
    "KIND_BOOST",
    "MIN_FIELD_IDF",
    "SYNONYM_WEIGHT",
    "TIER_CITY",
    "TIER_NATIONAL",
    "TIER_PROVINCE",
    "TIER_SAME",
    "TIER_UNKNOWN",
    "TITLE_WORD_DISCOUNT",
    "WEAK_WORD_FREQUENCY",
    "ClauseFields",
    "ClauseIndex",
    "Coverage",
    "Hit",
    "PlaceTiers",
    "Query",
    "QueryBuilder",
    "QuestionForms",
    "QuestionKinds",
    "Synonyms",
    "char_term_ids",
    "char_terms",
    "get_question_kinds",
    "get_synonyms",
]

"""A corpus of the seeds' sentences recombined into 3,000 clauses of 30 documents, with topics:
what the ranking and coverage tests compare the fast ways and the plain ways on (clauses
repeat, so scores tie; the documents carry the seeds' places and titles)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from retrieval import postings
from retrieval.bench import synthetic_documents
from retrieval.corpus import read_corpus
from retrieval.search import ClauseIndex, QueryBuilder, get_synonyms
from retrieval.store import LiveCorpus, StoredClause, StoredDocument
from retrieval.tokenize import PolicyTokenizer
from retrieval.types import ParsedDocument

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


TOPICS = {"loans": ("贷", "贴息"), "talent": ("人才", "英才"), "5g": ("5g", "基站")}


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test run with the compiled ``retrieval._postings`` and with numpy's way."""
    monkeypatch.setattr(postings, "compiled", request.param)
    return bool(request.param)


def stored(documents: list[ParsedDocument]) -> LiveCorpus:
    docs, clauses = {}, []
    for document in documents:
        key = document.source
        docs[key] = StoredDocument(
            key=key,
            doc_number=document.doc_number,
            title=document.title,
            authority=document.authority,
            recipient=document.recipient,
            date=None,
            city=document.city,
            district=document.district,
            source=document.source,
            clause_count=len(document.clauses),
            province=document.province,
            level=document.level,
        )
        clauses.extend(
            StoredClause(f"{key}#{c.ordinal}", key, c.section, c.headings, c.text, c.ordinal)
            for c in document.clauses
        )
    return LiveCorpus(version=1, documents=docs, clauses=clauses)


def topic_profile(texts: list[str]) -> np.ndarray:
    """Per text and topic, the share of the topic's cue words found (ties on purpose)."""
    return np.array(
        [
            [sum(cue in text for cue in cues) / len(cues) for cues in TOPICS.values()]
            for text in texts
        ]
    )


@pytest.fixture(scope="session")
def recombined_tokenizer() -> PolicyTokenizer:
    return PolicyTokenizer()  # its own: the index adds its corpus's place names to it


@pytest.fixture(scope="session")
def recombined(recombined_tokenizer: PolicyTokenizer) -> ClauseIndex:
    documents = synthetic_documents(read_corpus(SEEDS).documents, 3000, random.Random(7))
    return ClauseIndex(
        stored(documents),
        tokenizer=recombined_tokenizer,
        topics=list(TOPICS),
        topic_profile=topic_profile,
    )


@pytest.fixture(scope="session")
def recombined_queries(recombined_tokenizer: PolicyTokenizer) -> QueryBuilder:
    return QueryBuilder(recombined_tokenizer, get_synonyms())

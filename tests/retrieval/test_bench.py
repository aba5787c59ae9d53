"""The benchmark corpus: the seed sentences recombined into documents of real metadata."""

from __future__ import annotations

import random
from pathlib import Path

from retrieval.bench import _SENTENCE, synthetic_documents
from retrieval.corpus import read_corpus


def test_synthetic_documents_recombine_seed_sentences(seeds_dir: Path) -> None:
    seeds = read_corpus(seeds_dir).documents
    documents = synthetic_documents(seeds, 250, random.Random(1))
    assert [len(d.clauses) for d in documents] == [100, 100, 50]
    pool = {s for d in seeds for c in d.clauses for s in _SENTENCE.findall(c.text) if s.strip()}
    made = [c.text for d in documents for c in d.clauses]
    assert all(any(text.startswith(sentence) for sentence in pool) for text in made)
    assert len({d.doc_number for d in documents}) == 3

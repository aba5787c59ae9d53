"""The benchmark corpus: the seed sentences recombined into documents of real metadata."""

from __future__ import annotations

import mmap
import random
from pathlib import Path

import numpy as np

from retrieval.bench import _SENTENCE, anonymous_rss_mb, synthetic_documents
from retrieval.corpus import read_corpus


def test_synthetic_documents_recombine_seed_sentences(seeds_dir: Path) -> None:
    seeds = read_corpus(seeds_dir).documents
    documents = synthetic_documents(seeds, 250, random.Random(1))
    assert [len(d.clauses) for d in documents] == [100, 100, 50]
    pool = {s for d in seeds for c in d.clauses for s in _SENTENCE.findall(c.text) if s.strip()}
    made = [c.text for d in documents for c in d.clauses]
    assert all(any(text.startswith(sentence) for sentence in pool) for text in made)
    assert len({d.doc_number for d in documents}) == 3


def test_anonymous_memory_counts_what_the_process_allocates_not_mapped_files(
    tmp_path: Path,
) -> None:
    before = anonymous_rss_mb()
    held = np.ones(64 * 2**20 // 8)  # 64 MB of its own
    grown = anonymous_rss_mb() - before
    path = tmp_path / "part"
    path.write_bytes(b"\1" * (64 * 2**20))
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        touched = sum(mapped[i] for i in range(0, len(mapped), 4096))  # every page read
        mapped_grown = anonymous_rss_mb() - before - grown
    assert touched == 64 * 2**20 // 4096 and held.sum() > 0
    assert 60 < grown < 70 and mapped_grown < 8


def test_real_text_cost_cuts_each_distinct_piece_both_ways(seeds_dir: Path) -> None:
    from retrieval import segment
    from retrieval.bench import real_text
    from retrieval.tokenize import PolicyTokenizer

    before = segment.compiled
    cost = real_text(read_corpus(seeds_dir).documents, PolicyTokenizer, repeats=1)
    assert segment.compiled == before  # put back
    assert cost["clauses"] > 50 and cost["distinct_pieces_per_clause"] > 1
    together = cost["prepare_us_per_clause"] + cost["cut_us_per_clause"]
    assert abs(cost["us_per_clause"] - together) <= 0.2
    assert cost["cut_us_per_clause"] > 0 and cost["cut_us_per_clause_jieba_python"] > 0
    assert real_text([], PolicyTokenizer) == {}

"""``policybot bench`` runs end to end on a small corpus and reports what it promises."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.bench import _SENTENCE, run_bench, synthetic_documents
from retrieval.corpus import read_corpus


def test_synthetic_documents_recombine_seed_sentences(seeds_dir: Path) -> None:
    seeds = read_corpus(seeds_dir).documents
    documents = synthetic_documents(seeds, 250, random.Random(1))
    assert [len(d.clauses) for d in documents] == [100, 100, 50]
    pool = {s for d in seeds for c in d.clauses for s in _SENTENCE.findall(c.text) if s.strip()}
    made = [c.text for d in documents for c in d.clauses]
    assert all(any(text.startswith(sentence) for sentence in pool) for text in made)
    assert len({d.doc_number for d in documents}) == 3


def test_bench_measures_build_pickup_search_and_baselines(seeds_dir: Path) -> None:
    result = run_bench(passages=300, queries=5, corpus_dir=seeds_dir)
    assert result["passages"] == 300 and result["documents"] == 3
    assert result["build_s"] > 0 and result["rss_added_mb"] >= 0
    assert result["pickup_rebuilt"] == []  # the second process loaded every part
    assert result["pickup_s"] > 0 and result["cold_ask_s"] > 0
    for timed in ("search_raw", "search_index", "answer"):
        assert 0 < result[timed]["p50_ms"] <= result[timed]["p95_ms"]
    assert result["rank_bm25"]["p50_ms"] > 0
    assert result["bm25s"]["p50_ms"] > 0


def test_bench_command_refuses_a_bad_size(
    seeds_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORPUS_DIR", str(seeds_dir))
    from bot.settings import get_settings

    get_settings.cache_clear()
    assert main(["bench", "--passages", "0"]) == 2
    assert "至少为 1" in capsys.readouterr().err
    get_settings.cache_clear()

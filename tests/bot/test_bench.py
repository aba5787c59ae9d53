"""``policybot bench`` runs end to end on a small corpus and reports what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bench import run_bench
from bot.cli import main


@pytest.mark.e2e  # a second process picks the stored index up
def test_bench_measures_build_pickup_search_and_baselines(seeds_dir: Path) -> None:
    result = run_bench(passages=300, queries=5, corpus_dir=seeds_dir)
    assert result["passages"] == 300 and result["documents"] == 3
    assert result["build_s"] > 0 and result["rss_added_mb"] >= 0
    assert result["rss_anonymous_added_mb"] <= result["rss_added_mb"] + 1.0  # a part of it
    assert result["postings_compiled"] is True  # the install compiled the postings' loops
    assert result["segment_compiled"] is True  # and jieba's
    assert result["real_text"]["us_per_clause"] > 0
    # a second process of the machine maps every part; one of another host reads them
    assert result["pickup_rebuilt"] == [] and "words" in result["pickup_mapped"]
    assert result["pickup_from_database_rebuilt"] == []
    assert "words" in result["pickup_from_database_loaded"]
    assert result["pickup_s"] > 0 and result["cold_ask_s"] > 0
    assert result["cold_ask_recompiling_s"] > 0
    for timed in ("search_raw", "search_index", "answer"):
        assert 0 < result[timed]["p50_ms"] <= result[timed]["p95_ms"]
    assert result["rank_bm25"]["p50_ms"] > 0
    assert result["bm25s"]["p50_ms"] > 0 and result["bm25s"]["load_s"] > 0
    assert result["policybot_words_field"]["p50_ms"] > 0


def test_bench_command_refuses_a_bad_size(
    seeds_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORPUS_DIR", str(seeds_dir))
    from bot.settings import get_settings

    get_settings.cache_clear()
    assert main(["bench", "--passages", "0"]) == 2
    assert "至少为 1" in capsys.readouterr().err
    get_settings.cache_clear()

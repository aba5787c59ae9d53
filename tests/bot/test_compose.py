"""The excerpt cutter (``bot.compose``): what it keeps of a sentence (its normalised text and
words) gives the excerpts cutting afresh gives, stays bounded, and follows a tokenizer that is
taught words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import compose
from bot.compose import ExcerptCutter
from retrieval.bench import bench_questions
from retrieval.corpus import read_corpus
from retrieval.search import QueryBuilder, get_synonyms
from retrieval.tokenize import PolicyTokenizer
from zhtext.normalize import normalize_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUESTIONS = [*bench_questions(), "首台套保险补偿多少", "申请截止时间是什么时候", "联系电话"]


class FreshCutter(ExcerptCutter):
    """Normalises and cuts every sentence each time it is scored, as main did."""

    def _words(self, text: str) -> tuple[str, frozenset[str]]:
        normalized = normalize_text(text)
        return normalized, frozenset(self.tokenizer.tokens(normalized, normalized=True))


@pytest.fixture(scope="module")
def tokenizer() -> PolicyTokenizer:
    return PolicyTokenizer()  # its own: a test teaches it words


@pytest.fixture(scope="module")
def clauses() -> list[tuple[str, tuple[int, ...], frozenset[str]]]:
    """Clause texts, with made-up seams and title words (the first few characters)."""
    texts = [c.text for d in read_corpus(SEEDS).documents for c in d.clauses][:150]
    return [
        (text, (len(text) // 3, len(text) // 2), frozenset({text[:2], text[2:4]})) for text in texts
    ]


def excerpts(
    cutter: ExcerptCutter,
    queries: QueryBuilder,
    clauses: list[tuple[str, tuple[int, ...], frozenset[str]]],
) -> list[compose.Excerpt]:
    found = []
    for question in QUESTIONS:
        query = queries.build(question)
        for text, seams, context in clauses:
            found.append(
                cutter.cut(
                    text, query, question=normalize_text(question), seams=seams, context=context
                )
            )
    return found


def test_kept_words_give_the_fresh_excerpts(
    tokenizer: PolicyTokenizer,
    clauses: list[tuple[str, tuple[int, ...], frozenset[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queries = QueryBuilder(tokenizer, get_synonyms())
    expected = excerpts(FreshCutter(tokenizer), queries, clauses)
    default = compose.SENTENCES_KEPT
    for kept in (default, 5):  # then letting go of sentences all the time
        monkeypatch.setattr(compose, "SENTENCES_KEPT", kept)
        cutter = ExcerptCutter(tokenizer)
        assert excerpts(cutter, queries, clauses) == expected
        assert excerpts(cutter, queries, clauses) == expected  # from what was kept
        info = cutter._words_of.cache_info()
        assert info.currsize <= kept
        if kept == default:  # all of these clauses' sentences fit
            assert info.misses <= info.hits


def test_a_taught_word_is_cut_whole_at_once(tokenizer: PolicyTokenizer) -> None:
    cutter = ExcerptCutter(tokenizer)
    sentence = "企业可申请鑫垚淼焱专项资金。"
    before = cutter._words(sentence)[1]
    assert "鑫垚淼焱" not in before
    tokenizer.add_words(["鑫垚淼焱"])
    assert "鑫垚淼焱" in cutter._words(sentence)[1]
    assert cutter._words(sentence) == FreshCutter(tokenizer)._words(sentence)

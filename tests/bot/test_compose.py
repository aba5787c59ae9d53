"""The excerpt cutter (``bot.compose``): what it keeps of a sentence (its normalised text and
words), and its cutting only the sentences that may hold a question's word, give the excerpts
cutting every sentence afresh gives; what it keeps stays bounded and follows a tokenizer that is
taught words."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot import compose
from bot.compose import ExcerptCutter
from retrieval.bench import bench_questions
from retrieval.corpus import read_corpus
from retrieval.search import Query, QueryBuilder, get_synonyms
from retrieval.tokenize import DATA_DIR, PolicyTokenizer
from zhtext.normalize import normalize_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUESTIONS = [*bench_questions(), "首台套保险补偿多少", "申请截止时间是什么时候", "联系电话"]


class FreshCutter(ExcerptCutter):
    """Normalises and cuts every sentence each time it is scored, as main did."""

    def _words(self, text: str, query: Query) -> tuple[str, frozenset[str]]:
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
    for kept in (compose.SENTENCES_KEPT, 5):  # then letting go of sentences all the time
        monkeypatch.setattr(compose, "SENTENCES_KEPT", kept)
        cutter = ExcerptCutter(tokenizer)
        assert excerpts(cutter, queries, clauses) == expected
        assert excerpts(cutter, queries, clauses) == expected  # from what was kept
        assert 0 < len(cutter._kept) <= kept
    cutter = ExcerptCutter(tokenizer)
    excerpts(cutter, queries, clauses)
    left_uncut = [text for (text, _), (_, words) in cutter._kept.items() if words is None]
    assert left_uncut  # sentences none of the questions' words is in


def test_a_word_is_a_piece_of_the_text_it_is_cut_from(
    tokenizer: PolicyTokenizer, clauses: list[tuple[str, tuple[int, ...], frozenset[str]]]
) -> None:
    """What lets the cutter leave alone the sentences that hold none of a question's words
    (amounts among them: 500万元 is indexed as 500万, a piece of it)."""
    units = tomllib.loads((DATA_DIR / "tokens.toml").read_text(encoding="utf-8"))["units"]
    amounts = [f"补助{n}{unit}以内" for n in ("3", "2.5", "500") for unit in units]
    for text in [*(text for text, _, _ in clauses), *amounts, "5g基站a档3:1", "1:2.5比例"]:
        normalized = normalize_text(text)
        for word in tokenizer.tokens(normalized, normalized=True):
            assert word in normalized, (word, text)


def test_a_taught_word_is_cut_whole_at_once(tokenizer: PolicyTokenizer) -> None:
    cutter = ExcerptCutter(tokenizer)
    query = QueryBuilder(tokenizer, get_synonyms()).build("企业申请专项资金")
    sentence = "企业可申请鑫垚淼焱专项资金。"
    before = cutter._words(sentence, query)[1]
    assert before and "鑫垚淼焱" not in before
    tokenizer.add_words(["鑫垚淼焱"])
    assert "鑫垚淼焱" in cutter._words(sentence, query)[1]
    assert cutter._words(sentence, query) == FreshCutter(tokenizer)._words(sentence, query)

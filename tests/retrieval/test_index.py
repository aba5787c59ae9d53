"""The sparse BM25 index: exact top-k on inline sentences (parity lives in test_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.index import SparseBM25, top_k
from retrieval.term_ids import TokenIds

SENTENCES = [
    ["5g", "基站", "建设", "补贴"],
    ["贷款", "贴息", "比例", "40%"],
    ["人才", "补贴", "a档", "200万"],
    ["融资租赁", "贴息", "5%"],
    ["工业互联网", "平台", "奖励"],
]


def test_top_k_is_exact_on_inline_sentences() -> None:
    index = SparseBM25(SENTENCES)
    assert top_k(index.scores(["贴息"]), 2) == [3, 1]  # the shorter clause first
    assert top_k(index.scores(["5g", "基站"]), 3) == [0]
    assert top_k(index.scores(["补贴", "人才"]), 2) == [2, 0]
    assert top_k(index.scores(["没有的词"]), 3) == []


def test_weighted_query_scales_each_term() -> None:
    index = SparseBM25(SENTENCES)
    single = index.scores(["贴息"])
    assert np.allclose(index.scores({"贴息": 0.5}), single * 0.5)


def test_scores_are_the_bits_of_adding_each_row_in_turn(way: bool) -> None:
    """Compiled or not, a field's scores are those of ``np.add.at`` row after row, the weight
    multiplied in the field's own precision (float32 for the characters field)."""
    rng = np.random.default_rng(3)
    vocabulary = [f"t{i}" for i in range(40)]
    clauses = [list(rng.choice(vocabulary, size=rng.integers(1, 30))) for _ in range(500)]
    for dtype in (np.float64, np.float32):
        index = SparseBM25(clauses, dtype=dtype)
        query = {"t1": 1.0, "t7": 0.5, "t3": 0.3, "t39": 1.0, "absent": 1.0}
        expected = np.zeros(index.n_docs)
        for term, weight in query.items():
            if term in index.vocabulary:
                found, data = index.row(term)
                np.add.at(expected, found, (data * weight).astype(np.float64))
        assert index.scores(query).tobytes() == expected.tobytes()


def test_top_k_respects_mask_and_ties_break_by_position() -> None:
    index = SparseBM25([["a", "b"], ["a", "b"], ["a", "c"], ["d"], ["e"], ["f"], ["g"]])
    scores = index.scores(["a"])
    assert top_k(scores, 3) == [0, 1, 2]
    mask = np.array([False, True, True] + [False] * 4)
    assert top_k(scores, 3, mask=mask) == [1, 2]


def test_postings_and_empty_corpus() -> None:
    index = SparseBM25(SENTENCES)
    assert sorted(index.postings("贴息").tolist()) == [1, 3]
    assert index.postings("无").size == 0
    with pytest.raises(ValueError):
        SparseBM25([])


def test_stored_index_loads_with_the_same_scores_and_terms() -> None:
    index = SparseBM25(SENTENCES, k1=1.2, b=0.7, forward=True)
    loaded = SparseBM25.from_bytes(index.to_bytes())
    for query in (["贴息"], ["补贴", "人才", "补贴"], {"5g": 1.0, "平台": 0.5}):
        assert np.array_equal(loaded.scores(query), index.scores(query))
    assert (loaded.k1, loaded.b, loaded.n_docs) == (1.2, 0.7, len(SENTENCES))
    assert loaded.terms_of(1) == frozenset(SENTENCES[1])
    assert loaded.postings("补贴").tolist() == [0, 2]


def test_index_from_token_ids_equals_index_from_token_lists() -> None:
    encoded = TokenIds.of(SENTENCES)
    from_ids = SparseBM25.from_token_ids(encoded.ids, encoded.offsets, encoded.terms())
    from_lists = SparseBM25(SENTENCES)
    assert np.array_equal(from_ids.scores(["贴息", "补贴"]), from_lists.scores(["贴息", "补贴"]))
    assert from_ids.idf == from_lists.idf


def test_a_field_built_from_ids_lets_them_go_before_it_is_weighed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clauses' term ids are counted, then let go: the characters' ids of 100,000
    clauses (120 MB) are not held while their weights are computed."""
    import weakref

    from retrieval import index

    held: list[weakref.ref[np.ndarray]] = []
    alive_while_weighed: list[bool] = []
    weighed = index._weighed

    def weighing(*args: object, **options: object) -> SparseBM25:
        alive_while_weighed.append(held[0]() is not None)
        return weighed(*args, **options)  # type: ignore[arg-type]

    def encoded() -> TokenIds:
        ids = TokenIds.of(SENTENCES)
        arrays = TokenIds.of_arrays(np.array(ids.ids), ids.offsets, ids.terms())
        held.append(weakref.ref(arrays.ids.base))  # the buffer the ids are read from
        return arrays

    monkeypatch.setattr(index, "_weighed", weighing)
    arrays = index.bm25_arrays(encoded())
    assert alive_while_weighed == [False]
    assert np.array_equal(arrays["data"], SparseBM25(SENTENCES).arrays()["data"])


def test_terms_of_several_clauses_unites_them() -> None:
    index = SparseBM25(SENTENCES, forward=True)
    assert index.terms_of(np.array([0, 1])) == frozenset(SENTENCES[0]) | frozenset(SENTENCES[1])
    assert index.terms_of(np.array([2, 3, 4])) == frozenset(
        SENTENCES[2] + SENTENCES[3] + SENTENCES[4]
    )
    assert index.terms_of(np.array([], dtype=np.int64)) == frozenset()
    with pytest.raises(ValueError):
        SparseBM25(SENTENCES).terms_of(0)


def test_a_blob_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError):
        SparseBM25.from_bytes(b"not an index")


def _real_clause_texts() -> list[str]:
    from pathlib import Path

    from retrieval.corpus import read_corpus
    from zhtext.normalize import normalize_text

    root = Path(__file__).resolve().parents[2]
    texts = [
        normalize_text(" ".join((*clause.headings, clause.text)))
        for folder in (root / "seeds", root.parent / "shared" / "eval" / "real_dev" / "docs")
        if folder.is_dir()
        for document in read_corpus(folder).documents
        for clause in document.clauses
    ]
    return [*texts, "", "abc", "a", "中", "x1y2 中文ab", "。，"]


def test_vectorised_character_terms_encode_exactly_like_term_lists() -> None:
    from retrieval.search import char_term_ids, char_terms

    texts = _real_clause_texts()
    by_list = TokenIds.of(char_terms(text) for text in texts)
    vectorised = char_term_ids(texts)
    assert vectorised.terms() == by_list.terms()  # same first-seen vocabulary order
    assert np.array_equal(vectorised.ids, by_list.ids)
    assert np.array_equal(vectorised.offsets, by_list.offsets)


def test_tokeniser_encodes_clauses_exactly_like_their_token_lists() -> None:
    from retrieval.tokenize import get_tokenizer

    tokenizer = get_tokenizer()
    texts = _real_clause_texts()
    by_list = TokenIds.of(tokenizer.tokens(text, normalized=True) for text in texts)
    encoded = tokenizer.encode(texts, TokenIds())
    assert encoded.terms() == by_list.terms()
    assert np.array_equal(encoded.ids, by_list.ids)
    assert np.array_equal(encoded.offsets, by_list.offsets)


def test_character_terms_of_many_distinct_characters_encode_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past a table's size the keys are made dense by sorting: the same ids and vocabulary."""
    from retrieval import term_ids
    from retrieval.search import char_term_ids

    texts = _real_clause_texts()
    by_table = char_term_ids(texts)
    monkeypatch.setattr(term_ids, "_DIRECT_KEYS", 10)
    by_sorting = char_term_ids(texts)
    assert by_sorting.terms() == by_table.terms()
    assert np.array_equal(by_sorting.ids, by_table.ids)
    assert np.array_equal(by_sorting.offsets, by_table.offsets)


def test_weights_computed_a_slice_of_postings_at_a_time_are_the_same_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retrieval import index

    tokens = [text.split() for text in ("a b c a", "b c d", "a a a e", "f", "c d e f g")] * 7
    whole = SparseBM25(tokens, forward=True).to_bytes()
    monkeypatch.setattr(index, "_WEIGHT_SLICE", 3)
    assert SparseBM25(tokens, forward=True).to_bytes() == whole
    monkeypatch.setattr(index, "_WEIGHT_SLICE", 1 << 22)
    whole32 = SparseBM25(tokens, dtype=np.float32).to_bytes()
    monkeypatch.setattr(index, "_WEIGHT_SLICE", 4)
    assert SparseBM25(tokens, dtype=np.float32).to_bytes() == whole32

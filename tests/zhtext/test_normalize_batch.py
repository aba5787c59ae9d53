"""normalize_texts: the whole corpus normalised in one pass must equal normalize_text per text."""

import random
from pathlib import Path

from retrieval.corpus import read_corpus
from zhtext.normalize import _PINYIN_NOTE_FROM_PAREN, PINYIN_NOTE, normalize_text, normalize_texts

ROOT = Path(__file__).resolve().parents[2]

# what each step treats specially: traditional characters and phrases, pinyin notes, full-width
# signs and letters, combining marks (which NFKC composes or reorders), Hangul jamo, ligatures,
# control and zero-width characters, ASCII and wide white space, final sigma, a private-use
# character next to the one that joins the texts
TRICKY = list(
    "業(yè)務(wù)東莞補貼後來 　\t\n\r\x0b\x0c\x1c\x00\x85\u2028\u2029\u1680\u00a0\u200b\ufeff"
    "aAΣσé\u0301\u0323e\u0308ｅＡ１（），：；。、！？5g万元%\u1100\u1161\u11a8가ﬁ㍱①\u2000x\ue001"
)


def test_batched_normalisation_equals_text_by_text_on_the_corpora() -> None:
    texts = [
        " ".join((*clause.headings, clause.text))
        for folder in (ROOT / "seeds", ROOT.parent / "shared" / "eval" / "real_dev" / "docs")
        if folder.is_dir()
        for document in read_corpus(folder).documents
        for clause in document.clauses
    ]
    assert len(texts) > 100
    assert normalize_texts(texts) == [normalize_text(text) for text in texts]


def test_batched_normalisation_equals_text_by_text_on_tricky_characters() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        texts = [
            "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(0, 8))
        ]
        assert normalize_texts(texts) == [normalize_text(text) for text in texts], texts


def test_a_text_holding_the_separator_is_normalised_alone() -> None:
    texts = ["業務\ue000 補貼", " Ａ（一） ", "東莞"]
    assert normalize_texts(texts) == [normalize_text(text) for text in texts]


def test_pinyin_note_pattern_found_from_its_parenthesis_matches_the_same_spans() -> None:
    text = "業(yè)務(wù)a(yè)(yè)中((yè)中(yèè)中(xyz)中(ā)"
    assert [m.span() for m in _PINYIN_NOTE_FROM_PAREN.finditer(text)] == [
        m.span() for m in PINYIN_NOTE.finditer(text)
    ]

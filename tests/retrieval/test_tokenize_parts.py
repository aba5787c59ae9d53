"""The tokeniser's one-pass split into pieces and number tokens equals the pattern-by-pattern
reading it replaced: ``_special.finditer`` over the text, the text between split at punctuation."""

import random
from collections.abc import Iterator

from retrieval.term_ids import TokenIds
from retrieval.tokenize import _BETWEEN_PUNCTUATION, PolicyTokenizer, get_tokenizer

ALPHABET = list(
    "٣３_azé0123456789.:abcxyz万元%亿千百档类级星个年 ，。,;；!！?？、:：\t\n中文申报5g"
)


def _plain(text: str) -> Iterator[str | tuple[str]]:
    yield from (piece for piece in _BETWEEN_PUNCTUATION.split(text) if piece)


def _reference_pieces(tokenizer: PolicyTokenizer, text: str) -> Iterator[str | tuple[str]]:
    cursor = 0
    for match in tokenizer._special.finditer(text):
        yield from _plain(text[cursor : match.start()])
        if match.group("amount"):
            yield (match.group("amount") + tokenizer._unit_of[match.group("unit")],)
        else:
            yield (match.group(0),)
        cursor = match.end()
    yield from _plain(text[cursor:])


def test_pieces_equal_the_reference_reading_on_random_text() -> None:
    tokenizer = get_tokenizer()
    rng = random.Random(14)
    for _ in range(5000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 16)))
        assert tokenizer.pieces(text) == list(_reference_pieces(tokenizer, text)), text


def test_pieces_equal_the_reference_reading_on_policy_text() -> None:
    tokenizer = get_tokenizer()
    texts = [
        "按照项目核定投入金额的25%给予补贴,最高500万元;比例1:2。",
        "a档企业5g基站3级以上,2023年12月31日前提交。x1y2 iphone 5g",
        "单笔1.5亿元 ratio 3.5:1 20个工作日 100万元/年",
    ]
    for text in texts:
        assert tokenizer.pieces(text) == list(_reference_pieces(tokenizer, text))


def test_encoding_gives_each_texts_tokens_as_ids() -> None:
    tokenizer = get_tokenizer()
    texts = ["申报条件:注册在本市的企业,最高补贴500万元。", "申报条件:比例1:2", "", "5g基站"]
    encoded = tokenizer.encode(texts, TokenIds())
    terms = encoded.terms()
    ids, offsets = encoded.ids.tolist(), encoded.offsets.tolist()
    for number, text in enumerate(texts):
        got = [terms[i] for i in ids[offsets[number] : offsets[number + 1]]]
        assert got == tokenizer.tokens(text, normalized=True)

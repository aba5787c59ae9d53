"""Tokenising policy text with jieba, a domain dictionary, and numbers kept with their units.

The tokenizer is built once (loading jieba's dictionary takes most of a second) and shared by
the index and the questions, so both sides are cut the same way.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from retrieval.disk_cache import cache_key, cached
from retrieval.frequencies import FrequencyTable, write_table
from retrieval.segment import Segmenter, jieba
from retrieval.term_ids import TokenIds
from zhtext.normalize import normalize_text

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
PIECE_CACHE_SIZE = 200_000  # distinct pieces of text whose words are kept (tens of megabytes)
# where jieba itself splits a text (none of these can be inside a word), after normalisation
_BETWEEN_PUNCTUATION = re.compile(r"[。，,;；!！?？、:：\s]+")
# where a number-with-unit token can start: a digit or a letter (see ``pieces``)
_CANDIDATES = re.compile(r"[\da-z]+")


def _read_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


class PolicyTokenizer:
    """jieba in search mode plus a domain dictionary; numbers with units become one token.

    ``500 万`` and ``500万元`` both give ``500万``; ``25%``, ``5g`` and ``a档`` stay whole. Stop
    words are those of ``stopwords.txt``; negations and limits (不, 以上, 除外) are kept.
    """

    def __init__(self, data_dir: Path = DATA_DIR, cache_dir: Path | None = None) -> None:
        jieba.setLogLevel(logging.WARNING)
        self.data_dir, self.cache_dir = data_dir, cache_dir
        self._added: list[str] = []  # words taught since (see ``recipe``)
        self._jieba = Segmenter()
        self._load_prefix_dictionary(cache_dir)
        self._piece_words = lru_cache(maxsize=PIECE_CACHE_SIZE)(self._cut_piece)
        self.domain_words = {line.split()[0] for line in _read_lines(data_dir / "dictionary.txt")}
        self._jieba.load_userdict(str(data_dir / "dictionary.txt"))
        self.stopwords = frozenset(_read_lines(data_dir / "stopwords.txt"))
        token_rules = tomllib.loads((data_dir / "tokens.toml").read_text(encoding="utf-8"))
        units: dict[str, str] = token_rules["units"]
        self._unit_of = units
        unit_pattern = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
        grade_pattern = "|".join(re.escape(s) for s in token_rules["grades"]["suffixes"])
        # one pattern for the pieces jieba would break apart: amounts, ratios, 5g, a档
        self._special = re.compile(
            rf"(?P<amount>\d+(?:\.\d+)?)(?P<unit>{unit_pattern})"
            rf"|(?P<ratio>\d+(?:\.\d+)?:\d+(?:\.\d+)?)"
            rf"|(?P<grade>[a-z0-9](?:{grade_pattern}))"
            rf"|(?P<code>\d+[a-z]+\b|[a-z]+\d+[a-z0-9]*)"
        )

    def _load_prefix_dictionary(self, cache_dir: Path | None) -> None:
        """jieba's prefix dictionary (half a million entries), from ``cache_dir`` when there:
        looked up entry by entry from a file until this process cuts enough text to want all
        of it (``retrieval.frequencies``), which is then read from a pickle (jieba's own cache
        is read with marshal, three times slower)."""
        if cache_dir is None:
            self._jieba.initialize()
            return
        default = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME
        source = Path(self._jieba.dictionary) if self._jieba.dictionary else default
        stat = source.stat()
        inputs = [f"jieba {jieba.__version__} {source} {stat.st_size} {stat.st_mtime_ns}"]

        def build() -> tuple[dict[str, int], int]:
            with self._jieba.get_dict_file() as handle:
                return self._jieba.gen_pfdict(handle)

        def load_all() -> dict[str, int]:
            return cached("jieba", inputs, build, cache_dir)[0]  # a fresh dict each call

        def use(frequencies: dict[str, int]) -> None:
            self._jieba.FREQ = frequencies

        table = cache_dir / f"jieba-{cache_key(inputs)}.sqlite"
        try:
            self._jieba.FREQ = FrequencyTable(table, load_all=load_all, on_loaded=use)
            self._jieba.total = self._jieba.FREQ.total
        except sqlite3.Error:  # no table yet (or a damaged one): made once from the dictionary
            self._jieba.FREQ, self._jieba.total = cached("jieba", inputs, build, cache_dir)
            try:
                write_table(table, self._jieba.FREQ, self._jieba.total)
                for old in cache_dir.glob("jieba-*.sqlite"):
                    if old != table:
                        old.unlink(missing_ok=True)
            except (OSError, sqlite3.Error):
                log.warning("could not write jieba's table %s", table, exc_info=True)
        self._jieba.initialized = True

    def add_words(self, words: list[str]) -> None:
        """Teach jieba words found in the corpus (place names, titles) so they stay whole."""
        added = False
        for word in words:
            if word and word not in self.domain_words:
                self._jieba.add_word(word, freq=2000)
                self.domain_words.add(word)
                self._added.append(word)
                added = True
        if added:  # pieces cut before may now be cut differently
            self._piece_words.cache_clear()

    def recipe(self) -> TokenizerRecipe:
        """What another process needs to build a tokenizer that cuts exactly as this one."""
        return TokenizerRecipe(self.data_dir, self.cache_dir, tuple(self._added))

    def words(self, text: str) -> list[str]:
        """``text`` cut into dictionary words only: unknown runs fall apart into characters."""
        return self._jieba.lcut(text, HMM=False)

    def general_frequency(self, word: str) -> int:
        """How often ``word`` occurs in jieba's general-Chinese dictionary (0: not in it)."""
        return int(self._jieba.FREQ.get(word, 0))

    @property
    def general_total(self) -> float:
        """The sum of all counts in jieba's dictionary."""
        return float(self._jieba.total)

    def tokens(self, text: str, *, normalized: bool = False) -> list[str]:
        """The index terms of ``text`` (normalised first unless ``normalized``)."""
        if not normalized:
            text = normalize_text(text)
        terms: list[str] = []
        for part in self.pieces(text):
            if isinstance(part, str):
                terms.extend(self._piece_words(part))
            else:
                terms.append(part[0])
        return terms

    def encode(self, texts: Iterable[str], encoded: TokenIds) -> TokenIds:
        """``tokens`` of each normalised text appended to ``encoded`` as term ids: a piece of
        text seen before (policy text repeats its phrases) reuses its ids, so the per-word
        work is paid once per distinct piece, not once per word of the corpus (a corpus is
        encoded in batches, by several processes, by ``retrieval.word_ids``: the same ids)."""
        self.load_whole_dictionary()  # cutting in bulk: plain dict lookups from the start
        vocabulary = encoded.vocabulary
        assign = vocabulary.setdefault
        cut = self._piece_words
        piece_ids: dict[str, list[int]] = {}
        for text in texts:
            ids: list[int] = []
            for part in self.pieces(text):
                if part.__class__ is str:
                    known = piece_ids.get(part)  # type: ignore[call-overload]
                    if known is None:
                        known = [assign(w, len(vocabulary)) for w in cut(part)]  # type: ignore[arg-type]
                        piece_ids[part] = known  # type: ignore[index]
                    ids.extend(known)
                else:
                    ids.append(assign(part[0], len(vocabulary)))
            encoded.add_ids(ids)
        return encoded

    def load_whole_dictionary(self) -> None:
        """jieba's whole prefix dictionary in memory (see ``retrieval.frequencies``): what a
        process that cuts a corpus wants, and a server once it has started (``serve`` loads
        it in the background)."""
        frequencies = self._jieba.FREQ
        if isinstance(frequencies, FrequencyTable):
            frequencies.load_all()

    def pieces(self, text: str) -> list[str | tuple[str]]:
        """``text`` as pieces jieba cuts (str) and number-with-unit tokens (a 1-tuple): the
        text between ``_special``'s matches, split at punctuation.

        The matches are those of ``_special.finditer``: it is tried only where a match can
        start (every alternative starts with a digit or a letter, ``_CANDIDATES``), from the
        end of the previous match on, at the same positions of the same text; the scan for
        those characters is fast, the pattern tried at every character is not."""
        split = _BETWEEN_PUNCTUATION.split
        match = self._special.match
        parts: list[str | tuple[str]] = []
        cursor = 0
        for run in _CANDIDATES.finditer(text):
            at, end = max(run.start(), cursor), run.end()
            while at < end:
                found = match(text, at)
                if found is None:
                    at += 1
                    continue
                parts.extend(piece for piece in split(text[cursor:at]) if piece)
                if found.group("amount"):
                    parts.append((found.group("amount") + self._unit_of[found.group("unit")],))
                else:
                    parts.append((found.group(0),))
                cursor = at = found.end()
        parts.extend(piece for piece in split(text[cursor:]) if piece)
        return parts

    def cut(self, piece: str) -> tuple[str, ...]:
        """The words of one of ``pieces``' str pieces (kept for the next time it is met)."""
        return self._piece_words(piece)

    def _cut_piece(self, piece: str) -> tuple[str, ...]:
        """jieba's words of a piece of text without punctuation. jieba cuts at punctuation
        itself, so cutting piece by piece gives the same words; policy text repeats its
        phrases (按照项目核定投入金额的25%, 特此函复), so each distinct piece is cut once."""
        stopwords = self.stopwords
        return tuple(
            [
                word
                for word in self._jieba.cut_for_search(piece)
                if word.strip() and word not in stopwords and not _is_punctuation(word)
            ]
        )


@dataclass(frozen=True, slots=True)
class TokenizerRecipe:
    """A tokenizer's data, cache and the words taught to it: a worker process builds from it a
    tokenizer that cuts every text as the original does."""

    data_dir: Path
    cache_dir: Path | None
    added_words: tuple[str, ...] = ()

    def build(self) -> PolicyTokenizer:
        tokenizer = PolicyTokenizer(self.data_dir, self.cache_dir)
        tokenizer.add_words(list(self.added_words))
        return tokenizer


def _is_punctuation(word: str) -> bool:
    """No character of ``word`` is a letter or a digit (most words are all of them: one test)."""
    return not word.isalnum() and all(not ch.isalnum() for ch in word)


_shared: PolicyTokenizer | None = None
_shared_lock = threading.Lock()


def get_tokenizer(cache_dir: Path | None = None) -> PolicyTokenizer:
    """The process-wide tokenizer, built on first use (jieba's dictionary read from
    ``cache_dir`` when given, which the caller in ``bot`` takes from its settings).

    One instance for the whole process whatever later callers pass: the index adds its
    corpus's place words to it, and questions must be cut by that same tokenizer.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PolicyTokenizer(cache_dir=cache_dir)
        return _shared

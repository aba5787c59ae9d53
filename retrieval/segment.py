"""jieba's tokenizer with its loops over a sentence compiled (``retrieval/_segment.c``).

For each piece of text it cuts, jieba finds the dictionary words starting at each character
(``get_DAG``), the most probable way through them (``calc``), walks it (``__cut_DAG``) and, in
search mode, adds the shorter words inside long ones (``cut_for_search``), all in Python: some
60 µs a piece of real policy text, and real pages give a first build six distinct pieces a
clause (most of its time). The compiled loops read the same dictionary and do the same
arithmetic in the same order, so the words are jieba's own (tests cut real pages both ways).
Runs of characters no dictionary word covers are cut by jieba's HMM, its Viterbi compiled too.
What a build cuts with (HMM on, search mode) is compiled; a cut without the HMM (a question's
dictionary words, ``PolicyTokenizer.words``) stays jieba's. Where the module is not built, or
the dictionary is not a plain dict (``retrieval.frequencies`` looks entries up in a file until
a process cuts enough to load it whole), jieba's Python runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from math import log
from types import ModuleType

_compiled: ModuleType | None
try:
    from retrieval import _segment as _compiled
except ImportError:  # pragma: no cover - exercised by forcing ``compiled = False`` in tests
    _compiled = None

compiled: bool = _compiled is not None  # tests set it False to run jieba's own loops


def _import_jieba() -> None:
    """Imports jieba without pkg_resources (a fifth of a second of start-up): jieba only uses
    it to open its own dictionary file, and falls back to ``open`` when it is missing."""
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        return
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # import → ImportError
    try:
        import jieba  # noqa: F401
    finally:
        del sys.modules["pkg_resources"]  # anyone else who imports it gets the real one


_import_jieba()
import jieba  # noqa: E402  (imported above without pkg_resources: this only names it)
from jieba import finalseg  # noqa: E402


class Segmenter(jieba.Tokenizer):  # type: ignore[misc]
    """``jieba.Tokenizer``, cutting the same words faster (see the module)."""

    def _plain_frequencies(self) -> dict[str, int] | None:
        """The dictionary, when the compiled loops may read it (else None: jieba's own)."""
        if not compiled or _compiled is None:
            return None
        self.check_initialized()
        frequencies = self.FREQ
        return frequencies if type(frequencies) is dict else None

    def _Tokenizer__cut_DAG(self, sentence: str) -> Iterator[str]:  # jieba.Tokenizer.__cut_DAG
        """What ``cut`` cuts a block of Chinese text with (HMM on): jieba's walk of the best
        route, compiled; the runs no word covers go to jieba's HMM (``_hmm_cut``). jieba's
        private name: were it renamed, jieba's own walk would run (the same words, slower)."""
        frequencies = self._plain_frequencies()
        if frequencies is None or _compiled is None:
            yield from jieba.Tokenizer._Tokenizer__cut_DAG(self, sentence)
            return
        for word in _compiled.cut_dag(sentence, frequencies, log(self.total)):
            if word.__class__ is str:
                yield word
            else:
                yield from _hmm_cut(word[0])

    def cut_for_search(self, sentence: str, HMM: bool = True) -> Iterator[str]:
        frequencies = self._plain_frequencies()
        if frequencies is None or _compiled is None:
            words: Iterator[str] = super().cut_for_search(sentence, HMM=HMM)
            return words
        return iter(_compiled.search_words(list(self.cut(sentence, HMM=HMM)), frequencies))


def _hmm_cut(run: str) -> Iterator[str]:
    """``finalseg.cut``: the Chinese blocks of a run no dictionary word covers cut by jieba's
    HMM (its Viterbi compiled, its model read from ``finalseg``), the rest as jieba splits it."""
    assert _compiled is not None
    model = (finalseg.start_P, finalseg.trans_P, finalseg.emit_P)
    for block in finalseg.re_han.split(run):
        if finalseg.re_han.match(block):
            for word in _compiled.hmm_words(block, *model):
                if word not in finalseg.Force_Split_Words:
                    yield word
                else:
                    yield from word
        else:
            yield from (part for part in finalseg.re_skip.split(block) if part)

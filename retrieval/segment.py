"""jieba's tokenizer with its two per-character loops compiled (``retrieval/_segment.c``).

For each piece of text it cuts, jieba finds the dictionary words starting at each character
(``get_DAG``) and the most probable way through them (``calc``), in Python: some 80 µs a piece,
and real policy pages give a first build six distinct pieces a clause (most of its time). The
compiled loops read the same dictionary and do the same arithmetic in the same order, so the
words are jieba's own (tests cut real pages both ways). Where the module is not built, or the
dictionary is not a plain dict (``retrieval.frequencies`` looks entries up in a file until a
process cuts enough to load it whole), jieba's Python runs.
"""

from __future__ import annotations

from math import log
from types import ModuleType
from typing import Any

import jieba

_compiled: ModuleType | None
try:
    from retrieval import _segment as _compiled
except ImportError:  # pragma: no cover - exercised by forcing ``compiled = False`` in tests
    _compiled = None

compiled: bool = _compiled is not None  # tests set it False to run jieba's own loops


class Segmenter(jieba.Tokenizer):  # type: ignore[misc]
    """``jieba.Tokenizer``, cutting the same words faster (see the module)."""

    def get_DAG(self, sentence: str) -> dict[int, list[int]]:
        if compiled and _compiled is not None and type(self.FREQ) is dict:
            self.check_initialized()
            return _compiled.get_dag(sentence, self.FREQ)
        dag: dict[int, list[int]] = super().get_DAG(sentence)
        return dag

    def calc(self, sentence: str, DAG: dict[int, list[int]], route: dict[int, Any]) -> None:
        if compiled and _compiled is not None and type(self.FREQ) is dict:
            _compiled.calc(sentence, DAG, route, self.FREQ, log(self.total))
            return
        super().calc(sentence, DAG, route)

"""Types of the compiled module (retrieval/_postings.c); see retrieval/postings.py."""

from collections.abc import Sequence

import numpy as np

def add_rows(out: np.ndarray, rows: Sequence[tuple[np.ndarray, np.ndarray, float]], /) -> None: ...
def locate(slots: np.ndarray, positions: np.ndarray, clauses: np.ndarray, /) -> None: ...
def combine(
    total: np.ndarray,
    chars: np.ndarray | None,
    scale: float,
    titles: np.ndarray | None,
    doc_of_clause: np.ndarray,
    /,
) -> None: ...
def count_terms(ids: np.ndarray, offsets: np.ndarray, df: np.ndarray, /) -> int: ...
def place_terms(
    ids: np.ndarray, offsets: np.ndarray, indptr: np.ndarray, indices: np.ndarray, tf: np.ndarray, /
) -> None: ...
def transpose(
    indptr: np.ndarray, indices: np.ndarray, clause_indptr: np.ndarray, terms: np.ndarray, /
) -> None: ...

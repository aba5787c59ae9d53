"""Types of the compiled module (retrieval/_postings.c); see retrieval/postings.py."""

import numpy as np

def add_row(out: np.ndarray, clauses: np.ndarray, data: np.ndarray, weight: float, /) -> None: ...
def locate(slots: np.ndarray, positions: np.ndarray, clauses: np.ndarray, /) -> None: ...
def combine(
    total: np.ndarray,
    chars: np.ndarray | None,
    scale: float,
    titles: np.ndarray | None,
    doc_of_clause: np.ndarray,
    /,
) -> None: ...

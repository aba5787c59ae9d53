"""Types of the compiled module (retrieval/_segment.c); see retrieval/segment.py."""

from typing import Any

def get_dag(sentence: str, frequencies: dict[str, int], /) -> dict[int, list[int]]: ...
def calc(
    sentence: str,
    dag: dict[int, list[int]],
    route: dict[int, Any],
    frequencies: dict[str, int],
    log_total: float,
    /,
) -> None: ...
def cut_dag(
    sentence: str, frequencies: dict[str, int], log_total: float, /
) -> list[str | tuple[str]]: ...
def search_words(words: list[str], frequencies: dict[str, int], /) -> list[str]: ...
def hmm_words(
    block: str,
    start: dict[str, float],
    trans: dict[str, dict[str, float]],
    emit: dict[str, dict[str, float]],
    /,
) -> list[str]: ...

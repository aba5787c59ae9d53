"""Types of the compiled module (retrieval/_segment.c); see retrieval/segment.py."""

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

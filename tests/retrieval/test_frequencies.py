"""jieba's dictionary read entry by entry: the same words cut, the whole loaded when wanted."""

from __future__ import annotations

from pathlib import Path

from retrieval.frequencies import FrequencyTable, write_table
from retrieval.tokenize import PolicyTokenizer, jieba

TEXT = "对新引进的高层次人才给予最高500万元安家补贴，东莞市工业和信息化局负责受理。"


def _table(tmp_path: Path, loaded: list[dict[str, int]], after: int = 10_000) -> FrequencyTable:
    frequencies = {"人才": 50, "人": 900, "补贴": 30, "补": 5}
    write_table(tmp_path / "freq.sqlite", frequencies, 985)
    return FrequencyTable(
        tmp_path / "freq.sqlite",
        load_all=lambda: dict(frequencies),
        on_loaded=loaded.append,
        full_load_after=after,
    )


def test_lookups_and_writes_behave_like_the_dict(tmp_path: Path) -> None:
    loaded: list[dict[str, int]] = []
    table = _table(tmp_path, loaded)
    assert table.total == 985
    assert "人才" in table and "人才补" not in table and table["补贴"] == 30
    assert table.get("没有") is None and table.get("没有", 1) == 1
    table["人才补贴"] = 7
    table["人才补"] = 0
    assert table["人才补贴"] == 7 and "人才补" in table and table.get("人才补") == 0
    assert loaded == []
    assert dict(table.items())["人才补贴"] == 7  # a walk over all of it loads the whole
    assert loaded and loaded[0]["人才补贴"] == 7 and loaded[0]["人"] == 900


def test_the_whole_dictionary_is_loaded_after_the_threshold(tmp_path: Path) -> None:
    loaded: list[dict[str, int]] = []
    table = _table(tmp_path, loaded, after=3)
    table["新词"] = 3
    for word in ("人", "补", "没有"):
        table.get(word)
    assert len(loaded) == 1 and loaded[0]["新词"] == 3 and loaded[0]["人才"] == 50
    table["再一个"] = 1  # a writer that still holds the table reaches the loaded dict too
    assert loaded[0]["再一个"] == 1


def test_a_tokenizer_cuts_the_same_from_the_table_and_from_the_dict(tmp_path: Path) -> None:
    full = PolicyTokenizer()  # jieba's own dictionary, no cache
    first = PolicyTokenizer(cache_dir=tmp_path)  # builds the cache and the table
    lazy = PolicyTokenizer(cache_dir=tmp_path)  # reads the table
    assert isinstance(lazy._jieba.FREQ, FrequencyTable)
    assert lazy._jieba.total == full._jieba.total
    for tokenizer in (first, lazy):
        assert tokenizer.tokens(TEXT) == full.tokens(TEXT)
        assert tokenizer.words(TEXT) == full.words(TEXT)
        assert tokenizer.general_frequency("人才") == full.general_frequency("人才") > 0
    lazy.add_words(["松山湖高新区"])
    full.add_words(["松山湖高新区"])
    assert lazy.tokens("松山湖高新区人才补贴") == full.tokens("松山湖高新区人才补贴")
    # a damaged table is made again from the dictionary
    table = next(tmp_path.glob("jieba-*.sqlite"))
    table.write_bytes(b"not a database")
    again = PolicyTokenizer(cache_dir=tmp_path)
    assert again.tokens(TEXT) == full.tokens(TEXT)
    assert isinstance(PolicyTokenizer(cache_dir=tmp_path)._jieba.FREQ, FrequencyTable)
    assert jieba.__version__


def test_a_table_that_fails_is_replaced_by_the_whole_dictionary(tmp_path: Path) -> None:
    loaded: list[dict[str, int]] = []
    table = _table(tmp_path, loaded)
    table["新词"] = 3
    table._connection.close()  # the file went away or bad under a running process
    assert table.get("人才") == 50 and table.get("新词") == 3 and "没有" not in table
    assert len(loaded) == 1


def test_a_word_added_while_another_thread_reads_is_not_lost(tmp_path: Path) -> None:
    import threading

    loaded: list[dict[str, int]] = []
    table = _table(tmp_path, loaded)
    words = [f"新词{i}" for i in range(300)]
    writer = threading.Thread(target=lambda: [table.__setitem__(w, 7) for w in words])
    reader = threading.Thread(target=lambda: [table.get(w) for w in words * 3])
    reader.start()
    writer.start()
    writer.join(10)
    reader.join(10)
    assert all(table.get(w) == 7 for w in words) and loaded == []

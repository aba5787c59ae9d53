"""Index parts stored with the corpus version: built once, loaded by the next process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from retrieval.index import SparseBM25
from retrieval.index_parts import MIRROR_PREFIX, MIRRORS_KEPT, IndexParts, mirror_folder
from retrieval.packed import unpack
from retrieval.store import load_index_part, reload_corpus, save_index_part

TOKENS = [["贷款", "贴息"], ["人才", "补贴"], ["贷款", "补贴", "补贴"]]


def _build_counting(calls: list[str]) -> Callable[[], list[list[str]]]:
    def build() -> list[list[str]]:
        calls.append("built")
        return TOKENS

    return build


def test_a_second_process_loads_what_the_first_built(db_engine: Engine, seeds_dir: Path) -> None:
    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    calls: list[str] = []
    first = IndexParts(db_engine, version, "fp")
    built = first.bm25("words", _build_counting(calls), forward=True)
    mask = first.array("kinds", lambda: np.array([[True, False, True]]))
    texts = first.texts("texts", lambda: ["一", "", "三"])
    first.finish()  # stored (by a background thread) for the others
    second = IndexParts(db_engine, version, "fp")
    loaded = second.bm25("words", _build_counting(calls), forward=True)
    assert calls == ["built"]
    assert second.array("kinds", lambda: np.zeros(0)).tolist() == mask.tolist()
    assert list(second.texts("texts", list)) == list(texts) == ["一", "", "三"]
    assert second.built == [] and second.loaded == ["words", "kinds", "texts"]
    assert np.array_equal(loaded.scores(["补贴"]), built.scores(["补贴"]))
    assert loaded.terms_of(2) == frozenset({"贷款", "补贴"})
    # another tokeniser or release (another fingerprint) builds its own
    other = IndexParts(db_engine, version, "other")
    other.bm25("words", _build_counting(calls))
    assert calls == ["built", "built"] and other.built == ["words"]


def test_a_racing_duplicate_and_a_dead_version_store_nothing(
    db_engine: Engine, seeds_dir: Path
) -> None:
    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    assert save_index_part(db_engine, version, "words", "fp", b"first")
    assert not save_index_part(db_engine, version, "words", "fp", b"second")
    assert load_index_part(db_engine, version, "words", "fp") == b"first"
    assert not save_index_part(db_engine, version + 1, "words", "fp", b"not live")
    assert load_index_part(db_engine, version + 1, "words", "fp") is None


def test_an_unreadable_part_is_rebuilt(db_engine: Engine, seeds_dir: Path) -> None:
    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    save_index_part(db_engine, version, "words", "fp", b"garbage")
    parts = IndexParts(db_engine, version, "fp")
    index = parts.bm25("words", lambda: TOKENS)
    assert parts.built == ["words"] and isinstance(index, SparseBM25)
    assert index.postings("补贴").tolist() == [1, 2]


def test_a_reload_drops_the_old_versions_parts(db_engine: Engine, tmp_path: Path) -> None:
    import shutil

    from retrieval.store import live_version

    seeds = Path(__file__).resolve().parents[2] / "seeds"
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds, corpus)
    old = reload_corpus(engine=db_engine, corpus_dir=corpus).version
    save_index_part(db_engine, old, "words", "fp", b"old")
    first = sorted(corpus.iterdir())[0]
    first.write_text(
        first.read_text(encoding="utf-8") + "\n本条为新增测试条款。\n", encoding="utf-8"
    )
    new = reload_corpus(engine=db_engine, corpus_dir=corpus).version
    assert new != old and live_version(db_engine) == new
    assert load_index_part(db_engine, old, "words", "fp") is None


def test_a_large_part_is_stored_in_chunks(
    db_engine: Engine, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.store.parts

    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    monkeypatch.setattr(retrieval.store.parts, "_PART_CHUNK", 4)
    blob = SparseBM25(TOKENS).to_bytes()
    assert save_index_part(db_engine, version, "words", "fp", blob)
    assert load_index_part(db_engine, version, "words", "fp") == blob
    assert SparseBM25.from_bytes(blob).postings("贷款").tolist() == [0, 2]


def test_a_part_is_stored_from_its_file_a_chunk_at_a_time(
    db_engine: Engine, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read through its memory map, a stored part's every page would count in the builder's
    resident size: a mirrored part is stored from its file, one chunk read at a time."""
    import retrieval.store.parts

    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    monkeypatch.setattr(retrieval.store.parts, "_PART_CHUNK", 5)
    blob = SparseBM25(TOKENS).to_bytes()
    path = tmp_path / "words.part"
    path.write_bytes(blob)
    reads: list[int] = []
    with path.open("rb") as file:
        read = file.read
        monkeypatch.setattr(file, "read", lambda size=-1: reads.append(size) or read(size))
        assert save_index_part(db_engine, version, "words", "fp", file)
    assert load_index_part(db_engine, version, "words", "fp") == blob
    assert reads == [5] * -(-len(blob) // 5)


def test_the_mirror_is_mapped_by_the_next_process_and_a_damaged_file_is_dropped(
    db_engine: Engine, seeds_dir: Path, tmp_path: Path
) -> None:
    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    folder = mirror_folder(tmp_path, "content", "fp")
    first = IndexParts(db_engine, version, "fp", mirror=folder)
    built = first.bm25("words", lambda: TOKENS, forward=True)
    first.finish()
    assert first.built == ["words"] and (folder / "words.part").is_file()
    # the builder itself serves from the mapping: its arrays are views of the file
    assert not built.postings("补贴").flags.writeable

    second = IndexParts(db_engine, version, "fp", mirror=folder)
    mapped = second.bm25("words", lambda: pytest.fail("mapped, not built"), forward=True)
    assert second.mapped == ["words"] and second.loaded == second.built == []
    assert np.array_equal(mapped.scores(["补贴"]), built.scores(["补贴"]))

    (folder / "words.part").write_bytes(b"PBPACK1\n\xff\xff")  # truncated by a full disk
    third = IndexParts(db_engine, version, "fp", mirror=folder)
    again = third.bm25("words", lambda: pytest.fail("stored in the database"), forward=True)
    assert third.loaded == ["words"] and third.mapped == []
    assert np.array_equal(again.scores(["补贴"]), built.scores(["补贴"]))
    assert IndexParts(db_engine, version, "fp", mirror=folder)._mapped("words", unpack) is not None


def test_parts_stored_from_their_mirrored_files_without_waiting_and_ready_says_so(
    db_engine: Engine, seeds_dir: Path, tmp_path: Path
) -> None:
    """A mirrored part is stored from its file (nothing held in memory meanwhile), so the
    next part is built while it is stored; ``ready`` tells a part there from one to build."""
    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    folder = mirror_folder(tmp_path, "content", "fp")
    parts = IndexParts(db_engine, version, "fp", mirror=folder)
    assert not parts.ready("words") and not parts.ready("kinds")
    parts.bm25("words", lambda: TOKENS, forward=True)
    parts.array("kinds", lambda: np.arange(1000))
    parts.finish()
    for name in ("words", "kinds"):
        assert (
            load_index_part(db_engine, version, name, "fp")
            == (folder / f"{name}.part").read_bytes()
        )
    other_machine = IndexParts(db_engine, version, "fp", mirror=tmp_path / "elsewhere")
    assert other_machine.ready("words") and other_machine.ready("kinds")
    assert not other_machine.ready("chars")
    assert IndexParts(db_engine, version, "fp").ready("words")  # from the database alone
    assert not IndexParts(db_engine, version, "another release").ready("words")


def test_a_part_is_built_while_the_one_before_is_stored_from_its_file(
    db_engine: Engine, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import threading

    import retrieval.store

    version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir).version
    stored = retrieval.store.save_index_part
    release, sources = threading.Event(), []

    def slow_save(engine: Engine, version: int, name: str, fp: str, data: object) -> bool:
        sources.append((type(data), getattr(data, "name", None)))
        assert release.wait(30)  # the database is slow
        return stored(engine, version, name, fp, data)  # type: ignore[arg-type]

    monkeypatch.setattr(retrieval.store, "save_index_part", slow_save)
    folder = mirror_folder(tmp_path, "c", "fp")
    parts = IndexParts(db_engine, version, "fp", mirror=folder)
    parts.bm25("words", lambda: TOKENS)
    parts.array("kinds", lambda: np.arange(10))  # built while "words" is still being stored
    parts.texts("texts", lambda: ["一", "二"])
    assert parts.built == ["words", "kinds", "texts"]
    assert load_index_part(db_engine, version, "words", "fp") is None  # not stored yet
    release.set()
    parts.finish()
    # stored from the mirrored files (read a chunk at a time, nothing held), opened while
    # written under a temporary name (renamed as the part once flushed to the disk)
    names = ("words", "kinds", "texts")
    assert [kind for kind, _ in sources] == [io.BufferedReader] * 3
    assert [Path(path).parent for _, path in sources] == [folder] * 3
    assert all(
        Path(path).name.startswith(f".{n}-") for (_, path), n in zip(sources, names, strict=True)
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.part" for n in names)
    assert load_index_part(db_engine, version, "texts", "fp") is not None


def test_a_built_part_is_served_before_its_file_is_flushed_and_named_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush to the disk (half a second of a build at 100,000 clauses) is off the build's
    path: the part is served from its mapping at once; its file is named as the part only
    once flushed, so a crash never leaves a named part with unwritten pages."""
    import os
    import threading

    import retrieval.index_parts as index_parts

    flushing, done, calls = threading.Event(), threading.Event(), []
    fsync, rename = os.fsync, os.replace

    def slow_fsync(descriptor: int) -> None:
        calls.append("fsync")
        assert flushing.wait(30)  # a slow disk
        fsync(descriptor)

    def replace(source: Path, target: Path) -> None:
        calls.append("rename")
        rename(source, target)
        done.set()

    monkeypatch.setattr(index_parts.os, "fsync", slow_fsync)
    monkeypatch.setattr(index_parts.os, "replace", replace)
    folder = mirror_folder(tmp_path, "c", "fp")
    parts = IndexParts(None, 1, "fp", mirror=folder)
    field = parts.bm25("words", lambda: TOKENS)  # returns while the disk is still busy
    assert np.array_equal(field.scores(["补贴"]), SparseBM25(TOKENS).scores(["补贴"]))
    assert not (folder / "words.part").exists()
    flushing.set()
    assert done.wait(30) and calls == ["fsync", "rename"]
    parts.finish()
    again = IndexParts(None, 1, "fp", mirror=folder)
    again.bm25("words", lambda: pytest.fail("mapped, not built"))
    assert again.mapped == ["words"]


def test_only_the_newest_mirrors_are_kept_and_nothing_else_is_touched(tmp_path: Path) -> None:
    import os
    import time

    mine = tmp_path / "notes"  # INDEX_DIR pointed at a folder that holds other things too
    mine.mkdir()
    (tmp_path / "policybot.db").write_bytes(b"x")
    for number in range(MIRRORS_KEPT + 2):
        folder = mirror_folder(tmp_path, f"content{number}", "fp")
        (folder / "words.part").write_bytes(b"x")
        stamp = time.time() - 100 + number
        os.utime(folder, (stamp, stamp))
        os.utime(mine, (stamp - 1000, stamp - 1000))
    left = mirror_folder(tmp_path, "content-new", "fp") / ".words-abc"
    left.write_bytes(b"half")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    newest = mirror_folder(tmp_path, "content-new", "fp")
    mirrors = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(MIRROR_PREFIX))
    assert len(mirrors) == MIRRORS_KEPT and newest.name in mirrors
    assert f"{MIRROR_PREFIX}fp-content{MIRRORS_KEPT + 1}" in mirrors
    assert f"{MIRROR_PREFIX}fp-content0" not in mirrors
    assert mine.is_dir() and (tmp_path / "policybot.db").is_file()
    assert not left.exists()

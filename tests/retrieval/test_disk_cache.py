"""Start-up data cached on disk: built once, read back, rebuilt when its inputs change."""

from __future__ import annotations

from pathlib import Path

from retrieval.disk_cache import cached
from retrieval.places import load_gazetteer


def test_a_value_is_built_once_and_rebuilt_when_an_input_changes(tmp_path: Path) -> None:
    source = tmp_path / "places.toml"
    source.write_text("a = 1", encoding="utf-8")
    built: list[int] = []

    def build() -> dict[str, int]:
        built.append(1)
        return {"places": len(built)}

    cache = tmp_path / "cache"
    assert cached("demo", [source, "v1"], build, cache) == {"places": 1}
    assert cached("demo", [source, "v1"], build, cache) == {"places": 1}
    assert len(built) == 1
    source.write_text("a = 2", encoding="utf-8")
    assert cached("demo", [source, "v1"], build, cache) == {"places": 2}
    assert len(list(cache.glob("demo-*.pickle"))) == 1  # the stale file is gone
    assert cached("demo", [source, "v1"], build, None) == {"places": 3}


def test_an_unreadable_cache_file_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached("demo", ["v1"], lambda: "first", cache)
    (file,) = cache.glob("demo-*.pickle")
    file.write_bytes(b"truncated")
    assert cached("demo", ["v1"], lambda: "rebuilt", cache) == "rebuilt"
    assert cached("demo", ["v1"], lambda: "not again", cache) == "rebuilt"


def test_a_cached_gazetteer_finds_the_same_places(tmp_path: Path) -> None:
    fresh = load_gazetteer()
    cache = tmp_path / "cache"
    load_gazetteer(cache_dir=cache)
    load_gazetteer.cache_clear()
    loaded = load_gazetteer(cache_dir=cache)
    assert loaded is not fresh
    question = "深圳南山区和中山的企业有什么补贴"
    assert [p.name for p in loaded.find(question)] == [p.name for p in fresh.find(question)]
    assert [p.name for p in loaded.find(question)]

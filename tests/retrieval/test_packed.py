"""Packed arrays: one flat buffer, read back in place, from bytes or a mapped file."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from retrieval.packed import StringColumn, pack, unpack
from retrieval.store import ClauseColumns, StoredClause


def test_arrays_come_back_equal_aligned_and_read_only(tmp_path: Path) -> None:
    arrays = {
        "ids": np.array([3, 1, 2], dtype=np.int32),
        "weights": np.linspace(0, 1, 7).reshape(7, 1),
        "mask": np.array([[True, False], [False, True]]),
        "empty": np.zeros(0, dtype=np.int64),
        "one": np.array(5),
    }
    blob = pack(arrays)
    path = tmp_path / "part"
    path.write_bytes(blob)
    with path.open("rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    for source in (blob, mapped):
        back = unpack(source)
        assert set(back) == set(arrays)
        for name, array in arrays.items():
            assert back[name].dtype == array.dtype and back[name].shape == array.shape
            assert np.array_equal(back[name], array)
            assert not back[name].flags.writeable
            assert back[name].ctypes.data % 64 == 0 or back[name].size == 0 or source is blob


def test_foreign_bytes_and_objects_are_refused() -> None:
    with pytest.raises(ValueError):
        unpack(b"PK\x03\x04 a zip file")
    with pytest.raises(ValueError):
        pack({"objects": np.array(["a", None], dtype=object)})


def test_a_string_column_decodes_the_rows_asked_for() -> None:
    strings = ["第一条", "", "含\x00分隔符？不会有", "emoji 🙂", "末条"]
    column = StringColumn.of(strings)
    assert len(column) == 5 and list(column) == strings
    assert column[3] == "emoji 🙂" and column[-1] == "末条" and column[1:3] == strings[1:3]
    with pytest.raises(IndexError):
        column[5]
    again = StringColumn.from_arrays(unpack(pack(column.arrays("t"))), "t")
    assert list(again) == strings


def test_clause_columns_give_back_every_field() -> None:
    clauses = [
        StoredClause("c1", "b.txt", "一、", ("一、总则",), "正文一", 0),
        StoredClause("c2", "a.txt", "", (), "正文二", 3, seams=(2, 5)),
        StoredClause("c3", "b.txt", "（二）", ("二、措施", "（二）人才"), "正文三", 1),
    ]
    keys = ["a.txt", "b.txt"]
    columns = ClauseColumns(unpack(pack(ClauseColumns.arrays_of(clauses, keys))), keys)
    assert list(columns) == clauses and columns[1] == clauses[1] and columns[-1] == clauses[2]
    assert columns.doc.tolist() == [1, 0, 1]
    assert columns.of_document(1) == [clauses[0], clauses[2]]
    assert columns.position_of == {"c1": 0, "c2": 1, "c3": 2}


def test_arrays_written_to_a_file_are_the_packed_bytes() -> None:
    """A part is written into its mirrored file array by array: the very bytes of ``pack``."""
    import io

    from retrieval.packed import write_packed

    cases = [
        {},
        {"a": np.arange(5)},
        {
            "empty": np.zeros(0, dtype=np.int32),
            "scalar": np.array(3.5),
            "strided": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],
            "bytes": np.frombuffer("政策".encode(), dtype=np.uint8),
        },
    ]
    for arrays in cases:
        file = io.BytesIO()
        assert write_packed(arrays, file) == len(file.getvalue())
        assert file.getvalue() == bytes(pack(arrays))

"""What a live document says of itself: where it applies (no database)."""

from __future__ import annotations

import pytest

from retrieval.store import StoredDocument


@pytest.mark.parametrize(
    ("level", "province", "city", "district", "label"),
    [
        ("national", None, None, None, "国家"),
        ("province", "广东", None, None, "广东省"),
        ("province", "不存在", None, None, "省级"),
        ("district", "广东", "深圳", "南山区", "深圳·南山区"),
        ("city", "广东", "东莞", None, "东莞"),
        (None, None, None, None, "地区未知"),
    ],
)
def test_a_document_names_where_it_applies(
    level: str | None, province: str | None, city: str | None, district: str | None, label: str
) -> None:
    document = StoredDocument(
        key="a.txt",
        doc_number=None,
        title="标题",
        authority=None,
        recipient=None,
        date=None,
        city=city,
        district=district,
        source="corpus/a.txt",
        clause_count=1,
        province=province,
        level=level,
    )
    assert document.place_label == label

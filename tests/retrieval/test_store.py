"""The stored corpus on SQLite and PostgreSQL: versions, diffs, keeping last good, atomic swaps.

Documents are built by hand here so the store is tested apart from the reader; the seeds go
through the whole path in test_corpus.py and tests/bot/cli/test_corpus.py.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine

import retrieval.store as store
from bot.db import make_engine
from retrieval.corpus import CorpusRead
from retrieval.store import (
    CorpusBusyError,
    LiveCorpus,
    clause_id,
    live_version,
    load_live_corpus,
    swap,
    swap_corpus,
)
from retrieval.store.tables import clause_table, version_table
from retrieval.types import DocumentError, ParsedClause, ParsedDocument

FOLDER = Path("corpus")


def make_doc(
    name: str,
    doc_number: str | None,
    clauses: list[tuple[str, str]],
    *,
    title: str = "关于支持工业互联网发展的若干措施",
    date: dt.date | None = dt.date(2021, 6, 9),
) -> ParsedDocument:
    return ParsedDocument(
        source=(FOLDER / name).as_posix(),
        doc_number=doc_number,
        title=title,
        authority="东莞市工业和信息化局",
        recipient="谭福龙委员",
        date=date,
        city="东莞",
        district=None,
        clauses=[
            ParsedClause(section=section, headings=("一、总则",), text=text, ordinal=index)
            for index, (section, text) in enumerate(clauses)
        ],
        content_hash="0" * 64,
    )


def make_read(*docs: ParsedDocument, failures: tuple[tuple[str, str], ...] = ()) -> CorpusRead:
    return CorpusRead(
        corpus_dir=FOLDER,
        documents=list(docs),
        failures=[DocumentError((FOLDER / name).as_posix(), reason) for name, reason in failures],
    )


A_CLAUSES = [
    ("一、", "支持企业上云。"),
    ("一、（一）", "给予 25% 资助。"),
    ("一、（一）", "最高 500 万。"),
]
B_CLAUSES = [("1.", "设立产业基金。"), ("2.", "提供贷款贴息。")]


def doc_a(clauses: list[tuple[str, str]] = A_CLAUSES) -> ParsedDocument:
    return make_doc("a.txt", "东工信函〔2021〕134号", clauses)


def doc_b() -> ParsedDocument:
    return make_doc("b.txt", None, B_CLAUSES, date=None)


def test_first_load_stores_documents_and_clauses(db_engine: Engine) -> None:
    assert live_version(db_engine) is None
    assert load_live_corpus(db_engine) is None

    report = swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))

    assert report.swapped and report.ok and report.version == 1 and report.previous_version is None
    assert [ref.source for ref in report.documents_added] == ["corpus/a.txt", "corpus/b.txt"]
    assert (report.clauses_added, report.documents_total, report.clauses_total) == (5, 2, 5)
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and corpus.version == live_version(db_engine) == 1
    a = corpus.documents["a.txt"]
    assert a.to_json() == {
        "doc_number": "东工信函〔2021〕134号",
        "title": "关于支持工业互联网发展的若干措施",
        "authority": "东莞市工业和信息化局",
        "recipient": "谭福龙委员",
        "date": "2021-06-09",
        "city": "东莞",
        "district": None,
        "province": None,
        "level": None,
        "title_source": "header",
        "missing": [],
        "source": "corpus/a.txt",
        "clauses": 3,
    }
    assert corpus.documents["b.txt"].date is None
    assert [(c.doc_key, c.section, c.text, c.ordinal) for c in corpus.clauses] == [
        ("a.txt", "一、", "支持企业上云。", 0),
        ("a.txt", "一、（一）", "给予 25% 资助。", 1),
        ("a.txt", "一、（一）", "最高 500 万。", 2),
        ("b.txt", "1.", "设立产业基金。", 0),
        ("b.txt", "2.", "提供贷款贴息。", 1),
    ]
    assert corpus.clauses[0].headings == ("一、总则",)
    # id: file name + section path + position within that section
    assert [c.id for c in corpus.clauses[:3]] == [
        clause_id("a.txt", "一、", 0),
        clause_id("a.txt", "一、（一）", 0),
        clause_id("a.txt", "一、（一）", 1),
    ]
    assert all(len(c.id) == 16 and int(c.id, 16) >= 0 for c in corpus.clauses)
    lines = report.summary_lines()
    assert lines[0].startswith("语料库已载入：版本 1")
    assert "新增 2" in lines[1] and "现有 2 份" in lines[1]
    assert "新增 5" in lines[2] and "现有 5 条" in lines[2]


def test_unchanged_reload_changes_nothing(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    before = load_live_corpus(db_engine)

    report = swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))

    assert not report.swapped and report.ok and report.version == 1
    assert (report.documents_added, report.documents_changed, report.documents_removed) == (
        [],
        [],
        [],
    )
    assert len(report.documents_unchanged) == 2
    assert (report.clauses_added, report.clauses_changed, report.clauses_removed) == (0, 0, 0)
    assert report.summary_lines()[0].startswith("语料库没有变化，仍为版本 1")
    assert load_live_corpus(db_engine) == before


def test_changed_added_and_removed_are_counted(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    old_ids = {c.text: c.id for c in load_live_corpus(db_engine).clauses}  # type: ignore[union-attr]
    edited_a = doc_a(
        [
            ("一、", "支持企业上云。"),
            ("一、（一）", "给予 30% 资助。"),
            ("一、（一）", "最高 500 万。"),
            ("一、（二）", "新增条款。"),
        ]
    )
    doc_c = make_doc("c.txt", "中工信函〔2023〕59号", [("一、", "中山市支持 5G。")])

    report = swap_corpus(engine=db_engine, read=make_read(edited_a, doc_c))

    assert report.swapped and report.version == 2 and report.previous_version == 1
    assert [r.source for r in report.documents_changed] == ["corpus/a.txt"]
    assert [r.source for r in report.documents_added] == ["corpus/c.txt"]
    assert [r.source for r in report.documents_removed] == ["corpus/b.txt"]
    # added: a's new clause + c's clause; changed: 25% -> 30%; removed: b's two clauses
    assert (report.clauses_added, report.clauses_changed, report.clauses_removed) == (2, 1, 2)
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and set(corpus.documents) == {"a.txt", "c.txt"}
    new_ids = {c.text: c.id for c in corpus.clauses}
    assert new_ids["支持企业上云。"] == old_ids["支持企业上云。"]
    assert new_ids["最高 500 万。"] == old_ids["最高 500 万。"]
    assert new_ids["给予 30% 资助。"] == old_ids["给予 25% 资助。"]  # an edit keeps the id
    lines = report.summary_lines()
    assert lines[0].startswith("语料库已更新：版本 1 → 2")
    assert "新增：corpus/c.txt（中工信函〔2023〕59号）" in lines
    assert "删除：corpus/b.txt" in lines


def test_metadata_change_counts_as_changed_document(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    retitled = make_doc("a.txt", "东工信函〔2021〕134号", A_CLAUSES, title="新的标题")

    report = swap_corpus(engine=db_engine, read=make_read(retitled, doc_b()))

    assert report.swapped and [r.source for r in report.documents_changed] == ["corpus/a.txt"]
    assert (report.clauses_added, report.clauses_changed, report.clauses_removed) == (0, 0, 0)
    assert load_live_corpus(db_engine).documents["a.txt"].title == "新的标题"  # type: ignore[union-attr]


def test_failed_file_keeps_its_last_good_version(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    before = load_live_corpus(db_engine)
    assert before is not None
    doc_c = make_doc("c.txt", None, [("一、", "新文件。")])

    report = swap_corpus(
        engine=db_engine, read=make_read(doc_b(), doc_c, failures=(("a.txt", "文件为空"),))
    )

    assert report.swapped and not report.ok
    assert [(f.file, f.reason) for f in report.failures] == [("corpus/a.txt", "文件为空")]
    assert report.kept == ["corpus/a.txt"]
    assert report.documents_removed == [] and report.clauses_removed == 0
    assert (report.documents_total, report.clauses_total) == (3, 6)
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and corpus.version == 2
    assert corpus.documents["a.txt"] == before.documents["a.txt"]
    kept_clauses = [c for c in corpus.clauses if c.doc_key == "a.txt"]
    assert kept_clauses == [c for c in before.clauses if c.doc_key == "a.txt"]
    lines = report.summary_lines()
    assert "1 个文件读取失败：" in lines
    assert "  corpus/a.txt：文件为空" in lines
    assert "以下文件读取失败，保留上次的版本：corpus/a.txt" in lines


def test_every_file_failing_leaves_the_live_corpus_untouched(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    before = load_live_corpus(db_engine)

    report = swap_corpus(
        engine=db_engine, read=make_read(failures=(("a.txt", "二进制文件"), ("z.txt", "文件为空")))
    )

    assert not report.swapped and not report.ok and report.version == 1
    assert report.kept == ["corpus/a.txt"]
    assert [f.file for f in report.failures] == ["corpus/a.txt", "corpus/z.txt"]
    assert report.summary_lines()[0] == "语料库未更新：没有一个文件读取成功，仍为版本 1"
    assert load_live_corpus(db_engine) == before
    with db_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(version_table)).scalar() == 1


def test_duplicate_number_rejects_the_newcomer_and_names_both(db_engine: Engine) -> None:
    numbered_b = make_doc("b.txt", "东工信函〔2021〕169号", B_CLAUSES)
    swap_corpus(engine=db_engine, read=make_read(numbered_b))
    # "0.txt" sorts first, but b.txt holds the number in the live corpus
    newcomer = make_doc("0.txt", "东工信函〔2021〕169号", [("一、", "另一份文件。")])

    report = swap_corpus(engine=db_engine, read=make_read(newcomer, numbered_b))

    assert [f.file for f in report.failures] == ["corpus/0.txt"]
    assert "东工信函〔2021〕169号" in report.failures[0].reason
    assert "corpus/b.txt" in report.failures[0].reason
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and set(corpus.documents) == {"b.txt"}


def test_history_rows_keep_each_version_and_old_rows_go(db_engine: Engine) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a()))
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))

    with db_engine.connect() as connection:
        history = connection.execute(
            select(
                version_table.c.version, version_table.c.documents, version_table.c.summary
            ).order_by(version_table.c.version)
        ).all()
        row_versions = connection.execute(select(clause_table.c.version).distinct()).scalars().all()
    assert [(v, n) for v, n, _ in history] == [(1, 1), (2, 2)]
    assert "新增：corpus/b.txt" in history[1][2]
    assert row_versions == [2]


def test_failed_insert_leaves_the_old_corpus_live_and_whole(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    held: LiveCorpus | None = load_live_corpus(db_engine)
    assert held is not None
    real_insert = swap._insert_clauses

    def insert_half_then_fail(connection, version, rows):  # type: ignore[no-untyped-def]
        real_insert(connection, version, rows[: len(rows) // 2])
        raise RuntimeError("disk full")

    monkeypatch.setattr(swap, "_insert_clauses", insert_half_then_fail)
    edited = doc_a([("一、", "全部改写。")])
    with pytest.raises(RuntimeError, match="disk full"):
        swap_corpus(engine=db_engine, read=make_read(edited, doc_b()))

    assert live_version(db_engine) == 1
    assert load_live_corpus(db_engine) == held
    assert held.clauses[0].text == "支持企业上云。"  # what a reader already holds still works
    with db_engine.connect() as connection:
        assert connection.execute(select(version_table.c.version)).scalars().all() == [1]
        assert connection.execute(select(clause_table.c.version).distinct()).scalars().all() == [1]

    monkeypatch.undo()
    report = swap_corpus(engine=db_engine, read=make_read(edited, doc_b()))
    assert report.swapped and report.version == 2


def test_other_processes_see_the_new_version_only_at_commit(
    db_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    other = make_engine(database_url)  # another process on the same database
    old = load_live_corpus(other)
    seen_during_swap: list[tuple[int | None, LiveCorpus | None]] = []
    real_delete = swap._delete_old_versions

    def delete_and_look(connection, version):  # type: ignore[no-untyped-def]
        real_delete(connection, version)
        seen_during_swap.append((live_version(other), load_live_corpus(other)))

    monkeypatch.setattr(swap, "_delete_old_versions", delete_and_look)
    try:
        report = swap_corpus(engine=db_engine, read=make_read(doc_b()))
        assert report.version == 2
        assert seen_during_swap == [(1, old)]  # new rows written, old ones deleted, not committed
        assert live_version(other) == 2
        assert set(load_live_corpus(other).documents) == {"b.txt"}  # type: ignore[union-attr]
    finally:
        other.dispose()


def test_concurrent_reloads_are_serialised(db_engine: Engine, database_url: str) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a()))
    engines = [make_engine(database_url) for _ in range(2)]
    reads = [make_read(doc_a(), doc_b()), make_read(make_doc("c.txt", None, [("一、", "丙。")]))]
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def reload(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = swap_corpus(engine=engines[index], read=reads[index])
        except CorpusBusyError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=reload, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    reports = [o for o in outcomes if isinstance(o, store.ReloadReport)]
    assert reports, "the first reload to take the lock goes through"
    assert all(isinstance(o, store.ReloadReport | CorpusBusyError) for o in outcomes)
    assert sorted(r.version for r in reports) == list(range(2, 2 + len(reports)))
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and corpus.version == 1 + len(reports)
    assert sum(d.clause_count for d in corpus.documents.values()) == len(corpus.clauses)
    with db_engine.connect() as connection:
        versions = connection.execute(select(clause_table.c.version).distinct()).scalars().all()
    assert versions == [corpus.version]


def test_a_reload_blocked_too_long_gets_a_clear_error(
    db_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_corpus(engine=db_engine, read=make_read(doc_a()))
    monkeypatch.setattr(swap, "_LOCK_TIMEOUT", "200ms")
    if database_url.startswith("sqlite"):
        impatient = create_engine(database_url, connect_args={"timeout": 0.2})
    else:
        impatient = make_engine(database_url)
    try:
        with db_engine.begin() as holder:
            swap._lock(holder)  # a reload in progress elsewhere
            with pytest.raises(CorpusBusyError, match="另一个重新加载正在进行"):
                swap_corpus(engine=impatient, read=make_read(doc_a(), doc_b()))
    finally:
        impatient.dispose()
    assert live_version(db_engine) == 1


def test_many_documents_reload_in_bulk(db_engine: Engine) -> None:
    docs = [
        make_doc(
            f"{n:03d}.txt",
            f"测试〔2024〕{n}号",
            [(f"{k // 10 + 1}.", f"第 {n} 份第 {k} 条。") for k in range(100)],
        )
        for n in range(120)
    ]
    statements: list[str] = []
    event.listen(db_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    report = swap_corpus(engine=db_engine, read=make_read(*docs))

    assert report.swapped and (report.documents_total, report.clauses_total) == (120, 12_000)
    assert len(statements) < 40  # executemany in batches, not one round trip per row
    corpus = load_live_corpus(db_engine)
    assert corpus is not None and len(corpus.clauses) == 12_000
    assert len({c.id for c in corpus.clauses}) == 12_000


def test_a_document_with_metadata_missing_loads_and_the_report_says_which(
    db_engine: Engine,
) -> None:
    incomplete = replace(doc_b(), missing=("doc_number", "place"))
    report = swap_corpus(engine=db_engine, read=make_read(doc_a(), incomplete))
    assert report.ok and report.documents_total == 2  # loaded all the same
    lines = report.summary_lines()
    assert "1 个文件已载入，但有信息没有识别出来（回答时会注明）：" in lines
    assert "  corpus/b.txt：未识别到文号/地区" in lines
    stored = load_live_corpus(db_engine)
    assert stored is not None and stored.documents["b.txt"].missing == ("doc_number", "place")


def test_a_build_lets_go_of_the_clause_rows_it_read(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lazily read version's clause rows are read once for a build and not held after it
    (60 MB at 100,000 clauses, held to the build's end before); asked for again, they are
    read again, the same."""
    from retrieval.search import ClauseIndex, QueryBuilder, get_synonyms
    from retrieval.store import live
    from retrieval.tokenize import PolicyTokenizer

    swap_corpus(engine=db_engine, read=make_read(doc_a(), doc_b()))
    reads: list[int] = []
    read = live._read_clauses
    monkeypatch.setattr(live, "_read_clauses", lambda *args: reads.append(1) or read(*args))
    corpus = load_live_corpus(db_engine, lazy_clauses=True)
    assert corpus is not None and reads == []
    tokenizer = PolicyTokenizer()
    index = ClauseIndex(corpus, tokenizer=tokenizer, build_workers=0)
    assert len(reads) == 1
    query = QueryBuilder(tokenizer, get_synonyms()).build(corpus.clauses[0].text)
    assert len(reads) == 2  # read again when asked: nothing of the build held them
    assert index.search(query, k=1)[0].clause.text == corpus.clauses[0].text
    assert len(reads) == 2 and load_live_corpus(db_engine) == replace(
        corpus, clauses=list(corpus.clauses)
    )

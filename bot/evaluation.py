"""``policybot eval``: score labelled questions the way ``shared/eval/README.md`` says.

hit@1 / hit@3: a gold span (white space removed) inside an answer's excerpt whose doc_number +
title + authority contain the gold document marker; intent: the primary intent is acceptable;
abstention: out-of-scope rows abstain, in-scope rows do not; verbatim: every piece of every
excerpt between …… cuts is found in the source texts.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering import AnswerService
from bot.compose import compose_rules
from bot.types import Answer
from zhtext.normalize import strip_white


@dataclass(slots=True)
class RowResult:
    id: str
    question: str
    in_scope: bool
    intent_ok: bool
    hit1: bool
    hit3: bool
    abstained: bool
    verbatim: bool
    latency_ms: float
    top: str | None = None


@dataclass(slots=True)
class EvalReport:
    rows: list[RowResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        in_scope = [r for r in self.rows if r.in_scope]
        out_scope = [r for r in self.rows if not r.in_scope]
        latencies = [r.latency_ms for r in self.rows]

        def rate(values: list[bool]) -> float | None:
            return round(sum(values) / len(values), 4) if values else None

        return {
            "questions": len(self.rows),
            "in_scope": len(in_scope),
            "out_of_scope": len(out_scope),
            "intent_accuracy": rate([r.intent_ok for r in in_scope]),
            "hit_at_1": rate([r.hit1 for r in in_scope]),
            "hit_at_3": rate([r.hit3 for r in in_scope]),
            "out_of_scope_abstention": rate([r.abstained for r in out_scope]),
            "false_abstentions": sum(r.abstained for r in in_scope),
            "verbatim_rate": rate([r.verbatim for r in self.rows]),
            "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "p95_ms": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
            "failures": [
                {"id": r.id, "question": r.question, "top": r.top}
                for r in self.rows
                if (r.in_scope and not (r.hit1 and r.intent_ok))
                or r.abstained == r.in_scope
                or not r.verbatim
            ],
        }


def _gold_sources(markers: list[str], sources: dict[str, str]) -> dict[str, set[str]]:
    """Each marker with the loaded documents whose own text contains it (shared/eval/README.md)."""
    return {
        marker: {source for source, body in sources.items() if strip_white(marker) in body}
        for marker in markers
    }


def _answer_matches(answer: Answer, gold: dict[str, set[str]], spans: list[str]) -> bool:
    """The answer quotes a gold span from a gold document: one whose text holds a marker, or,
    when no loaded text holds it, whose number, title and authority do."""
    excerpt = strip_white(answer.excerpt)
    if not any(strip_white(span) in excerpt for span in spans):
        return False
    where = strip_white(f"{answer.doc_number or ''}{answer.title}{answer.authority}")
    return any(
        answer.source in holders if holders else strip_white(marker) in where
        for marker, holders in gold.items()
    )


def excerpt_is_verbatim(excerpt: str, sources: list[str]) -> bool:
    """Every piece between cut markers is found, white space ignored, in some source text.

    ``sources`` are the files' texts with white space removed, markup and all: the strict
    reading, so a quote never silently drops a file's ``**``.
    """
    marker = compose_rules().cut_marker
    pieces = [strip_white(piece) for piece in excerpt.split(marker)]
    return all(not piece or any(piece in source for source in sources) for piece in pieces)


def evaluate(service: AnswerService, rows: list[dict[str, Any]]) -> EvalReport:
    sources = _source_texts(service)
    texts = list(sources.values())
    report = EvalReport()
    for row in rows:
        started = time.perf_counter()
        answered = service.answer(row["question"])
        latency = (time.perf_counter() - started) * 1000
        gold = row.get("doc")
        markers = gold if isinstance(gold, list) else [gold] if gold else []
        spans = row.get("spans") or []
        gold_sources = _gold_sources(markers, sources)
        answers = answered.answers
        report.rows.append(
            RowResult(
                id=str(row.get("id", len(report.rows) + 1)),
                question=row["question"],
                in_scope=bool(markers),
                intent_ok=answered.understanding.intents[0].label in row.get("intents", []),
                hit1=bool(answers) and _answer_matches(answers[0], gold_sources, spans),
                hit3=any(_answer_matches(a, gold_sources, spans) for a in answers[:3]),
                abstained=answered.abstained,
                verbatim=all(excerpt_is_verbatim(a.excerpt, texts) for a in answers),
                latency_ms=latency,
                top=f"{answers[0].citation}: {answers[0].excerpt}" if answers else None,
            )
        )
    return report


def _source_texts(service: AnswerService) -> dict[str, str]:
    """Each live document's source file as text, white space removed: what quotes and gold
    markers are checked against."""
    from retrieval.reader import decode_policy_bytes

    texts = {}
    for document in service.documents():
        try:
            raw = decode_policy_bytes(Path(document.source).read_bytes())[0]
        except (OSError, ValueError):
            continue
        texts[document.source] = strip_white(raw)
    return texts


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise ValueError(f'{path}:{number}: a row needs a "question" string')
        rows.append(row)
    return rows

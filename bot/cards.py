"""Documents as users name them (by 文号 or title) and the card ``/doc`` shows for one."""

from __future__ import annotations

from collections.abc import Sequence

from bot.texts import say
from retrieval.store import StoredClause, StoredDocument
from zhtext.ladder import top_rung
from zhtext.normalize import normalize_text

_BRACKETS = str.maketrans(
    {"[": "〔", "]": "〕", "［": "〔", "］": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕"}
)
TITLE_MATCH_FLOOR = 0.5  # a title must share half of the query's character pairs to match


def norm_number(text: str) -> str:
    """A 文号 as compared: simplified, half-width, no spaces, one kind of bracket
    (揭府規〔2020〕3號 and 揭府规[2020]3号 are one number)."""
    return "".join(normalize_text(text).split()).translate(_BRACKETS)


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or {compact}


def match_documents(documents: Sequence[StoredDocument], query: str) -> list[StoredDocument]:
    """Documents whose number contains the query, else those whose title covers most of it."""
    wanted = norm_number(query)
    numbered = [
        doc for doc in documents if doc.doc_number and wanted in norm_number(doc.doc_number)
    ]
    if numbered:
        return numbered
    query_grams = _bigrams(query)
    scored = [
        (len(query_grams & _bigrams(f"{doc.title}{doc.authority or ''}")) / len(query_grams), doc)
        for doc in documents
    ]
    best = max((score for score, _ in scored), default=0.0)
    if best < TITLE_MATCH_FLOOR:
        return []
    return [doc for score, doc in scored if score >= best - 1e-9]


def doc_key(document: StoredDocument) -> str:
    """What to send after /doc to get exactly this document (≤ 64 bytes with the command)."""
    return document.doc_number or "".join(document.title.split())[:18]


def doc_label(document: StoredDocument) -> str:
    return f"{document.doc_number} {document.title}" if document.doc_number else document.title


def outline(document: StoredDocument, clauses: Sequence[StoredClause]) -> list[tuple[str, str]]:
    """Top-level headings in reading order: (section, heading title)."""
    headings: list[tuple[str, str]] = []
    seen: set[str] = set()
    for clause in sorted(
        (c for c in clauses if c.doc_key == document.key), key=lambda c: c.ordinal
    ):
        if not clause.headings:
            continue
        section = top_rung(clause.section)
        if section in seen:
            continue
        seen.add(section)
        heading = clause.headings[0]
        headings.append(("" if heading.startswith(section) else section, heading))
    return headings


def document_card(document: StoredDocument, sections: Sequence[tuple[str, str]]) -> str:
    """Title, authority, number, date, recipient, place, source and the outline of sections."""
    lines = [say("doc", "title", title=document.title)]
    if document.authority:
        lines.append(say("doc", "authority", value=document.authority))
    number = document.doc_number
    lines.append(say("doc", "number", value=number) if number else say("doc", "no_number"))
    if document.date:
        lines.append(say("doc", "date", value=document.date))
    if document.recipient:
        lines.append(say("doc", "recipient", value=document.recipient))
    place = "·".join(part for part in (document.city, document.district) if part)
    if place:
        lines.append(say("doc", "place", value=place))
    lines.append(say("doc", "source", value=document.source))
    if sections:
        lines.append(say("doc", "outline_title"))
        lines.extend(
            say("doc", "outline_line", section=section, heading=heading).rstrip()
            for section, heading in sections
        )
    lines.append(say("doc", "clauses", count=document.clause_count))
    return "\n".join(lines)

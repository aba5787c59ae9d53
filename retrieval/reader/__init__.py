"""Reading one policy file into a document: its metadata and its clauses, verbatim.

Policy files come as text extracted from PDFs and web pages, in UTF-8 or GB18030/GBK, some in
Markdown. The reader works on the kind of document, not on particular files:

1. Decode (:mod:`.decode`, :func:`decode_policy_bytes`); refuse empty, binary and undecodable
   files.
2. Clean line by line (:mod:`.furniture`): Markdown markup goes, and so do the page chrome and
   administrative lines listed in ``data/reader.toml`` (breadcrumbs, 字号, 发布日期, footers,
   抄送, 联系人 …).
   Metadata that web pages put in such lines (文号, 成文日期, 发布日期) is noted first.
3. Read the header (issuing body, 文号, title, the salutation naming the recipient) and the
   signature (body and signing date) off the lines (:mod:`.header`); neither becomes a clause.
4. Repair hard line breaks: a break is real only where a sentence ends, a numbered item or
   heading starts, or (in text wrapped at a fixed width) where a line stops short
   (:mod:`.furniture`).
5. Split the body along the document's own numbering ladder (:mod:`zhtext.ladder`) into
   clauses and mark their seams (:mod:`.clauses`).

The rules of every stage (patterns, cue words) are data: ``retrieval/data/reader.toml``, read
by :mod:`.rules`; this module assembles the stages and the document's metadata.

Section paths are the canonical markers of the items above a clause, concatenated:
``一、（一）4.（2）`` (half-width ``(一)``, ``1、`` and ``１．`` are written ``（一）``, ``1.``);
regulations give ``第三章第十二条`` (chapter and section included when the document has them);
inline enumerations add ``一是``/``二是``. Paragraphs before the first numbered item (the
preamble) and courtesy paragraphs after the last one have the section ``""``.

A clause's text is its paragraph without the item's own marker (the section carries it);
an item whose lead sentence is its title (``（一）出台指导性文件。出台《…》``) keeps both.
A heading alone is no clause: its title goes into ``headings`` of the clauses below it.
No clause is longer than :data:`MAX_CLAUSE_CHARS`; longer paragraphs are split at sentence ends.

Everything kept is verbatim: ``verbatim_key(clause.text) in verbatim_key(document.text)``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from retrieval import formats
from retrieval.docplace import document_place
from retrieval.messages import message
from retrieval.places import PROVINCE, Gazetteer, load_gazetteer
from retrieval.reader.clauses import MAX_CLAUSE_CHARS, _ClauseBuilder, _with_seams
from retrieval.reader.decode import decode_policy_bytes
from retrieval.reader.furniture import _clean_lines, _join_paragraphs, verbatim_key
from retrieval.reader.header import (
    _authority_of,
    _find_date,
    _from_issuer,
    _Header,
    _parse_date,
    _read_header,
    _signature,
    _title,
)
from retrieval.reader.rules import _HAN_CHAR, _WHITE, _Hints, _Rules, _rules
from retrieval.types import DocumentError, ParsedClause, ParsedDocument
from retrieval.view import Restorer, simplified_view

__all__ = [
    "MAX_CLAUSE_CHARS",
    "decode_policy_bytes",
    "parse_policy_text",
    "read_document",
    "verbatim_key",
]

EARLY_NUMBER_CHARS = 400  # a 文号 inside text counts only this near the top
EARLY_NUMBER_PREFIX_CHARS = 10  # 川经信财资: an issuer's prefix, not a sentence
MIN_POLICY_HAN_CHARS = 10  # fewer Chinese characters than this in all clauses: no policy text


def parse_policy_text(
    text: str, *, source: str, gazetteer: Gazetteer | None = None
) -> ParsedDocument:
    """Read decoded policy text into a document; raises ValueError when it holds no policy text.

    The rules read a simplified-character view of the text (see :mod:`retrieval.view`); what
    is kept is restored to the file's own characters.
    """
    rules = _rules()
    gazetteer = gazetteer or load_gazetteer()
    view, positions = simplified_view(text)
    restorer = Restorer(text, view, positions)
    hints = _Hints()
    lines = _clean_lines(view, rules, hints)
    if not lines:
        raise ValueError(message("reader", "only_furniture"))
    header, body_start = _read_header(lines, rules)
    body = lines[body_start:]
    signed, signer, signature_lines = _signature(body, rules)
    kept = [line for index, line in enumerate(body) if index not in signature_lines]
    paragraphs = _join_paragraphs(kept)
    clauses = _ClauseBuilder(paragraphs, rules).build()
    han = sum(len(_HAN_CHAR.findall(clause.text)) for clause in clauses)
    if not clauses or han < MIN_POLICY_HAN_CHARS:
        raise ValueError(message("reader", "no_chinese"))
    clauses = _with_header_clause(header, _whole_articles(clauses))

    title, title_source = _title(header, hints, paragraphs, rules)
    body_text = "\n".join(p.text for p in paragraphs)
    authority = (
        signer
        or header.authority
        or _hint_authority(hints, rules)
        or _title_authority(title, rules)
        or _inferred_authority(title, body_text, rules, gazetteer)
    )
    title = _from_issuer(title, authority)
    doc_number = (
        header.doc_number or _hint_doc_number(hints, rules) or _early_doc_number(view, rules)
    )
    date = (
        signed
        or _parse_date(hints.values.get("date", ""))
        or header.date
        or _parse_date(hints.values.get("published", ""))
    )
    place = document_place(
        gazetteer,
        authority=authority,
        title=title,
        doc_number=doc_number,
        header=header.text,
        recipient=header.recipient,
        body=body_text,
        national_bodies=rules.national_bodies,
    )
    clauses = [
        replace(
            clause,
            text=restorer.restore(clause.text),
            headings=tuple(restorer.restore(h, ordered=False) for h in clause.headings),
        )
        for clause in clauses
    ]
    clauses = _with_seams(clauses, text)
    warnings = [
        name
        for name, missing in (
            ("title", not title),
            ("doc_number", not doc_number),
            ("place", place.level is None),
        )
        if missing
    ]
    return ParsedDocument(
        source=source,
        doc_number=restorer.restore(doc_number, ordered=False) if doc_number else None,
        title=restorer.restore(title, ordered=False) if title else "",
        authority=restorer.restore(authority, ordered=False) if authority else None,
        recipient=restorer.restore(header.recipient, ordered=False) if header.recipient else None,
        date=date,
        city=place.city,
        district=place.district,
        province=place.province,
        level=place.level,
        title_source=title_source,
        missing=tuple(warnings),
        clauses=clauses,
        text=text,
    )


def read_document(path: Path, *, source: str | None = None) -> ParsedDocument:
    """Read one policy file; raises DocumentError(path, reason) for files with no policy text."""
    source = source if source is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise DocumentError(
            source, message("reader", "unreadable", error=error.strerror or error)
        ) from error
    if not data.strip():
        reason = message("reader", "empty" if not data else "white_space")
        raise DocumentError(source, reason)
    suffix = Path(path).suffix.lower()
    warnings: list[str] = []
    try:
        if suffix in formats.SUFFIXES or suffix in formats.REFUSED_SUFFIXES:
            extracted = formats.extract(data, suffix)  # PDF, Word, web page: their text
            text, encoding, warnings = extracted.text, suffix.lstrip("."), extracted.warnings
        else:
            text, encoding = decode_policy_bytes(data)
    except ValueError as error:  # FormatError too: its message is the Chinese reason
        raise DocumentError(source, str(error)) from error
    if not text.strip():
        raise DocumentError(source, message("reader", "white_space"))
    try:
        document = parse_policy_text(text, source=source)
    except ValueError as error:
        raise DocumentError(source, str(error)) from error
    document.encoding = encoding
    document.warnings = warnings
    document.content_hash = hashlib.sha256(data).hexdigest()
    return document


def _whole_articles(clauses: list[ParsedClause]) -> list[ParsedClause]:
    """An article (第X条) is one clause with all its paragraphs, as long as it fits: it is one
    unit of retrieval, so ten answers are ten articles, not two paragraphs of one."""
    merged: list[ParsedClause] = []
    for clause in clauses:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and _ARTICLE.search(clause.section)
            and clause.section == previous.section
            and clause.headings == previous.headings
            and len(previous.text) + len(clause.text) < MAX_CLAUSE_CHARS
        ):
            merged[-1] = replace(previous, text=f"{previous.text}\n{clause.text}")
        else:
            merged.append(replace(clause, ordinal=len(merged)))
    return merged


_ARTICLE = re.compile(r"第[^章节条]{1,8}条")


def _with_header_clause(header: _Header, clauses: list[ParsedClause]) -> list[ParsedClause]:
    """The header as a clause of its own when it says more than the title (文号, dates, a
    consultation's closing day): "文号是多少", "征求意见截止哪天" are answered from it."""
    lines = [line for line in header.text.splitlines() if line.strip()]
    if not (header.doc_number or len(lines) > 1 or (lines and _find_date(lines[0]))):
        return clauses
    head = ParsedClause(section="", headings=(), text=" ".join(lines), ordinal=0)
    return [head, *(replace(c, ordinal=c.ordinal + 1) for c in clauses)]


def _hint_authority(hints: _Hints, rules: _Rules) -> str | None:
    value = hints.values.get("authority")
    if not value:
        return None
    return _authority_of(value, rules) or value


def _title_authority(title: str | None, rules: _Rules) -> str | None:
    """The body a title opens with: 中山市工业和信息化局关于… → 中山市工业和信息化局."""
    if not title or "关于" not in title:
        return None
    return _authority_of(title.split("关于", 1)[0], rules)


def _inferred_authority(
    title: str | None, body_text: str, rules: _Rules, gazetteer: Gazetteer
) -> str | None:
    """The drafting body the text names for itself (区工业和信息化局), placed by the title."""
    if not title:
        return None
    places = [m for m in gazetteer.matches(title) if m.place.kind != PROVINCE]
    if not places:
        return None
    place = places[0].place
    levels = {"city": "市", "district": "区", "town": "镇县"}[place.kind]
    for match in rules.self_reference.finditer(body_text):
        if match.group("level") in levels:
            return f"{place.name}{match.group('level')}{match.group('stem')}"
    return None


def _early_doc_number(text: str, rules: _Rules) -> str | None:
    """A 文号 printed near the top but inside other text (核心提示:川经信财资〔2023〕28号各市…):
    the first one that is not a citation (in brackets, or after 根据)."""
    head = rules.cited.sub(" ", text[:EARLY_NUMBER_CHARS])
    for pattern in rules.doc_number:
        for match in pattern.finditer(head):
            number = _WHITE.sub("", match.group())
            opens_line = match.start() == 0 or head[match.start() - 1] in "\n:：】 "
            short = len(re.split(r"[〔\[（(【]", number)[0]) <= EARLY_NUMBER_PREFIX_CHARS
            if opens_line and short and not _in_brackets(head, match.start()):
                return number
    return None


def _in_brackets(text: str, position: int) -> bool:
    """Whether ``position`` lies inside an open （…） or 《…》 of ``text``."""
    opened = text.count("（", 0, position) + text.count("(", 0, position)
    closed = text.count("）", 0, position) + text.count(")", 0, position)
    books = text.count("《", 0, position) - text.count("》", 0, position)
    return opened > closed or books > 0


def _hint_doc_number(hints: _Hints, rules: _Rules) -> str | None:
    value = hints.values.get("doc_number")
    if not value:
        return None
    for pattern in rules.doc_number:
        if match := pattern.search(value):
            return _WHITE.sub("", match.group())
    return None

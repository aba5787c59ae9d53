"""The console's pages: Ask, Canned lookups, Documents, Unanswered and feedback, Stats, Audit.

Ask is a ``web`` channel: it translates the question box into the core's ``Incoming`` and
renders its ``Reply``; lookups, uploads and reloads go through the same dialogue commands as
in chat (``/lookup add``, ``/upload add``, ``/reload``), so the console decides nothing the
chat would decide differently. Every admin action is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.commands import find_command
from bot.commands.lookup import ADMIN_VERBS
from bot.console.app import console_texts, flash, page, redirect, render, says, state_of
from bot.console.auth import audit, audit_log
from bot.console.charts import collect_page, day_columns, ranking_bars
from bot.console.review import review_csv, review_items, set_mark
from bot.lookups import get_lookup
from bot.models import ConsoleUser
from bot.texts import topic_name
from bot.types import Attachment, Incoming, Reply
from retrieval.ladder import top_rung
from retrieval.store import CorpusVersion

CHANNEL = "web"
PERIODS = (7, 30, 90)
_UPLOAD_COMMAND = re.compile(r"^/upload (add|cancel) [0-9a-f]{1,64}$")


def _str(form: FormData | None, name: str) -> str:
    value = form.get(name) if form else None
    return value.strip() if isinstance(value, str) else ""


async def _say(request: Request, user: ConsoleUser, text: str, **extra: Any) -> Reply:
    """One message through the dialogue core, as this user's ``web`` conversation."""
    state = state_of(request)
    incoming = Incoming(
        channel=CHANNEL,
        user_id=user.name,
        session_id=str(request.session.get("conv") or user.name),
        text=text,
        is_admin=user.role == "admin",
        **extra,
    )
    return await state.dialogue.handle(incoming)


def _admin_command(text: str) -> bool:
    head, _, rest = text.partition(" ")
    name = head[1:].lower() if head.startswith("/") else ""
    found = find_command(name)
    if found is not None and found.admin_only:
        return True
    return name == "lookup" and rest.split(" ", 1)[0].lower() in ADMIN_VERBS


def _reply_text(reply: Reply) -> str:
    return "\n".join([*reply.text, *reply.footer])


# ---------------------------------------------------------------------- Ask


@page()
async def ask_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    return render(request, "ask.html", user=user, exchanges=[], nav="ask")


@page()
async def ask(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    """A question (or a button's command): the reply as a fragment, or the whole page."""
    text = _str(form, "text")
    reply = await _say(request, user, text)
    if user.role == "admin" and _admin_command(text):
        await run_in_threadpool(
            audit,
            engine=state_of(request).engine,
            user_name=user.name,
            action="command",
            detail=text,
        )
    exchange = {"question": _str(form, "label") or text, "reply": reply}
    if request.headers.get("x-console-fragment"):
        return render(request, "_exchange.html", user=user, exchange=exchange)
    return render(request, "ask.html", user=user, exchanges=[exchange], nav="ask")


@page()
def new_conversation(request: Request, _user: ConsoleUser, _form: FormData | None) -> Response:
    request.session["conv"] = secrets.token_hex(8)
    return redirect("/")


# ---------------------------------------------------------------------- Canned lookups


@page()
def lookups_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    """The lookups grouped by place, then topic."""
    shelf = state_of(request).dialogue.shelf  # the chat's: defaults follow the live corpus
    groups: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row, _finds in shelf.visible():
        place = row.district or row.city or says("lookups", "no_place")
        topic = topic_name(row.topic) if row.topic else says("lookups", "no_topic")
        groups[place][topic].append(row)
    ordered = {place: dict(topics) for place, topics in sorted(groups.items())}
    return render(request, "lookups.html", user=user, groups=ordered, nav="lookups")


@page(role="admin")
async def lookup_save(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    """Add, edit or rename a lookup through the chat's own ``/lookup add`` and ``/lookup del``."""
    state = state_of(request)
    old_name, name, question = _str(form, "old_name"), _str(form, "name"), _str(form, "question")
    back = _str(form, "next") if _str(form, "next").startswith("/") else "/lookups"
    if not question:
        flash(request, says("lookups", "empty_question"), "error")
        return redirect(back)
    reply = await _say(request, user, f"/lookup add {name} = {question}")
    saved = await run_in_threadpool(get_lookup, engine=state.engine, name=name)
    if saved is None or saved.question != " ".join(question.split()):
        flash(request, _reply_text(reply), "error")
        return redirect(back)
    action, message = "lookup_save", says("lookups", "saved", name=name)
    if old_name and old_name != name:
        await _say(request, user, f"/lookup del {old_name}")
        action, message = "lookup_rename", says("lookups", "renamed", old=old_name, name=name)
    detail = f"{old_name} → {name} = {question}" if old_name else f"{name} = {question}"
    await run_in_threadpool(
        audit, engine=state.engine, user_name=user.name, action=action, detail=detail
    )
    flash(request, message)
    return redirect(back)


@page(role="admin")
async def lookup_delete(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    state = state_of(request)
    name = _str(form, "name")
    if await run_in_threadpool(get_lookup, engine=state.engine, name=name) is None:
        flash(request, says("lookups", "not_found", name=name), "error")
        return redirect("/lookups")
    await _say(request, user, f"/lookup del {name}")
    await run_in_threadpool(
        audit, engine=state.engine, user_name=user.name, action="lookup_delete", detail=name
    )
    flash(request, says("lookups", "deleted", name=name))
    return redirect("/lookups")


# ---------------------------------------------------------------------- Documents


def _level(document: Any) -> str:
    return says("levels", document.level or "unknown")


@page()
def documents_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    """The live corpus, filtered by words, place and level; the history of reloads."""
    state = state_of(request)
    documents = state.dialogue.service.documents()
    query = request.query_params.get("q", "").strip()
    place = request.query_params.get("place", "")
    level = request.query_params.get("level", "")
    places = sorted({doc.place_label for doc in documents})
    shown = [
        doc
        for doc in documents
        if (not query or query in f"{doc.title}{doc.doc_number or ''}{doc.authority or ''}")
        and (not place or doc.place_label == place)
        and (not level or (doc.level or "unknown") == level)
    ]
    with Session(state.engine) as session:
        versions = session.exec(
            select(CorpusVersion).order_by(col(CorpusVersion.version).desc()).limit(20)
        ).all()
    return render(
        request,
        "documents.html",
        user=user,
        documents=shown,
        total=len(documents),
        places=places,
        query=query,
        place=place,
        level=level,
        versions=versions,
        level_of=_level,
        nav="documents",
    )


@page()
def document_card(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    """One document: its metadata, outline (top-level headings) and every clause."""
    service = state_of(request).dialogue.service
    index = service.index
    document = index.documents.get(request.path_params["key"])
    if document is None:
        return render(request, "not_found.html", user=user, status=404, nav="documents")
    clauses = sorted(
        (c for c in index.clauses if c.doc_key == document.key), key=lambda c: c.ordinal
    )
    outline: list[tuple[str, str]] = []
    seen: set[str] = set()
    for clause in clauses:
        section = top_rung(clause.section) if clause.headings else ""
        if clause.headings and section not in seen:
            seen.add(section)
            heading = clause.headings[0]
            outline.append(("" if heading.startswith(section) else section, heading))
    return render(
        request,
        "document.html",
        user=user,
        document=document,
        clauses=clauses,
        outline=outline,
        level=_level(document),
        nav="documents",
    )


@page(role="admin")
async def upload(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    """A file to add: previewed by the dialogue core exactly as a file sent in chat."""
    state = state_of(request)
    sent = form.get("file") if form else None
    if not isinstance(sent, UploadFile) or not sent.filename:
        flash(request, says("documents", "no_file"), "error")
        return redirect("/documents")
    size = sent.size
    too_large = size is not None and size > state.settings.max_upload_bytes
    data = b"" if too_large else await sent.read()
    attachment = Attachment(name=sent.filename, data=data, size=size)
    reply = await _say(request, user, "", attachment=attachment)
    await run_in_threadpool(
        audit,
        engine=state.engine,
        user_name=user.name,
        action="upload_preview",
        detail=sent.filename,
    )
    return render(request, "preview.html", user=user, reply=reply, nav="documents")


@page(role="admin")
async def upload_confirm(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    """The preview's 加入 or 取消 button: the chat's ``/upload add|cancel TOKEN``."""
    command = _str(form, "command")
    if not _UPLOAD_COMMAND.match(command):
        flash(request, says("documents", "not_a_command"), "error")
        return redirect("/documents")
    reply = await _say(request, user, command)
    action = "upload_add" if command.startswith("/upload add") else "upload_cancel"
    await run_in_threadpool(
        audit,
        engine=state_of(request).engine,
        user_name=user.name,
        action=action,
        detail=_reply_text(reply).split("\n", 1)[0],
    )
    flash(request, _reply_text(reply), "error" if reply.kind in {"error", "invalid"} else "ok")
    return redirect("/documents")


@page(role="admin")
async def reload(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    reply = await _say(request, user, "/reload")
    await run_in_threadpool(
        audit,
        engine=state_of(request).engine,
        user_name=user.name,
        action="reload",
        detail=" ".join(_reply_text(reply).split("\n")[1:3]),
    )
    flash(request, _reply_text(reply))
    return redirect("/documents")


# ---------------------------------------------------------------------- Unanswered and feedback


@page()
def unanswered_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    """Refused and 👎 questions with what they matched: the nearest clause, or the 👎 answer."""
    state = state_of(request)
    service = state.dialogue.service
    order = "frequent" if request.query_params.get("order") == "frequent" else "newest"
    marked = request.query_params.get("marked") == "1"
    items = review_items(engine=state.engine, order=order, marked=marked)
    matched: dict[str, list[Any]] = {}
    for item in items:
        if item.answer_ids:
            found = [service.clause(passage_id) for passage_id in item.answer_ids[:2]]
            matched[item.text] = [answer for answer in found if answer is not None]
        else:
            matched[item.text] = service.search(item.text, k=1)
    return render(
        request,
        "unanswered.html",
        user=user,
        items=items,
        matched=matched,
        order=order,
        marked=marked,
        reasons=dict(console_texts()["review"]["reasons"]),
        nav="unanswered",
    )


@page(role="admin")
def unanswered_mark(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    state = state_of(request)
    text = _str(form, "text")
    marking = _str(form, "action") != "unmark"
    set_mark(engine=state.engine, text=text, user_name=user.name, marked=marking, now=state.clock())
    audit(
        engine=state.engine,
        user_name=user.name,
        action="mark" if marking else "unmark",
        detail=text,
    )
    flash(request, says("review", "marked" if marking else "unmarked", text=text))
    return redirect("/unanswered" + ("" if marking else "?marked=1"))


@page()
def unanswered_csv(request: Request, _user: ConsoleUser, _form: FormData | None) -> Response:
    body = review_csv(engine=state_of(request).engine)
    stamp = state_of(request).clock().strftime("%Y%m%d")
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="unanswered-{stamp}.csv"'},
    )


# ---------------------------------------------------------------------- Stats and audit


def _since(request: Request, now: dt.datetime) -> tuple[dt.datetime, int | None, str]:
    """The chosen period: the last 7/30/90 days, or from a date (YYYY-MM-DD)."""
    chosen = request.query_params.get("since", "")
    if chosen:
        try:
            day = dt.date.fromisoformat(chosen)
            return dt.datetime.combine(day, dt.time(), dt.UTC), None, chosen
        except ValueError:
            pass
    days = request.query_params.get("days", "7")
    count = int(days) if days.isdigit() and int(days) in PERIODS else 7
    start = (now - dt.timedelta(days=count - 1)).date()
    return dt.datetime.combine(start, dt.time(), dt.UTC), count, ""


@page()
def stats_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    state = state_of(request)
    now = state.clock()
    since, days, since_text = _since(request, now)
    index = state.dialogue.service.index

    def document_of(passage_id: str) -> str | None:
        position = index.position_of.get(passage_id)
        if position is None:
            return None
        document = index.documents[index.clauses[position].doc_key]
        return document.doc_number or document.title

    figures = collect_page(
        engine=state.engine,
        now=now,
        since=since,
        document_of=document_of,
        other_topic=says("stats", "other_topic"),
        no_place=says("stats", "no_place"),
    )
    columns, peak = day_columns(figures.days)
    charts = {
        name: ranking_bars(items)
        for name, items in (
            ("topics", figures.topics),
            ("places", figures.places),
            ("documents", figures.documents),
            (
                "feedback",
                [
                    (says("stats", "up"), figures.stats.feedback_up),
                    (says("stats", "down"), figures.stats.feedback_down),
                ],
            ),
        )
    }
    return render(
        request,
        "stats.html",
        user=user,
        figures=figures,
        columns=columns,
        peak=peak,
        charts=charts,
        days=days,
        since=since_text,
        periods=PERIODS,
        nav="stats",
    )


@page(role="admin")
def audit_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    entries = audit_log(engine=state_of(request).engine)
    names = dict(console_texts()["audit"])
    return render(request, "audit.html", user=user, entries=entries, names=names, nav="audit")


def routes() -> list[Route]:
    return [
        Route("/", ask_page, methods=["GET"]),
        Route("/ask", ask, methods=["POST"]),
        Route("/new", new_conversation, methods=["POST"]),
        Route("/lookups", lookups_page, methods=["GET"]),
        Route("/lookups/save", lookup_save, methods=["POST"]),
        Route("/lookups/delete", lookup_delete, methods=["POST"]),
        Route("/documents", documents_page, methods=["GET"]),
        Route("/documents/upload", upload, methods=["POST"]),
        Route("/documents/confirm", upload_confirm, methods=["POST"]),
        Route("/documents/reload", reload, methods=["POST"]),
        Route("/documents/{key:path}", document_card, methods=["GET"]),
        Route("/unanswered", unanswered_page, methods=["GET"]),
        Route("/unanswered.csv", unanswered_csv, methods=["GET"]),
        Route("/unanswered/mark", unanswered_mark, methods=["POST"]),
        Route("/stats", stats_page, methods=["GET"]),
        Route("/audit", audit_page, methods=["GET"]),
    ]

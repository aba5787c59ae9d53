"""The console's Ask and Canned lookups pages, and the table of every page's route.

Ask is a ``web`` channel: it translates the question box into the core's ``Incoming`` and
renders its ``Reply``; lookups, uploads and reloads go through the same dialogue commands as
in chat (``/lookup add``, ``/upload add``, ``/reload``), so the console decides nothing the
chat would decide differently. Every admin action is written to the audit log.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.commands import find_command
from bot.commands.lookup import ADMIN_VERBS
from bot.console.app import (
    flash,
    form_text,
    page,
    redirect,
    render,
    reply_text,
    say_to_core,
    says,
    state_of,
)
from bot.console.auth import audit
from bot.lookups import get_lookup
from bot.models import ConsoleUser
from bot.texts import topic_name


def _admin_command(text: str) -> bool:
    head, _, rest = text.partition(" ")
    name = head[1:].lower() if head.startswith("/") else ""
    found = find_command(name)
    if found is not None and found.admin_only:
        return True
    return name == "lookup" and rest.split(" ", 1)[0].lower() in ADMIN_VERBS


# ---------------------------------------------------------------------- Ask


@page()
async def ask_page(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    return render(request, "ask.html", user=user, exchanges=[], nav="ask")


@page()
async def ask(request: Request, user: ConsoleUser, form: FormData | None) -> Response:
    """A question (or a button's command): the reply as a fragment, or the whole page."""
    text = form_text(form, "text")
    reply = await say_to_core(request, user, text)
    if user.role == "admin" and _admin_command(text):
        await run_in_threadpool(
            audit,
            engine=state_of(request).engine,
            user_name=user.name,
            action="command",
            detail=text,
        )
    exchange = {"question": form_text(form, "label") or text, "reply": reply}
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
    old_name, name, question = (
        form_text(form, "old_name"),
        form_text(form, "name"),
        form_text(form, "question"),
    )
    back = form_text(form, "next") if form_text(form, "next").startswith("/") else "/lookups"
    if not question:
        flash(request, says("lookups", "empty_question"), "error")
        return redirect(back)
    reply = await say_to_core(request, user, f"/lookup add {name} = {question}")
    saved = await run_in_threadpool(get_lookup, engine=state.engine, name=name)
    if saved is None or saved.question != " ".join(question.split()):
        flash(request, reply_text(reply), "error")
        return redirect(back)
    action, message = "lookup_save", says("lookups", "saved", name=name)
    if old_name and old_name != name:
        await say_to_core(request, user, f"/lookup del {old_name}")
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
    name = form_text(form, "name")
    if await run_in_threadpool(get_lookup, engine=state.engine, name=name) is None:
        flash(request, says("lookups", "not_found", name=name), "error")
        return redirect("/lookups")
    await say_to_core(request, user, f"/lookup del {name}")
    await run_in_threadpool(
        audit, engine=state.engine, user_name=user.name, action="lookup_delete", detail=name
    )
    flash(request, says("lookups", "deleted", name=name))
    return redirect("/lookups")


def routes() -> list[Route]:
    from bot.console import documents, reports

    return [
        Route("/", ask_page, methods=["GET"]),
        Route("/ask", ask, methods=["POST"]),
        Route("/new", new_conversation, methods=["POST"]),
        Route("/lookups", lookups_page, methods=["GET"]),
        Route("/lookups/save", lookup_save, methods=["POST"]),
        Route("/lookups/delete", lookup_delete, methods=["POST"]),
        Route("/documents", documents.documents_page, methods=["GET"]),
        Route("/documents/upload", documents.upload, methods=["POST"]),
        Route("/documents/confirm", documents.upload_confirm, methods=["POST"]),
        Route("/documents/reload", documents.reload, methods=["POST"]),
        Route("/documents/{key:path}", documents.document_card, methods=["GET"]),
        Route("/unanswered", reports.unanswered_page, methods=["GET"]),
        Route("/unanswered.csv", reports.unanswered_csv, methods=["GET"]),
        Route("/unanswered/mark", reports.unanswered_mark, methods=["POST"]),
        Route("/stats", reports.stats_page, methods=["GET"]),
        Route("/audit", reports.audit_page, methods=["GET"]),
    ]

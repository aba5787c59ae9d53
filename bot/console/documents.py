"""The Documents pages: the live corpus as a table, a document's card, the history of
reloads; admins upload a file (the chat's preview and confirmation, ``/upload add|cancel``) and
reload (``/reload``) through the dialogue core, each action in the audit log."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from bot.cards import outline
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
from bot.models import ConsoleUser
from bot.types import Attachment
from retrieval.store import CorpusVersion

_UPLOAD_COMMAND = re.compile(r"^/upload (add|cancel) [0-9a-f]{1,64}$")


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
    clauses = index.clauses_of(document.key)
    sections = outline(document, clauses)
    return render(
        request,
        "document.html",
        user=user,
        document=document,
        clauses=clauses,
        outline=sections,
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
    reply = await say_to_core(request, user, "", attachment=attachment)
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
    command = form_text(form, "command")
    if not _UPLOAD_COMMAND.match(command):
        flash(request, says("documents", "not_a_command"), "error")
        return redirect("/documents")
    reply = await say_to_core(request, user, command)
    action = "upload_add" if command.startswith("/upload add") else "upload_cancel"
    await run_in_threadpool(
        audit,
        engine=state_of(request).engine,
        user_name=user.name,
        action=action,
        detail=reply_text(reply).split("\n", 1)[0],
    )
    flash(request, reply_text(reply), "error" if reply.kind in {"error", "invalid"} else "ok")
    return redirect("/documents")


@page(role="admin")
async def reload(request: Request, user: ConsoleUser, _form: FormData | None) -> Response:
    reply = await say_to_core(request, user, "/reload")
    await run_in_threadpool(
        audit,
        engine=state_of(request).engine,
        user_name=user.name,
        action="reload",
        detail=" ".join(reply_text(reply).split("\n")[1:3]),
    )
    flash(request, reply_text(reply))
    return redirect("/documents")

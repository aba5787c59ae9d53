"""The report pages: unanswered and 👎 questions (turned into lookups or marked "not in our
documents", exported as CSV), the stats with their SVG charts, and the admins' audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.console.app import console_texts, flash, form_text, page, redirect, render, says, state_of
from bot.console.auth import audit, audit_log
from bot.console.charts import collect_page, day_columns, ranking_bars
from bot.console.review import review_csv, review_items, set_mark
from bot.models import ConsoleUser

PERIODS = (7, 30, 90)


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
    text = form_text(form, "text")
    marking = form_text(form, "action") != "unmark"
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

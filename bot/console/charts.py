"""The Stats page's figures and their charts, drawn as SVG on the server (nothing to download).

The headline figures come from :func:`bot.stats.collect_stats` (what ``/stats`` says); the
breakdowns the page charts (refusals per day, topics, places, cited documents) are counted
here from the same question log.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import BotQuestion
from bot.stats import ANSWERING_KINDS, Stats, collect_stats
from bot.texts import topic_name

TOP = 8  # bars in a ranking chart


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Column:
    """One day: answered and refused stacked, labelled every few days."""

    label: str
    answered: int
    refused: int
    x: float
    width: float
    answered_y: float
    answered_height: float
    refused_y: float
    refused_height: float
    show_label: bool


@dataclass(slots=True)
class StatsPage:
    stats: Stats
    days: list[tuple[str, int, int]] = field(default_factory=list)  # day, answered, refused
    topics: list[tuple[str, int]] = field(default_factory=list)
    places: list[tuple[str, int]] = field(default_factory=list)
    documents: list[tuple[str, int]] = field(default_factory=list)


def collect_page(
    *,
    engine: Engine,
    now: dt.datetime,
    since: dt.datetime,
    document_of: Callable[[str], str | None],
    other_topic: str,
    no_place: str,
) -> StatsPage:
    """Everything the page shows for questions asked since ``since``.

    ``document_of`` names the document a passage id belongs to (None: no longer in the corpus).
    """
    page = StatsPage(stats=collect_stats(engine=engine, now=now, since=since))
    per_day: dict[str, list[int]] = {}
    day = since.date()
    while day <= now.date():
        per_day[day.isoformat()] = [0, 0]
        day += dt.timedelta(days=1)
    topics: Counter[str] = Counter()
    places: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    query = select(BotQuestion).where(
        col(BotQuestion.created_at) >= since, col(BotQuestion.kind).in_(ANSWERING_KINDS)
    )
    with Session(engine) as session:
        for row in session.exec(query.execution_options(yield_per=500)):
            counts = per_day.setdefault(row.created_at.date().isoformat(), [0, 0])
            counts[1 if row.abstained else 0] += 1
            labels = [str(i["label"]) for i in row.intents if i.get("label") != "other"]
            topics[topic_name(labels[0]) if labels else other_topic] += 1
            places[row.district or row.city or no_place] += 1
            cited = {document_of(passage_id) for passage_id in row.answer_ids}
            documents.update(name for name in cited if name)
    page.days = [(day, answered, refused) for day, (answered, refused) in sorted(per_day.items())]
    page.topics = topics.most_common(TOP)
    page.places = places.most_common(TOP)
    page.documents = documents.most_common(TOP)
    return page


def ranking_bars(
    items: Sequence[tuple[str, int]], *, width: float = 600, row: float = 28
) -> tuple[list[Bar], float]:
    """Horizontal bars (label left, value right) and the chart's height."""
    label_width, value_width = width * 0.38, 48
    room = width - label_width - value_width
    most = max((value for _, value in items), default=0) or 1
    bars = [
        Bar(
            label=label,
            value=value,
            x=label_width,
            y=index * row + 4,
            width=max(room * value / most, 1.0),
            height=row - 8,
        )
        for index, (label, value) in enumerate(items)
    ]
    return bars, max(len(items), 1) * row


def day_columns(
    days: Sequence[tuple[str, int, int]], *, width: float = 600, height: float = 180
) -> tuple[list[Column], int]:
    """Stacked columns per day, scaled to the busiest day; returns the columns and that peak."""
    peak = max((answered + refused for _, answered, refused in days), default=0)
    scale = height / peak if peak else 0.0
    step = width / max(len(days), 1)
    every = max(1, round(len(days) / 7))  # about seven date labels whatever the period
    columns = []
    for index, (day, answered, refused) in enumerate(days):
        answered_height, refused_height = answered * scale, refused * scale
        columns.append(
            Column(
                label=day[5:],
                answered=answered,
                refused=refused,
                x=index * step + step * 0.15,
                width=step * 0.7,
                answered_y=height - answered_height,
                answered_height=answered_height,
                refused_y=height - answered_height - refused_height,
                refused_height=refused_height,
                show_label=index % every == 0 or index == len(days) - 1,
            )
        )
    return columns, peak

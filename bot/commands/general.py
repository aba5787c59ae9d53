"""Everyone's commands: help, topics, the next answers, a clause in full, and feedback."""

from __future__ import annotations

from sqlmodel import Session

from bot.commands.registry import CommandHost, command
from bot.history import record_feedback
from bot.replies import help_reply
from bot.texts import say, topic_labels, topic_name
from bot.types import Incoming, Reply
from intents.topics import topics

VERDICTS = frozenset({"up", "down"})


@command("start", "help")
def show_help(host: CommandHost, incoming: Incoming, _args: str) -> Reply:
    buttons = host.shelf.suggest(None, ())
    return help_reply(is_admin=incoming.is_admin, places=host.places_text(), buttons=buttons)


@command("topics")
def show_topics(host: CommandHost, _incoming: Incoming, _args: str) -> Reply:
    """The topics, and how many clauses each place has of each."""
    lines = [say("topics_cmd", "title")]
    lines.extend(
        say("topics_cmd", "topic_line", name=topic.name, description=topic.description)
        for topic in topics()
    )
    coverage = host.service.coverage()
    if coverage:
        lines.append(say("topics_cmd", "coverage_title"))
        for place, counts in coverage.items():
            shown = "、".join(
                say("topics_cmd", "coverage_count", name=topic_name(label), count=counts[label])
                for label in topic_labels()
                if counts.get(label, 0) > 0
            )
            counts_text = shown or say("topics_cmd", "coverage_none")
            lines.append(say("topics_cmd", "coverage_line", place=place, counts=counts_text))
    return Reply(text=["\n".join(lines)], buttons=host.shelf.suggest(None, ()), kind="command")


@command("more")
def show_more(host: CommandHost, incoming: Incoming, _args: str) -> Reply:
    return host.more(incoming)


@command("full")
def show_full(host: CommandHost, incoming: Incoming, args: str) -> Reply:
    """``/full 2``: the whole clause of answer 2 of this conversation (or a passage id)."""
    if not args:
        return Reply(text=[say("full", "usage")], kind="command")
    passage_id = args.split()[0]
    number = 1
    if passage_id.isdigit():
        number = int(passage_id)
        context = host.load_context(incoming)
        shown = [] if isinstance(context, str) else context.shown_ids
        if not 1 <= number <= len(shown):
            return Reply(text=[say("full", "no_number", number=number)], kind="command")
        passage_id = shown[number - 1]
    clause = host.service.clause(passage_id)
    if clause is None:
        return Reply(text=[say("full", "not_found")], kind="command")
    return Reply(
        text=[say("full", "lead")],
        answers=[clause],
        city=clause.city,
        kind="command",
        first_number=number,  # shown under the number it was asked by
    )


@command("feedback")
def give_feedback(host: CommandHost, incoming: Incoming, args: str) -> Reply:
    """``/feedback 12 up``: 👍/👎 on one of the user's own questions."""
    parts = args.split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in VERDICTS:
        return Reply(text=[say("feedback", "usage")], kind="command")
    question_id, verdict = int(parts[0]), parts[1].lower()
    with Session(host.engine) as session:
        found = record_feedback(
            session, question_id=question_id, incoming=incoming, verdict=verdict, now=host.now()
        )
    if not found:
        return Reply(text=[say("feedback", "not_found")], kind="command")
    return Reply(text=[say("feedback", f"thanks_{verdict}")], kind="command")

"""The topics users see, named once: in the lexicon data file (``intents/lexicon.toml``).

A new topic is one ``[labels.X]`` table there (its name, description and cue words); menus,
help, /topics and the canned lookups all read the topics from here, in the file's order.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from intents.classifier import LEXICON_PATH


@dataclass(frozen=True, slots=True)
class Topic:
    label: str  # the label the classifier and the index use (funding, 5g …)
    name: str  # how users see it (资金补贴, 5G …)
    description: str  # what it covers, one line (/topics)


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    """Every topic of the lexicon, in the order its tables appear in the file."""
    raw = tomllib.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    return tuple(
        Topic(label, str(spec.get("name", label)), str(spec.get("description", "")))
        for label, spec in raw["labels"].items()
    )


def topic_labels() -> tuple[str, ...]:
    return tuple(topic.label for topic in topics())


def topic_name(label: str) -> str:
    """How a topic label is named to users (``5g`` → ``5G``); unknown labels pass through."""
    return next((topic.name for topic in topics() if topic.label == label), label)


def topic_description(label: str) -> str:
    return next((topic.description for topic in topics() if topic.label == label), "")

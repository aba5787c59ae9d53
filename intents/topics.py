"""The topics users see, named once: in the lexicon data file (``intents/lexicon.toml``).

A new topic is one ``[labels.X]`` table there (its name, description and cue words); menus,
help, /topics and the canned lookups all read the topics from here, in the file's order.
"""

from __future__ import annotations

from intents.classifier import IntentLabel, get_classifier


def topics() -> tuple[IntentLabel, ...]:
    """Every topic of the lexicon, in the order its tables appear in the file."""
    return tuple(get_classifier().labels.values())


def topic_labels() -> tuple[str, ...]:
    return tuple(get_classifier().labels)


def topic_name(label: str) -> str:
    """How a topic label is named to users (``5g`` → ``5G``); unknown labels pass through."""
    topic = get_classifier().labels.get(label)
    return topic.name if topic is not None else label


def topic_description(label: str) -> str:
    topic = get_classifier().labels.get(label)
    return topic.description if topic is not None else ""

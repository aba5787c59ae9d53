"""Topics are named once, in the lexicon: what users see comes from there."""

from __future__ import annotations

import tomllib

from bot.texts import texts
from intents.classifier import LEXICON_PATH, IntentClassifier
from intents.topics import topic_description, topic_labels, topic_name, topics


def test_topics_are_the_lexicon_labels_in_file_order() -> None:
    raw = tomllib.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    assert topic_labels() == tuple(raw["labels"])
    assert topic_labels() == ("funding", "5g", "talent", "loans")
    assert set(topic_labels()) == set(IntentClassifier().labels)


def test_each_topic_has_a_name_and_a_description_for_users() -> None:
    assert topics(), "the lexicon names no topic"
    for topic in topics():
        assert topic.name.strip() and topic.description.strip(), topic
    assert topic_name("5g") == "5G"
    assert "贴息" in topic_description("loans")
    assert topic_name("unknown-label") == "unknown-label"


def test_the_bot_texts_no_longer_name_topics_themselves() -> None:
    assert "topics" not in texts() and "topic_descriptions" not in texts()

"""The intent classifier: multi-label scores and the cue words that decided them."""

from __future__ import annotations

from pathlib import Path

import pytest

from intents import OTHER, IntentClassifier, get_classifier


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return get_classifier()


def test_5g_project_subsidy_is_5g_and_funding(classifier: IntentClassifier) -> None:
    result = classifier.classify("东莞5G项目能拿多少补贴")
    assert result.labels[:2] == ["5g", "funding"]
    assert "5g" in result.cues["5g"] and "补贴" in result.cues["funding"]
    assert result.scores and all(0 < score <= 1 for _, score in result.scores)


@pytest.mark.parametrize(
    ("question", "primary"),
    [
        ("融资租赁买设备有贴息吗", "loans"),
        ("中山英才计划特聘人才补贴标准", "talent"),
        ("两化融合项目给多少奖励", "funding"),
        ("東莞５Ｇ基站建了多少", "5g"),
        ("供应链核心企业融资有什么奖励", "loans"),
    ],
)
def test_primary_intent(classifier: IntentClassifier, question: str, primary: str) -> None:
    assert classifier.classify(question).primary == primary


def test_nothing_matched_is_other(classifier: IntentClassifier) -> None:
    result = classifier.classify("今天天气怎么样")
    assert result.scores == [(OTHER, 1.0)] and result.labels == []


def test_overlapping_cues_count_once(classifier: IntentClassifier) -> None:
    result = classifier.classify("融资租赁")
    assert result.cues["loans"] == ["融资租赁"]


def test_lexicon_is_editable_data(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text(
        '[labels.funding]\nname="资金"\n[labels.funding.cues]\n"红包" = 1.0\n', encoding="utf-8"
    )
    assert IntentClassifier(lexicon).classify("有红包吗").primary == "funding"


def test_profile_scores_every_text_exactly_as_classify_does(classifier: IntentClassifier) -> None:
    from retrieval.corpus import read_corpus
    from zhtext.normalize import normalize_text

    root = Path(__file__).resolve().parents[2]
    texts = [
        normalize_text(f"{document.title} {clause.text}")
        for document in read_corpus(root / "seeds").documents
        for clause in document.clauses
    ]
    texts += ["", "贷款贴息贷款贴息", "东莞5G项目补贴补贴"]
    labels = [label for label in classifier.order if label != OTHER]
    expected = [
        [
            dict(classifier.classify(text, normalized=True).scores).get(label, 0.0)
            for label in labels
        ]
        for text in texts
    ]
    profile = classifier.profile(texts, labels)
    assert profile.tolist() == expected
    assert profile[-1].max() > 0  # the check compares real scores, not zeros

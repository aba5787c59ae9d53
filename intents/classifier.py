"""The intent classifier: cue words with weights, from an editable lexicon, multi-label."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from zhtext.normalize import normalize_text

LEXICON_PATH = Path(__file__).resolve().parent / "lexicon.toml"
OTHER = "other"


@dataclass(frozen=True, slots=True)
class IntentLabel:
    """One label of the lexicon: what users see of it, and its cue words."""

    label: str
    name: str
    description: str
    examples: tuple[str, ...]
    cues: dict[str, float]


@dataclass(frozen=True, slots=True)
class Classification:
    """Scores in (0, 1] sorted best first (``other`` alone when no cue matched) and the cues."""

    scores: list[tuple[str, float]]
    cues: dict[str, list[str]]

    @property
    def primary(self) -> str:
        return self.scores[0][0]

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.scores if label != OTHER]


class IntentClassifier:
    """Scores each label as 1 − exp(−Σ weights of its cues found in the text).

    Cues are matched longest first and never overlap, so 贷款贴息 counts once, not as 贷款 and 贴息
    again. Deterministic, explainable (the cues are returned), and editable without code.
    """

    def __init__(self, lexicon_path: Path = LEXICON_PATH) -> None:
        raw = tomllib.loads(lexicon_path.read_text(encoding="utf-8"))
        self.order: list[str] = list(raw.get("order", []))
        self.topics: frozenset[str] = frozenset(raw.get("topics", ()))
        self.labels: dict[str, IntentLabel] = {}
        for label, spec in raw["labels"].items():
            self.labels[label] = IntentLabel(
                label=label,
                name=spec.get("name", label),
                description=spec.get("description", ""),
                examples=tuple(spec.get("examples", ())),
                cues={normalize_text(cue): float(w) for cue, w in spec["cues"].items()},
            )
            if label not in self.order:
                self.order.append(label)
        self._cues = sorted(
            (
                (cue, label, weight)
                for label, spec in self.labels.items()
                for cue, weight in spec.cues.items()
            ),
            key=lambda item: -len(item[0]),
        )

    def classify(self, text: str, *, normalized: bool = False) -> Classification:
        if not normalized:
            text = normalize_text(text)
        taken = [False] * len(text)
        weights: dict[str, float] = {}
        cues: dict[str, list[str]] = {}
        for cue, label, weight in self._cues:
            start = text.find(cue)
            while start != -1:
                end = start + len(cue)
                if not any(taken[start:end]):
                    for i in range(start, end):
                        taken[i] = True
                    weights[label] = weights.get(label, 0.0) + weight
                    cues.setdefault(label, []).append(cue)
                start = text.find(cue, end)
        if not weights:
            return Classification(scores=[(OTHER, 1.0)], cues={})
        rank = {label: i for i, label in enumerate(self.order)}
        scores = sorted(
            ((label, round(1.0 - math.exp(-w), 4)) for label, w in weights.items()),
            key=lambda item: (-item[1], rank.get(item[0], 99)),
        )
        return Classification(scores=scores, cues=cues)

    def profile(self, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """Per normalised text, its score for each of ``labels`` (0 when no cue matched):
        ``classify`` of every text, computed cue by cue over all texts at once. The same
        cues are taken (longest first, never overlapping) and their weights added in the
        same order, so every score is the one ``classify`` gives, to the bit."""
        column = {label: i for i, label in enumerate(labels)}
        joined = _TEXT_SEPARATOR.join(texts)  # a separator no cue holds: no cue spans two
        starts = np.cumsum([0, *(len(text) + 1 for text in texts[:-1])], dtype=np.int64)
        taken = np.zeros(len(joined) + 1, dtype=bool)
        weights = np.zeros((len(texts), len(labels)), dtype=np.float64)
        touched = np.zeros((len(texts), len(labels)), dtype=bool)
        for cue, label, weight in self._cues:
            if not cue:
                continue
            found = [m.start() for m in re.finditer(re.escape(cue), joined)]
            if not found:
                continue
            window = np.asarray(found, dtype=np.int64)[:, None] + np.arange(len(cue))
            free = ~taken[window].any(axis=1)
            # occurrences of one cue never overlap one another: marking them together is
            # marking them one by one
            taken[window[free]] = True
            if label not in column:  # its cues still take their characters
                continue
            rows = np.searchsorted(starts, np.asarray(found)[free], side="right") - 1
            np.add.at(weights, (rows, column[label]), weight)
            touched[rows, column[label]] = True
        profile = np.zeros_like(weights)
        cells = np.nonzero(touched)
        profile[cells] = [round(1.0 - math.exp(-w), 4) for w in weights[cells].tolist()]
        return profile


_TEXT_SEPARATOR = "\x00"


@lru_cache(maxsize=1)
def get_classifier() -> IntentClassifier:
    """The process-wide classifier, built once from the lexicon."""
    return IntentClassifier()

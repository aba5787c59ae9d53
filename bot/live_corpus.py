"""The live corpus's index in one process: built at start, rebuilt when any process reloads.

Several processes (the bot, the CLI, the web console) serve one database. Each checks the
corpus version every few seconds; when another process reloaded, it builds the new index
beside the old one, which keeps answering meanwhile, then swaps one reference.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.texts import say
from intents import OTHER, IntentClassifier
from retrieval.index_parts import IndexParts, mirror_folder
from retrieval.search import ClauseIndex
from retrieval.store import (
    CorpusBusyError,
    LiveCorpus,
    ReloadReport,
    ensure_corpus,
    live_version,
    load_live_corpus,
    reload_corpus,
)
from retrieval.tokenize import PolicyTokenizer

log = logging.getLogger(__name__)

BUILD_ATTEMPTS = 5  # versions replaced while read, one after another, before giving up


class LiveIndex:
    """The index of the live corpus version; picks up a reloaded corpus without restart."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        tokenizer: PolicyTokenizer,
        classifier: IntentClassifier,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tokenizer = tokenizer
        self.classifier = classifier
        corpus = ensure_corpus(engine=engine, corpus_dir=settings.corpus_dir, lazy_clauses=True)
        self.current = self._index_of(corpus)  # what is served now, without a version check
        self._checked_at = time.monotonic()
        self._rebuilding = False

    def _index_of(self, corpus: LiveCorpus) -> ClauseIndex:
        """``_build``; when a reload removed the version while its clauses were being read
        (they are read only when a part must be built), the index of the new live version."""
        for _attempt in range(BUILD_ATTEMPTS - 1):
            try:
                return self._build(corpus)
            except CorpusBusyError:
                newer = load_live_corpus(self.engine, lazy_clauses=True)
                if newer is None:
                    raise
                log.info(
                    "corpus version %s replaced while read; indexing %s",
                    corpus.version,
                    newer.version,
                )
                corpus = newer
        return self._build(corpus)

    def _build(self, corpus: LiveCorpus) -> ClauseIndex:
        """The version's index: its tokenised parts are mapped from the machine's mirror, or
        read from the database when another process already built them (see
        retrieval.index_parts), else built and stored."""
        mirror = (
            mirror_folder(self.settings.index_mirror, corpus.content_key)
            if corpus.content_key
            else None
        )
        parts = IndexParts(self.engine, corpus.version, mirror=mirror)
        topics = [label for label in self.classifier.order if label != OTHER]
        index = ClauseIndex(
            corpus,
            tokenizer=self.tokenizer,
            topics=topics,
            # picklable, so that worker processes score clauses on the topics too
            topic_profile=partial(self.classifier.profile, labels=topics),
            parts=parts,
            build_workers=self.settings.build_workers,
        )
        self.parts = parts  # which parts were loaded and which built (the bench reports them)
        return index

    def checked(self) -> ClauseIndex:
        """The live index; every few seconds, a cheap check whether another process reloaded."""
        now = time.monotonic()
        if now - self._checked_at >= self.settings.corpus_check_seconds and not self._rebuilding:
            self._checked_at = now
            try:
                version = live_version(self.engine)
            except Exception:  # the database is briefly unreachable: keep serving what we have
                log.warning("could not check the corpus version", exc_info=True)
                version = self.current.version
            if version is not None and version != self.current.version:
                self._rebuilding = True
                threading.Thread(target=self._refresh, name="corpus-refresh", daemon=True).start()
        return self.current

    def _refresh(self) -> None:
        """Build the new corpus's index beside the old one, then swap (old serves meanwhile)."""
        try:
            corpus = load_live_corpus(self.engine, lazy_clauses=True)
            if corpus is not None and corpus.version != self.current.version:
                index = self._index_of(corpus)
                self.current = index  # one reference swap: readers see old or new, never half
                log.info("corpus version %s is live", corpus.version)
        except Exception:
            log.exception("could not load the new corpus; the old one keeps serving")
        finally:
            self._rebuilding = False

    def refresh_now(self) -> None:
        """Pick up the live corpus at once (after this process reloaded it)."""
        self._rebuilding = True
        self._refresh()
        self._checked_at = time.monotonic()

    def reload(self, corpus_dir: Path | None = None) -> ReloadReport:
        """Re-read the corpus folder, swap it in atomically, and serve it from now on."""
        report = reload_corpus(
            engine=self.engine,
            corpus_dir=corpus_dir or self.settings.corpus_dir,
            max_file_bytes=self.settings.corpus_max_file_bytes,
        )
        self.refresh_now()
        return report


def topic_coverage(index: ClauseIndex) -> dict[str, dict[str, int]]:
    """Per place (city, or city·district): clause counts per topic label."""
    result: dict[str, dict[str, int]] = {}
    unplaced = say("topics_cmd", "unplaced")
    keys = index.clauses.doc_keys
    # clauses per document and label, counted in one pass over the profile
    per_document = np.zeros((len(keys), len(index.labels)), dtype=np.int64)
    np.add.at(per_document, index.doc_of_clause, index.intent_profile >= 0.5)
    has_clauses = np.bincount(index.doc_of_clause, minlength=len(keys)) > 0
    for row in np.flatnonzero(has_clauses).tolist():
        document = index.documents[keys[row]]
        place = document.city or unplaced
        if document.district:
            place = f"{place}·{document.district}"
        counts = result.setdefault(place, {label: 0 for label in index.labels})
        for column, label in enumerate(index.labels):
            counts[label] += int(per_document[row, column])
    return result

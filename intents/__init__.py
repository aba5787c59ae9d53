"""Intent labels and the lexicon-driven classifier."""

from intents.classifier import OTHER, Classification, IntentClassifier, IntentLabel, get_classifier

__all__ = ["OTHER", "Classification", "IntentClassifier", "IntentLabel", "get_classifier"]

"""Intent labels and the lexicon-driven classifier."""

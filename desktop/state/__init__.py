"""Local state: the pruned SQLite cache."""

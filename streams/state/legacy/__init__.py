"""Stored states of versions 1 and 2 (a hand-written binary layout): read, never written any more."""

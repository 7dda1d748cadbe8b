"""The record store's one error, in a module of its own: the store implementations raise it
and :func:`voicebot.records.store.open_store` imports them, so neither imports the other."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store could not be opened or used; the message says what the operator should check."""

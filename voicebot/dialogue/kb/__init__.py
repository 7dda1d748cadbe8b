"""The single knowledge base (policies, shipping times, product facts) and its check."""

from .knowledge import KbEntry, KbError, KbProblem, KnowledgeBase, check_entries, load_kb, parse_entries

__all__ = ["KbEntry", "KbError", "KbProblem", "KnowledgeBase", "check_entries", "load_kb", "parse_entries"]

"""Checks of the intent classifier's training data (train)."""

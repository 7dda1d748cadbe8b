"""Prints how many inputs each fuzzer fed (the figures a long run reports)."""

from __future__ import annotations

from .fuzzing import COUNTS, EXAMPLES


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if COUNTS:
        terminalreporter.write_line(f"fuzz inputs (FUZZ_EXAMPLES={EXAMPLES}): " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
                                    + f"; total {sum(COUNTS.values())}")

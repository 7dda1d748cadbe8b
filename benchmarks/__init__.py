"""Benchmarks and evaluation harnesses (run from the repository root: python -m benchmarks.<name>)."""

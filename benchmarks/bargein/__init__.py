"""Barge-in and end-of-turn evaluation: labelled scenarios (build), the run (evaluate), the ASR cost model (asr_latency)."""

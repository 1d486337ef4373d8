"""Benchmarks: each prints what it measured, the baseline measured in the same run, and the ratio."""

"""Benchmarks: printed tables and ratios measured in one run, never timed assertions."""

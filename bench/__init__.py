"""Benchmark of the tracker against the libraries people would use instead (issue 8)."""

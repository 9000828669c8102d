"""Benchmarks that compare with the old pipeline, or with the sequential way, in one run."""

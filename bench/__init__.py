"""Benchmarks (`make bench`): wall times of real commands, beside the reference tools when installed."""

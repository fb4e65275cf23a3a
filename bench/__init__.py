"""Benchmarks run by `make bench`; each lives in bench/<name>/run.py and runs in its own process."""

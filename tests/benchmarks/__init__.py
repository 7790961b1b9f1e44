"""Smoke tests of the benchmark programs."""

"""Tests of engine/cli: the real command line."""

"""Tests of engine/dispatch."""

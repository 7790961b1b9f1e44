"""Tests of engine/resolve."""

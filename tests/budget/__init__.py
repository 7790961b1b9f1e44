"""Tests of engine/budget."""

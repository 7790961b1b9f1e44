"""Tests of engine/provider."""

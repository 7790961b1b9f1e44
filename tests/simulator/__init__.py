"""Tests of engine/simulator."""

"""Tests of engine/reports."""

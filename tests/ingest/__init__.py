"""Tests of engine/ingest."""

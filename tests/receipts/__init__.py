"""Tests of engine/receipts."""

"""Tests of the worker processes' own behaviour (start, stop), apart from the stages they run."""

"""Dispatcher: a batch's journaled provider calls, late fallback, and takeover of dead workers' batches."""

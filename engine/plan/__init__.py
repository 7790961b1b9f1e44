"""Planner: submitting a campaign, its dry-run forecast, preflight and resending failures."""

"""Outputs built on a campaign's report and its failed numbers: the export file, the HTML page."""

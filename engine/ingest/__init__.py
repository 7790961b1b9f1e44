"""Ingest: the campaign spec and its recipient file, read, normalised, validated and de-duplicated."""

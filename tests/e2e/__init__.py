"""End-to-end tests: the whole pipeline with real worker processes."""

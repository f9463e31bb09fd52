"""Reproducible studies from the seeds: each returns JSON-able results and writes a report."""

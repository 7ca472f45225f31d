"""Observability: every model call traced to a local SQLite trace store."""

"""Document stores: the ``Store`` Protocol, the filter language, and the SQLite store."""

from llmkit.store.base import DocumentWrite, Filter, Store
from llmkit.store.filters import matches, validate_filter
from llmkit.store.sqlite import SQLiteStore

__all__ = ["DocumentWrite", "Filter", "SQLiteStore", "Store", "matches", "validate_filter"]

"""Document stores: the ``Store`` Protocol, the filter language, and the SQLite store."""

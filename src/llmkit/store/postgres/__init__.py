"""The PostgreSQL + pgvector store (extra ``postgres``): ``PostgresStore``, its schema and migrations."""

from llmkit.store.postgres.connection import is_postgres_url
from llmkit.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "is_postgres_url"]

"""The filter language compiled to PostgreSQL: JSONB metadata, typed built-in columns, bound parameters.

The semantics are those of ``llmkit.store.filters`` (its ``matches`` is the reference; a test compares
them on a real server). Every value and every metadata key is a bound parameter; only column names
from a fixed table and operators from a fixed set reach the SQL text. ``CASE`` guards each cast, because
PostgreSQL does not promise to evaluate ``AND`` left to right.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmkit.store.filters import RANGE_OPS, FilterCompiler, validate_filter

#: Built-in chunk fields: column and kind ("text" or "number"); they win over metadata keys of that name.
BUILTINS: dict[str, tuple[str, str]] = {
    "source": ("c.source", "text"),
    "doc_id": ("c.doc_id", "text"),
    "page": ("c.page", "number"),
    "heading": ("c.heading", "text"),
    "content_type": ("c.content_type", "text"),
}


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "other"
    return "text" if isinstance(value, str) else "number"


class _PgSql(FilterCompiler):
    """Compiles one validated filter to a WHERE fragment with ``%s`` placeholders."""

    FALSE, TRUE = "false", "true"

    def __init__(self, meta: str) -> None:
        self.meta = meta
        self.params: list[Any] = []

    def _bind(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def field(self, key: str) -> str:
        """The metadata value as JSONB (NULL when the key is missing)."""
        return f"({self.meta} -> {self._bind(key)})"

    def eq(self, key: str, value: Any) -> str:
        if key in BUILTINS:
            col, kind = BUILTINS[key]
            if value is None:
                return f"({col} IS NULL)"
            if _kind(value) != kind:
                return "false"
            return f"({col} = {self._bind(value)}::{'text' if kind == 'text' else 'numeric'})"
        if value is None:
            return f"coalesce(jsonb_typeof({self.field(key)}) = 'null', true)"
        # jsonb equality: true is not 1, "1" is not 1, and 2021 = 2021.0 (numbers compare as numeric).
        return f"({self.field(key)} = {self._bind(json.dumps(value, ensure_ascii=False))}::jsonb)"

    def any_of(self, key: str, values: list[Any]) -> str:
        """``key`` equals one of ``values``, with one bound array per type so long lists stay one parameter."""
        if key not in BUILTINS:
            parts = [self.eq(key, None)] if any(v is None for v in values) else []
            rest = [json.dumps(v, ensure_ascii=False) for v in values if v is not None]
            if rest:
                parts.append(f"({self.field(key)} = ANY({self._bind(rest)}::jsonb[]))")
            return " OR ".join(parts)
        col, kind = BUILTINS[key]
        parts = [f"({col} IS NULL)"] if any(v is None for v in values) else []
        same = [v if kind == "text" else repr(v) for v in values if _kind(v) == kind]  # numbers as text: 1 and 2.5
        if same:
            parts.append(f"({col} = ANY({self._bind(same)}::text[]{'' if kind == 'text' else '::numeric[]'}))")
        return " OR ".join(parts) or "false"

    def range(self, key: str, op: str, value: Any) -> str:
        sql_op = RANGE_OPS[op]
        if key in BUILTINS:
            col, kind = BUILTINS[key]
            if _kind(value) != kind:
                return "false"
            if kind == "text":  # code-point order, as in SQLite and Python
                return f'({col} COLLATE "C" {sql_op} {self._bind(value)}::text COLLATE "C")'
            return f"({col} {sql_op} {self._bind(value)}::numeric)"
        kind = "string" if isinstance(value, str) else "number"
        test = f"jsonb_typeof({self.field(key)}) = '{kind}'"  # fields bind the key once per use
        if kind == "string":
            cmp = f'(({self.field(key)} #>> \'{{}}\') COLLATE "C" {sql_op} {self._bind(value)}::text COLLATE "C")'
        else:
            cmp = f"({self.field(key)}::numeric {sql_op} {self._bind(value)}::numeric)"
        return f"(CASE WHEN {test} THEN {cmp} END)"

    def cond(self, key: str, op: str, value: Any) -> str:
        if op == "$eq":
            return self.eq(key, value)
        if op == "$ne":
            return f"(NOT coalesce({self.eq(key, value)}, false))"
        if op in ("$in", "$nin"):
            any_ = f"coalesce(({self.any_of(key, list(value))}), false)"
            return any_ if op == "$in" else f"(NOT {any_})"
        return self.range(key, op, value)


def to_pg_sql(filter: Mapping[str, Any], *, meta_column: str = "c.meta") -> tuple[str, list[Any]]:
    """Compile a filter to a PostgreSQL WHERE fragment (``%s`` placeholders) and its parameters.

    Built-in fields read the chunk table aliased ``c``; other keys read ``meta_column`` (JSONB).

    >>> sql, params = to_pg_sql({"page": {"$gte": 2}, "lang": "en"})
    >>> params
    [2, 'lang', '"en"']
    """
    validate_filter(filter)
    compiler = _PgSql(meta_column)
    return compiler.compile(filter), compiler.params

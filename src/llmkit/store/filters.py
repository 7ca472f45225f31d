"""The filter language: validation, a pure-Python evaluator (the reference) and a compiler to SQLite SQL.

Semantics, shared by ``matches`` and ``to_sql`` (a test checks they agree):

- values are scalars: ``str``, ``int``, ``float``, ``bool`` or ``None``; arrays and objects are never equal
  to anything;
- ``bool`` is not a number: ``{"flag": True}`` matches JSON ``true`` only, and ranges skip booleans;
- ``None`` matches a missing field or ``null``;
- ranges compare numbers with numbers and strings with strings (code-point order); a field of the other
  type does not match;
- ``$ne`` and ``$nin`` are the negation of equality and ``$in``, so a missing field matches them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from llmkit.errors import InputError

#: Chunk fields that are columns rather than metadata keys (they win over metadata keys of the same name).
BUILTIN_FIELDS = ("source", "doc_id", "page", "heading", "content_type")
RANGE_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
FIELD_OPS = {"$eq", "$ne", "$in", "$nin", *RANGE_OPS}
_BAD_KEY = re.compile(r'["\\\x00-\x1f\x7f]')
_INT64 = 2**63
_MAX_DEPTH = 32
_HINT = 'see the filter language in llmkit.store.base, e.g. {"page": {"$gte": 2}}'


def _fail(message: str) -> InputError:
    return InputError(f"invalid filter: {message}", hint=_HINT)


def _check_scalar(key: str, value: Any) -> None:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _fail(f"the value for {key!r} is not valid Unicode text") from None
            if "\x00" in value:  # no store keeps one (``records.check_text``), so it could match nothing
                raise _fail(f"the value for {key!r} holds a NUL character (\\x00)")
        return
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise _fail(f"the integer for {key!r} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(f"the number for {key!r} must be finite, got {value}")
        return
    raise _fail(f"the value for {key!r} must be a string, number, boolean or null, got {type(value).__name__}")


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise _fail(f"field names must be non-empty strings, got {key!r}")
    if key.startswith("$"):
        raise _fail(f"unknown operator {key!r}; use $and or $or at this level")
    if len(key) > 256 or _BAD_KEY.search(key):
        raise _fail(f"field name {key[:60]!r} is too long or holds a quote, backslash or control character")


def _check_condition(key: str, cond: Any) -> None:
    if not isinstance(cond, Mapping):
        _check_scalar(key, cond)
        return
    if not cond:
        raise _fail(f"the condition for {key!r} is an empty object")
    for op, value in cond.items():
        if op not in FIELD_OPS:
            raise _fail(f"unknown operator {op!r} for {key!r}; use one of {sorted(FIELD_OPS)}")
        if op in ("$in", "$nin"):
            if not isinstance(value, list | tuple) or not value:
                raise _fail(f"{op} for {key!r} needs a non-empty list")
            for v in value:
                _check_scalar(key, v)
        elif op in RANGE_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _fail(f"{op} for {key!r} needs a number or a string, got {value!r}")
            _check_scalar(key, value)
        else:
            _check_scalar(key, value)


def validate_filter(filter: Any, _depth: int = 0) -> None:
    """Raise ``InputError`` unless ``filter`` is a well-formed filter.

    >>> validate_filter({"page": {"$gte": 2}, "$or": [{"lang": "en"}, {"lang": {"$in": ["de"]}}]})
    >>> validate_filter({"page": {"$regex": "x"}})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    llmkit.errors.InputError: invalid filter: unknown operator '$regex' for 'page'
    """
    if _depth > _MAX_DEPTH:
        raise _fail(f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(filter, Mapping):
        raise _fail(f"a filter is an object, got {type(filter).__name__}")
    for key, cond in filter.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list | tuple) or not cond:
                raise _fail(f"{key} needs a non-empty list of filters")
            for sub in cond:
                validate_filter(sub, _depth + 1)
        else:
            _check_key(key)
            _check_condition(key, cond)


# --------------------------------------------------------------------------------- evaluator


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "text"
    return "other"


def _eq(actual: Any, expected: Any) -> bool:
    if expected is None:
        return actual is None
    return _kind(actual) == _kind(expected) and actual == expected


def _op(op: str, actual: Any, expected: Any) -> bool:
    if op == "$eq":
        return _eq(actual, expected)
    if op == "$ne":
        return not _eq(actual, expected)
    if op == "$in":
        return any(_eq(actual, v) for v in expected)
    if op == "$nin":
        return not any(_eq(actual, v) for v in expected)
    if _kind(actual) != _kind(expected):
        return False
    return {"$gt": actual > expected, "$gte": actual >= expected, "$lt": actual < expected, "$lte": actual <= expected}[
        op
    ]


def matches(filter: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether ``fields`` (built-in fields and metadata in one flat mapping) pass ``filter``.

    >>> matches({"page": {"$gte": 2}, "lang": {"$in": ["en", "de"]}}, {"page": 3, "lang": "en"})
    True
    >>> matches({"$or": [{"page": 1}, {"flag": True}]}, {"page": 2, "flag": 1})
    False
    """
    for key, cond in filter.items():
        if key == "$and":
            ok = all(matches(sub, fields) for sub in cond)
        elif key == "$or":
            ok = any(matches(sub, fields) for sub in cond)
        elif isinstance(cond, Mapping):
            ok = all(_op(op, fields.get(key), value) for op, value in cond.items())
        else:
            ok = _eq(fields.get(key), cond)
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------- SQL


def _json_path(key: str) -> str:
    return f'$."{key}"'  # validate_filter has ruled out quotes and backslashes in keys


class FilterCompiler:
    """Turns a validated filter into one SQL boolean expression; each store's dialect supplies the leaves
    (``eq``, ``cond``) and its boolean literals. A missing field makes its condition false, never NULL."""

    FALSE, TRUE = "0", "1"

    def eq(self, key: str, value: Any) -> str:
        raise NotImplementedError

    def cond(self, key: str, op: str, value: Any) -> str:
        raise NotImplementedError

    def compile(self, filter: Mapping[str, Any]) -> str:
        parts = []
        for key, cond in filter.items():
            if key in ("$and", "$or"):
                joiner = " AND " if key == "$and" else " OR "
                parts.append("(" + joiner.join(self.compile(sub) for sub in cond) + ")")
            elif isinstance(cond, Mapping):
                parts.extend(self.cond(key, op, value) for op, value in cond.items())
            else:
                parts.append(self.eq(key, cond))
        if not parts:
            return self.TRUE
        return "(" + " AND ".join(f"coalesce({p}, {self.FALSE})" for p in parts) + ")"


class _Sql(FilterCompiler):
    """Compiles one filter into a WHERE fragment; every value and metadata path is a bound parameter."""

    def __init__(self, builtins: Mapping[str, str], meta_column: str) -> None:
        self.builtins = builtins
        self.meta = meta_column
        self.params: list[Any] = []

    def type_of(self, key: str) -> str:
        """SQL for the field's JSON type name ('integer', 'real', 'text', 'true', ... or NULL when missing)."""
        if key in self.builtins:
            col = self.builtins[key]
            kinds = "WHEN 'integer' THEN 'integer' WHEN 'real' THEN 'real' WHEN 'text' THEN 'text'"
            return f"(CASE typeof({col}) {kinds} END)"
        self.params.append(_json_path(key))
        return f"json_type({self.meta}, ?)"

    def value_of(self, key: str) -> str:
        if key in self.builtins:
            return self.builtins[key]
        self.params.append(_json_path(key))
        return f"json_extract({self.meta}, ?)"

    def typed(self, key: str, value: Any, op: str) -> str:
        """``field <op> value`` where the field has the value's type (number or text)."""
        t = self.type_of(key)
        v = self.value_of(key)
        self.params.append(value)
        kinds = "'text'" if isinstance(value, str) else "'integer', 'real'"
        return f"({t} IN ({kinds}) AND {v} {op} ?)"

    def eq(self, key: str, value: Any) -> str:
        if value is None:
            t = self.type_of(key)
            return f"coalesce({t} = 'null', 1)"
        if isinstance(value, bool):
            return f"({self.type_of(key)} = '{'true' if value else 'false'}')"
        return self.typed(key, value, "=")

    def any_of(self, key: str, values: list[Any]) -> str:
        """``key`` equals one of ``values``: one bound JSON array per type, so long lists stay fast."""
        parts = [self.eq(key, v) for v in dict.fromkeys(v for v in values if v is None or isinstance(v, bool))]
        for kinds, group in (("'text'", [v for v in values if isinstance(v, str)]),
                             ("'integer', 'real'", [v for v in values if _kind(v) == "number"])):  # fmt: skip
            if group:
                t, v = self.type_of(key), self.value_of(key)
                self.params.append(json.dumps(group, ensure_ascii=False))
                parts.append(f"({t} IN ({kinds}) AND {v} IN (SELECT value FROM json_each(?)))")
        return " OR ".join(parts)

    def cond(self, key: str, op: str, value: Any) -> str:
        if op == "$eq":
            return self.eq(key, value)
        if op == "$ne":
            return f"(NOT coalesce({self.eq(key, value)}, 0))"
        if op in ("$in", "$nin"):
            any_ = self.any_of(key, value)
            return f"(coalesce(({any_}), 0))" if op == "$in" else f"(NOT coalesce(({any_}), 0))"
        return self.typed(key, value, RANGE_OPS[op])


#: How ``to_sql`` names the built-in fields: the chunk table aliased as ``c``.
DEFAULT_COLUMNS = {name: f"c.{name}" for name in BUILTIN_FIELDS}


def to_sql(
    filter: Mapping[str, Any], *, columns: Mapping[str, str] = DEFAULT_COLUMNS, meta_column: str = "c.meta"
) -> tuple[str, list[Any]]:
    """Compile a validated ``filter`` to a SQLite WHERE fragment and its parameters.

    Built-in fields become the columns in ``columns``; other keys read ``meta_column`` (a JSON object) with
    ``json_extract`` and a bound path, so neither keys nor values ever reach the SQL text.

    >>> sql, params = to_sql({"page": {"$gte": 2}})
    >>> params
    [2]
    """
    validate_filter(filter)
    compiler = _Sql(columns, meta_column)
    return compiler.compile(filter), compiler.params


# --------------------------------------------------------------------------------- document prefilter

#: Chunk fields that are their document's, with the ``documents`` column that holds each (the SQLite store
#: copies them onto every chunk of the document when it writes).
DOCUMENT_FIELDS = {"doc_id": "id", "source": "source", "content_type": "content_type"}


def document_condition(filter: Mapping[str, Any], table: str = "d") -> tuple[str, list[Any]] | None:
    """A condition on the ``documents`` table (as ``table``) that every chunk passing ``filter`` meets, or ``None``.

    It is built from the filter's required equalities (``$eq`` or ``$in`` with text values) on document
    fields: at the top level, inside ``$and``, and inside ``$or`` when every branch has one. So a filter
    naming a few documents can find their chunks through the documents instead of reading the whole
    collection. The filter itself must still be applied: this only narrows where to look.

    >>> document_condition({"doc_id": "a", "page": {"$gte": 2}})
    ('d.id = ?', ['a'])
    >>> document_condition({"$and": [{"source": {"$in": ["x.md", "y.md"]}}, {"lang": "en"}]})
    ('d.source IN (SELECT value FROM json_each(?))', ['["x.md", "y.md"]'])
    >>> document_condition({"$or": [{"doc_id": "a"}, {"source": "b.md", "page": 1}]})
    ('((d.id = ?) OR (d.source = ?))', ['a', 'b.md'])
    >>> document_condition({"$or": [{"doc_id": "a"}, {"lang": "en"}]}) is None  # a branch names no document
    True
    """
    parts: list[str] = []
    params: list[Any] = []
    for key, cond in filter.items():
        if key in ("$and", "$or"):
            found = [document_condition(sub, table) for sub in cond]
            named = [f for f in found if f is not None]
            if key == "$or":
                if len(named) < len(found):  # a branch that names no document can match any chunk
                    continue
                named = [("(" + " OR ".join(f"({sql})" for sql, _ in named) + ")", [p for _, ps in named for p in ps])]
            for sql, sub_params in named:
                parts.append(sql)
                params.extend(sub_params)
            continue
        column, wanted = DOCUMENT_FIELDS.get(key), _required_texts(cond)
        if column is not None and wanted:
            many = len(wanted) > 1  # a list binds as one JSON parameter, so any length fits
            parts.append(f"{table}.{column} {'IN (SELECT value FROM json_each(?))' if many else '= ?'}")
            params.append(json.dumps(wanted) if many else wanted[0])
    return (" AND ".join(parts), params) if parts else None


def _required_texts(cond: Any) -> list[str] | None:
    """The text values one of which a field must equal under ``cond`` (``None``: not such a condition)."""
    if isinstance(cond, str):
        return [cond]
    if not isinstance(cond, Mapping):
        return None
    if isinstance(cond.get("$eq"), str):
        return [cond["$eq"]]
    values = cond.get("$in")
    if isinstance(values, list | tuple) and all(isinstance(v, str) for v in values):
        return list(dict.fromkeys(values))
    return None

"""The filter language: validation, and the SQL compiler agreeing with the Python reference."""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

import pytest

from llmkit.errors import InputError
from llmkit.store.filters import matches, to_sql, validate_filter

ROWS: list[dict[str, Any]] = [
    {"source": "a.md", "page": 1, "heading": "Intro", "meta": {"lang": "en", "n": 1, "flag": True, "s": "b"}},
    {"source": "b.md", "page": 2, "heading": None, "meta": {"lang": "de", "n": 2.5, "flag": False}},
    {"source": "c.md", "page": None, "heading": "Body", "meta": {"lang": None, "n": "3", "list": [1, 2]}},
    {"source": "d.md", "page": 4, "heading": "Body", "meta": {"n": 0, "flag": 1, "obj": {"a": 1}, "s": "a"}},
    {"source": "e.md", "page": 5, "heading": "x", "meta": {"lang": "en", "n": -1, "a.b": "dot", "it's": "q"}},
]


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE c (id INTEGER, source TEXT, doc_id TEXT, page INTEGER, heading TEXT,"
                 " content_type TEXT, meta TEXT)")  # fmt: skip
    for i, r in enumerate(ROWS):
        row = (i, r["source"], f"d{i}", r["page"], r["heading"], "text/plain", json.dumps(r["meta"]))
        conn.execute("INSERT INTO c VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    return conn


def _fields(i: int) -> dict[str, Any]:
    r = ROWS[i]
    return {**r["meta"], "source": r["source"], "doc_id": f"d{i}", "page": r["page"], "heading": r["heading"],
            "content_type": "text/plain"}  # fmt: skip


def _sql_ids(db: sqlite3.Connection, flt: dict[str, Any]) -> set[int]:
    where, params = to_sql(flt)
    return {r[0] for r in db.execute(f"SELECT id FROM c WHERE {where}", params)}


def _ref_ids(flt: dict[str, Any]) -> set[int]:
    return {i for i in range(len(ROWS)) if matches(flt, _fields(i))}


CASES: list[tuple[dict[str, Any], set[int]]] = [
    ({"lang": "en"}, {0, 4}),
    ({"flag": True}, {0}),  # 1 is not true
    ({"flag": 1}, {3}),  # and true is not 1
    ({"n": {"$gt": 0}}, {0, 1}),  # "3" is text, not a number
    ({"n": {"$gte": "3"}}, {2}),
    ({"lang": None}, {2, 3}),
    ({"lang": {"$ne": "en"}}, {1, 2, 3}),
    ({"page": {"$lt": 3}}, {0, 1}),
    ({"heading": {"$in": ["Body", "x"]}}, {2, 3, 4}),
    ({"heading": {"$nin": ["Body"]}}, {0, 1, 4}),
    ({"list": 1}, set()),
    ({"a.b": "dot"}, {4}),
    ({"it's": "q"}, {4}),
    ({"s": {"$gt": "a"}}, {0}),
    ({"$or": [{"page": 1}, {"$and": [{"heading": "Body"}, {"n": 0}]}]}, {0, 3}),
    ({"source": "a.md", "page": 2}, set()),
]


@pytest.mark.parametrize(("flt", "want"), CASES, ids=[str(c[0]) for c in CASES])
def test_sql_and_reference_give_the_expected_rows(db: sqlite3.Connection, flt: dict[str, Any], want: set[int]) -> None:
    assert _ref_ids(flt) == want
    assert _sql_ids(db, flt) == want


def _random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = ["lang", "n", "flag", "page", "heading", "source", "s", "missing"]
    values = ["en", "de", "Body", "a.md", "a", 0, 1, 2.5, -1, True, False, None, "3"]
    if depth < 2 and rng.random() < 0.3:
        return {rng.choice(["$and", "$or"]): [_random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    key, op = rng.choice(keys), rng.choice(["eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte"])
    if op == "eq":
        return {key: rng.choice(values)}
    if op in ("$in", "$nin"):
        return {key: {op: rng.sample(values, rng.randint(1, 3))}}
    return {key: {op: rng.choice([v for v in values if isinstance(v, int | float | str) and not isinstance(v, bool)])}}


def test_sql_agrees_with_reference_on_random_filters(db: sqlite3.Connection) -> None:
    rng = random.Random(7)
    for _ in range(500):
        flt = _random_filter(rng)
        assert _sql_ids(db, flt) == _ref_ids(flt), flt


@pytest.mark.parametrize(
    "flt",
    [None, [], "x", {"x": {"$regex": "a"}}, {"$nor": []}, {"$and": {}}, {"$or": []}, {"x": {"$in": []}},
     {"x": {"$in": "abc"}}, {"x": {}}, {"": 1}, {1: 1}, {'x"y': 1}, {"x\\y": 1}, {"x\ny": 1}, {"k" * 300: 1},
     {"x": [1]}, {"x": {"a": 1}}, {"x": b"bytes"}, {"x": float("inf")}, {"x": 2**70}, {"x": {"$gt": None}},
     {"x": {"$lt": True}}, {"x": {"$gt": [1]}}, {"x": "\ud800"}, {"$and": [{"x": 1}, "y"]}],
)  # fmt: skip
def test_malformed_filters_raise_input_error(flt: Any) -> None:
    with pytest.raises(InputError, match="invalid filter"):
        validate_filter(flt)


def test_deep_nesting_is_refused() -> None:
    flt: dict[str, Any] = {"x": 1}
    for _ in range(100):
        flt = {"$and": [flt]}
    with pytest.raises(InputError, match="nested"):
        validate_filter(flt)


def test_hostile_keys_and_values_stay_parameters(db: sqlite3.Connection) -> None:
    hostile = "x') OR 1=1; DROP TABLE c; --"
    sql, params = to_sql({hostile: hostile, "page": {"$in": [hostile, 1]}})
    assert hostile not in sql and hostile in params
    assert _sql_ids(db, {hostile: hostile}) == set()
    assert db.execute("SELECT count(*) FROM c").fetchone()[0] == len(ROWS)

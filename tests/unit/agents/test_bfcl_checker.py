"""bench/bfcl.py's AST checker agrees with BFCL's rules on real shared rows and on hand-made cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shared_data import SHARED_DATA, shared_data_missing

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bfcl.py"


@pytest.fixture(scope="module")
def bfcl():
    spec = importlib.util.spec_from_file_location("bfcl_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCS = {
    "area": {"name": "area", "parameters": {"type": "dict", "properties": {"base": {"type": "integer"},
             "unit": {"type": "string"}}, "required": ["base"]}},
    "pop": {"name": "pop", "parameters": {"type": "dict", "properties": {"city": {"type": "string"}},
            "required": ["city"]}},
}  # fmt: skip
TRUTH = [{"area": {"base": [10], "unit": ["units", ""]}}]


@pytest.mark.parametrize(
    ("calls", "ok"),
    [
        ([("area", {"base": 10})], True),  # optional argument left out: allowed by ""
        ([("area", {"base": 10, "unit": "Units"})], True),  # case-insensitive strings
        ([("area", {"base": 10.0})], True),
        ([("area", {"base": 11})], False),
        ([("area", {"unit": "units"})], False),  # required missing
        ([("area", {"base": 10, "colour": "red"})], False),  # unknown argument
        ([("pop", {"city": "x"})], False),
        ([], False),
        ([("area", {"base": 10}), ("area", {"base": 10})], False),
    ],
)
def test_single_call_rules(bfcl, calls, ok) -> None:
    assert bfcl.score(calls, TRUTH, FUNCS) is ok


def test_parallel_calls_match_in_any_order_and_irrelevance(bfcl) -> None:
    truth = [{"pop": {"city": ["Paris"]}}, {"pop": {"city": ["Rome"]}}]
    assert bfcl.score([("pop", {"city": "rome"}), ("pop", {"city": "Paris"})], truth, FUNCS)
    assert not bfcl.score([("pop", {"city": "rome"}), ("pop", {"city": "rome"})], truth, FUNCS)
    assert bfcl.score([], None, FUNCS) and not bfcl.score([("pop", {"city": "x"})], None, FUNCS)


@pytest.mark.skipif(shared_data_missing(SHARED_DATA / "bfcl"), reason="shared data not present")
def test_gold_answers_score_as_correct(bfcl) -> None:
    """Feeding each question's first allowed values back as calls must score 100 % (checks load + checker)."""
    for category in ("simple", "multiple", "parallel", "parallel_multiple"):
        for row, truth in bfcl.load(category, 0):
            functions = {f["name"]: f for f in row["function"]}
            calls = []
            for entry in truth:
                for name, args in entry.items():
                    props = functions[name]["parameters"]["properties"]  # a few gold rows name absent arguments
                    given = {a: next(v for v in ok if v != "") for a, ok in args.items() if ok != [""] and a in props}
                    calls.append((name, given))
            assert bfcl.score(calls, truth, functions), row["id"]
        specs = [bfcl.to_json_schema(f["parameters"]) for r, _ in bfcl.load(category, 5) for f in r["function"]]
        assert all(s["type"] == "object" for s in specs)

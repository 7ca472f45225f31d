"""BFCL (Berkeley Function Calling Leaderboard) AST accuracy, one model call per question.

    .venv/bin/python bench/bfcl.py                              # embedded model, 20 questions per category
    .venv/bin/python bench/bfcl.py --limit 0                    # every shared question (slow on 2 cores)
    .venv/bin/python bench/bfcl.py --model gpt-4o-mini --base-url http://localhost:8000/v1
    .venv/bin/python bench/bfcl.py --categories simple,irrelevance --json results.json

Categories (../shared/data/bfcl): simple (simple_python), multiple, parallel, parallel_multiple, irrelevance.
Each question's functions become ``ToolSpec``s (BFCL's "dict"/"float"/"tuple"/"any" types mapped to JSON
Schema; dots in names become "_" and are mapped back); the model answers through
``GenerationParams(tools=..., tool_choice="auto")`` — the same path the agent loop uses. Scoring follows
BFCL's AST checker: the function name matches, every required argument is present, no unknown argument
is given, and each value is one of the allowed values ("" allowed = the argument may be left out;
strings compared case-insensitively without spaces and ,./-_*^ punctuation; an int passes for a float).
Parallel categories need the same number of calls, matched in any order. Irrelevance is correct when
the model calls nothing. Questions are taken in file order (the first ``--limit`` of each category).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bfcl"
CATEGORIES = {
    "simple": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
}
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "bool": "boolean", "str": "string"}


def to_json_schema(node: Any) -> Any:
    """BFCL's parameter schema as JSON Schema.

    >>> to_json_schema({"type": "dict", "properties": {"x": {"type": "float"}, "t": {"type": "tuple"}}})
    {'type': 'object', 'properties': {'x': {'type': 'number'}, 't': {'type': 'array'}}}
    """
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            if value == "any":
                continue
            out[key] = _TYPES.get(value, value)
        elif key == "optional":
            continue
        else:
            out[key] = to_json_schema(value)
    return out


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]


def normalize(value: Any) -> Any:
    """Values compared the way BFCL's checker compares them.

    >>> normalize("New York, NY"), normalize([1, "A-b"]), normalize(2)
    ('newyorkny', [1, 'ab'], 2)
    """
    if isinstance(value, str):
        return re.sub(r"[ ,./\-_*^]", "", value).lower().replace("'", '"')
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def value_ok(value: Any, allowed: Sequence[Any], param_type: str | None) -> bool:
    """Whether ``value`` is one of ``allowed`` (an int passes for a float; bools are not numbers).

    >>> value_ok(5, [5.0], "float"), value_ok("Paris", ["paris", "Paris, France"], "string"), value_ok(True, [1], None)
    (True, True, False)
    """
    for candidate in allowed:
        if candidate == "":
            continue
        if isinstance(value, bool) != isinstance(candidate, bool):
            continue
        if isinstance(value, int | float) and isinstance(candidate, int | float):
            if param_type == "integer" and isinstance(value, float) and not value.is_integer():
                continue
            if abs(float(value) - float(candidate)) < 1e-9:
                return True
        elif normalize(value) == normalize(candidate):
            return True
    return False


def call_ok(name: str, args: Mapping[str, Any], truth: Mapping[str, Mapping[str, list[Any]]], functions: dict) -> bool:
    """One call against one ground-truth entry ``{func_name: {arg: [allowed values]}}``."""
    ((want, params),) = truth.items()
    if name != want or want not in functions:
        return False
    schema = functions[want]["parameters"]
    props, required = schema.get("properties", {}), set(schema.get("required", []))
    if any(a not in props for a in args) or any(r not in args for r in required):
        return False
    for param, allowed in params.items():
        if param not in args:
            if "" not in allowed:
                return False
        elif not value_ok(args[param], allowed, props.get(param, {}).get("type")):
            return False
    return True


def score(calls: list[tuple[str, dict]], truth: list[dict] | None, functions: dict) -> bool:
    """Whether the calls answer the question: irrelevance (``truth`` None) needs none; else a one-to-one match."""
    if truth is None:
        return not calls
    if len(calls) != len(truth):
        return False
    if len(calls) > 6:  # permutations would explode; compare in order
        return all(call_ok(n, a, t, functions) for (n, a), t in zip(calls, truth, strict=True))
    return any(
        all(call_ok(n, a, t, functions) for (n, a), t in zip(calls, perm, strict=True))
        for perm in itertools.permutations(truth)
    )


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(category: str, limit: int) -> list[tuple[dict, list[dict] | None]]:
    name = CATEGORIES[category]
    rows = _jsonl(DATA / f"BFCL_v4_{name}.json")
    gold = DATA / "possible_answer" / f"BFCL_v4_{name}.json"
    answers = {r["id"]: r["ground_truth"] for r in _jsonl(gold)} if gold.exists() else {}
    rows = rows[:limit] if limit else rows
    return [(r, answers.get(r["id"]) if category != "irrelevance" else None) for r in rows]


def ask(model: Any, row: dict, max_tokens: int) -> tuple[list[tuple[str, dict]], bool, float, int]:
    """(calls with original names and parsed arguments, all calls parsed, seconds, completion tokens)."""
    from llmkit.types import GenerationParams, Message, ToolSpec

    names = {safe_name(f["name"]): f["name"] for f in row["function"]}
    specs = tuple(
        ToolSpec(safe_name(f["name"]), f.get("description", ""), to_json_schema(f["parameters"]))
        for f in row["function"]
    )
    messages = [Message.from_dict(m) for m in row["question"][0]]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=0, tools=specs, tool_choice="auto")
    start = time.perf_counter()
    reply = model.chat(messages, params)
    seconds = time.perf_counter() - start
    calls, parsed = [], True
    for c in reply.tool_calls:
        try:
            calls.append((names.get(c.name, c.name), c.parsed_arguments()))
        except Exception:
            parsed = False
            calls.append((names.get(c.name, c.name), {}))
    return calls, parsed, seconds, reply.usage.completion_tokens or 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--categories", default=",".join(CATEGORIES))
    parser.add_argument("--limit", type=int, default=20, help="questions per category (0 = all)")
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--json", dest="json_out", default=None, help="write per-question results here")
    args = parser.parse_args(argv)

    from llmkit.config import load_settings
    from llmkit.registry import load_chat_model

    settings = load_settings(None, model={"name": args.model, "base_url": args.base_url})
    model = load_chat_model(settings)
    print(
        f"model {model.name} · max_tokens {args.max_tokens} · temperature 0 · first {args.limit or 'all'} per category"
    )
    print(f"{'category':<18} {'n':>4} {'accuracy':>9} {'called':>7} {'parsed':>7} {'s/q':>6}")
    results, totals = [], []
    for category in args.categories.split(","):
        rows = load(category, args.limit)
        correct, called, parsed_all, seconds = 0, 0, 0, []
        for row, truth in rows:
            functions = {f["name"]: f for f in row["function"]}
            calls, parsed, took, tokens = ask(model, row, args.max_tokens)
            ok = score(calls, truth, functions)
            correct += ok
            called += bool(calls)
            parsed_all += parsed
            seconds.append(took)
            results.append({"id": row["id"], "category": category, "correct": ok, "calls": calls, "tokens": tokens})
            print("+" if ok else ".", end="", file=sys.stderr, flush=True)
        n = len(rows)
        totals.append((n, correct))
        print(
            f"{category:<18} {n:>4} {correct / n:>9.3f} {called / n:>7.2f} {parsed_all / n:>7.2f} "
            f"{statistics.median(seconds):>6.2f}",
            flush=True,
        )
    n_all = sum(n for n, _ in totals)
    print(f"{'overall':<18} {n_all:>4} {sum(c for _, c in totals) / n_all:>9.3f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

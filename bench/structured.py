"""Structured-output conformance per backend: how often a reply is valid JSON for the schema, and at what cost.

Three schemas (a product, a contact with an e-mail pattern and an age range, a bounded tag list), each
asked of ``--n`` synthetic sentences, through ``StructuredGenerator`` on the embedded SmolLM2-135M:

- ``llama.cpp + grammar``: ``json_schema`` becomes a llama.cpp grammar (the default);
- ``prompt only``: the schema is only in the prompt (``grammar=False``), as with a server that ignores
  ``response_format``; replies are repaired and re-asked up to twice.

``--remote`` adds the same two rows through an OpenAI-compatible server: llmkit's own (``llmkit serve``'s
app on uvicorn, loopback, serving the same GGUF), reached by ``OpenAIChatModel`` with the official
``openai`` client — ``response_format`` (which this server turns into a grammar) and prompt only (the
validate → repair → re-ask path a server without ``response_format`` gets).

Columns: valid as generated on the first try; valid on the first try after repair; valid within 3 tries;
mean tries; p50 seconds per request. Validity is structural (the schema), not factual.

    .venv/bin/python bench/structured.py --n 10        # about 3 minutes on 2 busy cores
    .venv/bin/python bench/structured.py --n 5 --remote --only-remote
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from llmkit.config import load_settings
from llmkit.errors import LlmkitError
from llmkit.models.base import ChatModel
from llmkit.registry import load_chat_model
from llmkit.structured.core import StructuredGenerator
from llmkit.types import GenerationParams, Message

SCHEMAS = {
    "product": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "price": {"type": "number"}, "in_stock": {"type": "boolean"}},
        "required": ["name", "price", "in_stock"],
        "additionalProperties": False,
    },
    "contact": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+[.][a-z]+$"},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
        },
        "required": ["name", "email", "age"],
        "additionalProperties": False,
    },
    "tags": {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}},
        "required": ["tags"],
        "additionalProperties": False,
    },
}
NAMES = ["Ana Silva", "Ben Okafor", "Chen Wei", "Dana Levi", "Emil Novak", "Farah Haddad", "Gus Berg", "Hana Sato"]
ITEMS = ["desk lamp", "trail shoes", "coffee grinder", "USB hub", "rain jacket", "chess set", "kettle", "backpack"]


def prompts(kind: str, n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        name, item = rng.choice(NAMES), rng.choice(ITEMS)
        if kind == "product":
            stock = rng.choice(["in stock", "sold out"])
            out.append(f"Extract the product: The {item} costs {rng.randint(5, 300)}.99 euros and is {stock}.")
        elif kind == "contact":
            email = name.split()[0].lower() + "@example.com"
            out.append(f"Extract the contact: {name}, aged {rng.randint(18, 90)}, can be reached at {email}.")
        else:
            out.append(f"Give up to five tags for this review: 'The {item} from {name}'s shop is sturdy and cheap.'")
    return out


def run(gen: StructuredGenerator, kind: str, texts: list[str]) -> dict[str, float]:
    first = repaired = within = tries = 0
    seconds = []
    for text in texts:
        start = time.perf_counter()
        try:
            reply = gen.generate([Message.user(text)], SCHEMAS[kind], GenerationParams(max_tokens=80, temperature=0.0))
        except LlmkitError:  # ModelError when no valid reply came; InputError for a schema the backend rejects
            tries += gen.retries + 1
        else:
            first += reply.attempts == 1 and not reply.repaired
            repaired += reply.attempts == 1
            within += 1
            tries += reply.attempts
        seconds.append(time.perf_counter() - start)
    n = len(texts)
    return {"first": first / n, "repaired": repaired / n, "within": within / n, "tries": tries / n,
            "p50": statistics.median(seconds)}  # fmt: skip


def table(model: ChatModel, rows: tuple[tuple[str, bool], ...], cases: dict[str, list[str]]) -> None:
    for label, grammar in rows:
        gen = StructuredGenerator(model, retries=2, grammar=grammar)
        for kind, texts in cases.items():
            r = run(gen, kind, texts)
            print(f"| {label} | {kind} | {r['first']:.0%} | {r['repaired']:.0%} | {r['within']:.0%} | "
                  f"{r['tries']:.2f} | {r['p50']:.2f} |", flush=True)  # fmt: skip


@contextmanager
def served() -> Iterator[ChatModel]:
    """The project's model behind llmkit's OpenAI-compatible server on loopback, as an ``OpenAIChatModel``."""
    from llmkit.models.openai_compat import OpenAIChatModel
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread

    settings = load_settings(server={"auth": "none", "log_json": False})  # loopback only
    with serve_in_thread(create_app(settings)) as url:
        yield OpenAIChatModel(settings.model.name, base_url=f"{url}/v1", api_key="none", timeout_s=600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10, help="sentences per schema")
    ap.add_argument("--remote", action="store_true", help="add the rows through an OpenAI-compatible server")
    ap.add_argument("--only-remote", action="store_true", help="skip the in-process rows")
    ap.add_argument("--modes", default="grammar,prompt", help="which rows: grammar, prompt or both")
    ap.add_argument("--schemas", default=",".join(SCHEMAS), help="which schemas, comma-separated")
    args = ap.parse_args()
    settings = load_settings()
    rng = random.Random(0)
    cases = {kind: prompts(kind, args.n, rng) for kind in SCHEMAS}
    cases = {kind: texts for kind, texts in cases.items() if kind in args.schemas.split(",")}
    modes = args.modes.split(",")
    print("| backend | schema | valid as generated | valid after repair | valid within 3 tries | mean tries | p50 s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if not args.only_remote:
        rows = (("llama.cpp + grammar", True), ("prompt only (SmolLM2)", False))
        table(load_chat_model(settings), _pick(rows, modes), cases)
    if args.remote or args.only_remote:
        with served() as remote:
            rows = (
                ("OpenAI API (llmkit serve) + response_format", True),
                ("OpenAI API (llmkit serve), prompt only", False),
            )
            table(remote, _pick(rows, modes), cases)


def _pick(rows: tuple[tuple[str, bool], ...], modes: list[str]) -> tuple[tuple[str, bool], ...]:
    return tuple(r for r in rows if ("grammar" if r[1] else "prompt") in modes)


if __name__ == "__main__":
    main()

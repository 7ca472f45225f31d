"""GSM8K accuracy with and without the calculator tool, on a fixed sample of ../shared/data/gsm8k/train.jsonl.

    .venv/bin/python bench/gsm8k_agent.py                       # embedded model, 20 problems
    .venv/bin/python bench/gsm8k_agent.py --n 50 --max-steps 6
    .venv/bin/python bench/gsm8k_agent.py --model my-model --base-url http://localhost:8000/v1

The sample is fixed: problems at positions ``random.Random(0).sample(range(7473), n)`` in the train file.
"Without" is one model call; "with" is ``Agent(model, [calculator()])`` bounded by ``--max-steps`` and
``--max-seconds``. The answer is the number after "Answer:" in the final reply, else its last number;
it counts when it equals the number after "####" (commas removed). Also printed: tool calls per problem,
the share of tool calls rejected by schema validation or the calculator, and tokens and seconds per problem.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k" / "train.jsonl"
PLAIN = "Solve the math problem step by step. End with a line 'Answer: <number>'."
TOOLED = (
    "Solve the math problem. Use the calculator tool for every computation. Tool results arrive inside "
    "<tool_output> tags. End with a line 'Answer: <number>'."
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> float | None:
    """The number after "Answer:", else the last number in ``text``.

    >>> final_number("18 - 3 = 15 eggs. Answer: $1,018"), final_number("so 72 clips"), final_number("none")
    (1018.0, 72.0, None)
    """
    tail = text.rsplit("Answer:", 1)[-1] if "Answer:" in text else text
    found = _NUMBER.findall(tail) or _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1 if "Answer:" not in text else 0].replace(",", ""))
    except ValueError:
        return None


def gold(answer: str) -> float:
    """
    >>> gold("48/2 = <<48/2=24>>24\\n#### 1,072")
    1072.0
    """
    return float(answer.rsplit("####", 1)[1].strip().replace(",", ""))


def sample(n: int) -> list[dict]:
    with DATA.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [rows[i] for i in random.Random(0).sample(range(len(rows)), n)]


def correct(predicted: float | None, expected: float) -> bool:
    return predicted is not None and abs(predicted - expected) < 1e-6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=192, help="per model call")
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)

    from llmkit.agents import Agent, Budget
    from llmkit.agents.builtins.calculator import calculator
    from llmkit.config import load_settings
    from llmkit.registry import load_chat_model
    from llmkit.types import GenerationParams, Message

    model = load_chat_model(load_settings(None, model={"name": args.model, "base_url": args.base_url}))
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.0, seed=0)
    budget = Budget(max_steps=args.max_steps, max_seconds=args.max_seconds)
    problems = sample(args.n)
    print(f"model {model.name} · n={len(problems)} · max_tokens {args.max_tokens}/call · temperature 0")
    plain = {"ok": 0, "tokens": [], "seconds": []}
    tooled = {"ok": 0, "tokens": [], "seconds": [], "calls": 0, "rejected": 0, "stops": {}}
    for p in problems:
        expected = gold(p["answer"])
        start = time.perf_counter()
        reply = model.chat([Message.system(PLAIN), Message.user(p["question"])], params)
        plain["seconds"].append(time.perf_counter() - start)
        plain["tokens"].append(reply.usage.total_tokens or 0)
        plain["ok"] += correct(final_number(reply.text), expected)

        ok_before = tooled["ok"]
        agent = Agent(model, [calculator()], system=TOOLED, budget=budget, params=params)
        result = agent.run(p["question"])
        tooled["seconds"].append(result.seconds)
        tooled["tokens"].append(result.usage.total_tokens or 0)
        tooled["ok"] += correct(final_number(result.answer), expected)
        tool_steps = [s for s in result.steps if s.kind == "tool"]
        tooled["calls"] += len(tool_steps)
        tooled["rejected"] += sum(1 for s in tool_steps if s.result is not None and s.result.is_error)
        tooled["stops"][result.stop_reason] = tooled["stops"].get(result.stop_reason, 0) + 1
        mark = (
            f"{'+' if correct(final_number(reply.text), expected) else '.'}{'+' if tooled['ok'] > ok_before else '.'}"
        )
        print(mark, end=" ", file=sys.stderr, flush=True)  # plain, with calculator
    print()
    n = len(problems)
    print(f"{'mode':<18} {'accuracy':>9} {'tokens/q':>9} {'s/q':>7}")
    for name, r in (("without tools", plain), ("with calculator", tooled)):
        tokens, seconds = statistics.mean(r["tokens"]), statistics.median(r["seconds"])
        print(f"{name:<18} {r['ok'] / n:>9.3f} {tokens:>9.0f} {seconds:>7.2f}")
    calls = tooled["calls"]
    print(f"calculator calls/problem {calls / n:.2f} · rejected {tooled['rejected']}/{calls} · stops {tooled['stops']}")


if __name__ == "__main__":
    sys.exit(main())

"""Harness overhead beyond model calls: a suite run with ``FakeChatModel`` standing in for the model.

The fake model sleeps ``--model-ms`` per call (the real SmolLM2-135M took ~1–2 s per RAG answer on this
machine, so 50 ms is a conservative stand-in). Overhead = run time − time inside model calls: prompt
rendering, metrics (EM, F1, ROUGE-L, BLEU), the cache look-up and write, bootstrap CIs over every
metric, and saving the run to SQLite. Also printed with a 0 ms model, as milliseconds per item.

    .venv/bin/python bench/eval_overhead.py [--items 300] [--model-ms 50]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1"


def run_once(items, model_ms: float, cache: bool) -> dict[str, float]:
    from llmkit.evals.runner import Runner
    from llmkit.evals.store import EvalStore
    from llmkit.evals.suite import suite_from_dict
    from llmkit.prompts import builtin
    from llmkit.testing import FakeChatModel

    suite = suite_from_dict({
        "name": "overhead", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"},
        "metrics": ["exact_match", "f1", "rouge_l", "bleu"], "cache": cache,
    })  # fmt: skip
    model = FakeChatModel(["Denver Broncos"], delay_s=model_ms / 1000, window=8192)
    with tempfile.TemporaryDirectory() as tmp:
        store = EvalStore(Path(tmp) / "evals.db")
        stats = Runner(suite, store, model=model, prompt=builtin("qa-short"), items=items).run().run.stats
        store.close()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--model-ms", type=float, default=50.0)
    args = parser.parse_args()

    from llmkit.evals.dataset import load_squad

    items = load_squad(SQUAD, limit=args.items)
    run_once(items[:20], 0, True)  # warm up imports (sacrebleu, numpy, jinja2)
    print(f"{len(items)} SQuAD items, generate pipeline, metrics EM/F1/ROUGE-L/BLEU, bootstrap 2000 resamples")
    print(f"{'model ms':>8} {'cache':>5} {'run s':>7} {'model s':>8} {'overhead s':>10} {'ms/item':>8} {'share':>7}")
    for model_ms, cache in ((args.model_ms, True), (args.model_ms, False), (0.0, True)):
        st = run_once(items, model_ms, cache)
        over = st["seconds"] - st["model_seconds"]
        print(
            f"{model_ms:8.0f} {cache!s:>5} {st['seconds']:7.2f} {st['model_seconds']:8.2f} {over:10.3f} "
            f"{over / len(items) * 1000:8.2f} {over / st['seconds']:7.1%}"
        )


if __name__ == "__main__":
    main()

"""Prompt optimisation before/after on a dev split: ``qa-short`` (answer from one passage) on SQuAD.

Train and dev questions come from different articles (train: the first articles, dev: the last), and
only passages under ``--max-context`` characters are used so that each call stays short on 2 cores.
After the search, baseline and best version are both scored on dev through the eval harness (their
replies come from the optimiser's cache), with bootstrap CIs and a paired bootstrap test.

    .venv/bin/python bench/optimize_prompt.py [--train 8] [--dev 12] [--budget 60] [--k 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1"
CACHE = ROOT / "bench" / ".cache" / "optimize"


def split(max_context: int, n_train: int, n_dev: int):
    from llmkit.evals.dataset import load_squad

    items = [i for i in load_squad(SQUAD) if len(i.contexts[0]) <= max_context]
    titles = list(dict.fromkeys(i.metadata["title"] for i in items))
    dev_titles = set(titles[len(titles) // 2 :])
    train = [i for i in items if i.metadata["title"] not in dev_titles][::7][:n_train]
    dev = [i for i in items if i.metadata["title"] in dev_titles][::7][:n_dev]
    return train, dev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=8)
    parser.add_argument("--dev", type=int, default=12)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--sets", type=int, default=2)
    parser.add_argument("--max-context", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    args = parser.parse_args()

    import llmkit
    from llmkit.evals.cache import CachedModel
    from llmkit.evals.compare import compare_runs
    from llmkit.evals.metrics import token_f1
    from llmkit.evals.runner import Runner, item_values
    from llmkit.evals.store import EvalStore
    from llmkit.evals.suite import suite_from_dict
    from llmkit.prompts.optimize import Task, optimize

    CACHE.mkdir(parents=True, exist_ok=True)
    kit = llmkit.open(CACHE, model={"threads": args.threads} if args.threads else None)
    store = EvalStore(kit.settings.data_dir / "evals.db")
    train, dev = split(args.max_context, args.train, args.dev)
    prompt = kit.prompts.get("qa-short")
    model = CachedModel(kit.model, store)
    result = optimize(
        prompt, model, [Task(item_values(i), i.references) for i in train],
        [Task(item_values(i), i.references) for i in dev], token_f1, budget=args.budget, k=args.k, sets=args.sets,
    )  # fmt: skip
    model.flush()
    print(f"{len(train)} train / {len(dev)} dev questions (different articles); budget {args.budget} calls, "
          f"used {result.calls} ({model.calls} made, {model.hits} cached)")  # fmt: skip
    for t in result.trials:
        print(f"  candidate: {len(t.examples)} examples, instruction {t.instruction[:60]!r}: dev F1 {t.score:.4f}")
    best = result.prompt or prompt
    if result.prompt:
        kit.prompts.save(result.prompt)
        kit.prompts.label(result.prompt.ref, "optimized")
    suite = suite_from_dict({"name": "qa-short-dev", "dataset": {"path": "x"}, "pipeline": {"kind": "generate"},
                             "metrics": ["f1", "exact_match"]})  # fmt: skip
    runs = [Runner(suite, store, model=kit.model, prompt=p, items=dev).run() for p in (prompt, best)]
    for label, r in zip(("before", "after"), runs, strict=True):
        s, calls = r.run.summary, int(r.run.stats["calls"])
        f1 = f"{s['f1']['mean']:.4f} [{s['f1']['low']:.4f}, {s['f1']['high']:.4f}]"
        print(f"{label:6} {r.run.prompts['pipeline']}: dev F1 {f1} EM {s['exact_match']['mean']:.4f} ({calls} calls)")
    for c in compare_runs(runs[0].run, runs[0].rows, runs[1].run, runs[1].rows):
        print(f"  {c.metric}: delta {c.delta:+.4f} [{c.low:+.4f}, {c.high:+.4f}] p={c.p_value:.3g}")
    kit.close()


if __name__ == "__main__":
    main()

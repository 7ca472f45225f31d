"""What batching can give on this CPU: the per-token cost of one llama.cpp decode step of 1, 4 and 16 tokens.

Batched serving runs one step for all active requests, so a step of n tokens that costs less than n
lone steps is the whole of its gain: at concurrency 4 the throughput over a one-request-at-a-time server
is at most (cost of a lone token) / (per-token cost of a 4-token step). The quantisation type decides
how well llama.cpp's CPU kernels batch, so the shipped GGUF is compared with copies re-quantised from it
(``--requant``; llama.cpp's quantiser, ``allow_requantize``), with each copy's perplexity on held-back
Alpaca rows (850-899) against the shipped file's.

    .venv/bin/python bench/decode_batch.py                          # SmolLM2 Q4_1 vs Q4_0 and Q8_0 copies
    .venv/bin/python bench/decode_batch.py --requant Q4_K_M --threads 1

Steps are timed after a 32-token prefix, the models interleaved round by round so load hits all alike;
medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "alpaca-1k" / "alpaca_data_1k.jsonl"
WIDTHS = (1, 4, 16)
TEXT = b"The quick brown fox jumps over the lazy dog and then runs into the forest to find some food. " * 2


def step_times(models: dict[str, Path], threads: int, rounds: int) -> dict[str, dict[int, float]]:
    """Median ms of one decode step of each width, per model."""
    from llama_cpp import Llama

    llms = {k: Llama(str(p), n_ctx=512, n_batch=64, n_threads=threads, n_threads_batch=threads, verbose=False)
            for k, p in models.items()}  # fmt: skip
    tokens = next(iter(llms.values())).tokenize(TEXT)
    times: dict[str, dict[int, list[float]]] = {k: {n: [] for n in WIDTHS} for k in llms}
    for _ in range(rounds):
        for name, llm in llms.items():
            for n in WIDTHS:
                llm.reset()
                llm.eval(tokens[:32])
                t = time.perf_counter()
                llm.eval(tokens[32 : 32 + n])
                times[name][n].append((time.perf_counter() - t) * 1000)
    return {k: {n: statistics.median(v) for n, v in by.items()} for k, by in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a .gguf path (default: smollm2-135m-instruct from the catalog)")
    ap.add_argument("--requant", nargs="*", default=["Q4_0", "Q8_0"], help="levels to re-quantise the model to")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--held", type=int, default=50, help="Alpaca rows from 850 for perplexity (0: skip)")
    args = ap.parse_args()
    from llmkit.config import load_settings
    from llmkit.finetune.perplexity import gguf_perplexity
    from llmkit.finetune.quantize import quantize
    from llmkit.models.catalog import Catalog

    src = Path(args.model) if args.model else Catalog(load_settings().models_dir).path("smollm2-135m-instruct")
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")][850 : 850 + args.held]
    held = [f"{r['instruction']}\n{r.get('input', '')}\n{r['output']}".replace("\n\n", "\n") for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        models = {"shipped": src} | {
            lv: quantize(src, out / f"{lv}.gguf", lv, allow_requantize=True) for lv in args.requant
        }
        steps = step_times(models, args.threads, args.rounds)
        ppl = {k: gguf_perplexity(p, held, threads=args.threads) for k, p in models.items()} if held else {}
    print(f"{src.name}, {args.threads} threads, median of {args.rounds}: ms a token in a step of n tokens")
    print(f"{'model':10} " + " ".join(f"{'n=' + str(n):>8}" for n in WIDTHS) + f" {'best gain':>10} {'ppl':>8}")
    for name, by in steps.items():
        gain = by[1] / (by[WIDTHS[-1]] / WIDTHS[-1])
        rel = f"{(ppl[name] / ppl['shipped'] - 1) * 100:+.1f}%" if ppl else "-"
        print(f"{name:10} " + " ".join(f"{by[n] / n:8.2f}" for n in WIDTHS) + f" {gain:9.2f}x {rel:>8}")


if __name__ == "__main__":
    main()

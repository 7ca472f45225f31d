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
medians are printed. A second table steps n *sequences* one token each (the step batched serving runs),
with the ceiling it puts on what batching can gain at concurrency n.
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


def sequence_step_times(models: dict[str, Path], threads: int, rounds: int) -> dict[str, dict[int, float]]:
    """Median ms of one decode step that gives one token to each of n sequences, logits for every one.

    This is the step batched serving runs (``llama_batch``'s context settings: a KV cache split per
    sequence, flash attention off), each sequence 64 tokens in; ``n x step(1) / step(n)`` is the most
    throughput that batching n concurrent requests can add over serving them one at a time.
    """
    import llama_cpp
    from llama_cpp import _internals

    out: dict[str, dict[int, float]] = {}
    widest = max(WIDTHS)
    times: dict[str, dict[int, list[float]]] = {k: {n: [] for n in WIDTHS} for k in models}
    ctxs = {}
    for name, path in models.items():
        params = llama_cpp.llama_model_default_params()
        model = _internals.LlamaModel(path_model=str(path), params=params, verbose=False)
        p = llama_cpp.llama_context_default_params()
        p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max, p.kv_unified = 256 * widest, 512, 512, widest, False
        p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        p.n_threads = p.n_threads_batch = threads
        ctxs[name] = (model, llama_cpp.llama_init_from_model(model.model, p))
    tokens = next(iter(ctxs.values()))[0].tokenize(TEXT, True, False)
    batch = llama_cpp.llama_batch_init(512, 0, 1)

    def put(i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
        batch.seq_id[i][0] = seq

    for _ in range(rounds):
        for name, (_, ctx) in ctxs.items():
            for n in WIDTHS:
                llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
                for seq in range(n):  # a 32-token prefix per sequence, then two steps; the second is timed
                    for i in range(32):
                        put(i, tokens[i], i, seq, False)
                    batch.n_tokens = 32
                    llama_cpp.llama_decode(ctx, batch)
                for step in range(2):
                    for seq in range(n):
                        put(seq, tokens[32 + step], 32 + step, seq, True)
                    batch.n_tokens = n
                    t = time.perf_counter()
                    llama_cpp.llama_decode(ctx, batch)
                    elapsed = (time.perf_counter() - t) * 1000
                times[name][n].append(elapsed)
    llama_cpp.llama_batch_free(batch)
    for name, (_, ctx) in ctxs.items():
        llama_cpp.llama_free(ctx)
        out[name] = {n: statistics.median(v) for n, v in times[name].items()}
    return out


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
        seqs = sequence_step_times(models, args.threads, args.rounds)
        ppl = {k: gguf_perplexity(p, held, threads=args.threads) for k, p in models.items()} if held else {}
    print(f"{src.name}, {args.threads} threads, median of {args.rounds}: ms a token in a step of n tokens")
    print(f"{'model':10} " + " ".join(f"{'n=' + str(n):>8}" for n in WIDTHS) + f" {'best gain':>10} {'ppl':>8}")
    for name, by in steps.items():
        gain = by[1] / (by[WIDTHS[-1]] / WIDTHS[-1])
        rel = f"{(ppl[name] / ppl['shipped'] - 1) * 100:+.1f}%" if ppl else "-"
        print(f"{name:10} " + " ".join(f"{by[n] / n:8.2f}" for n in WIDTHS) + f" {gain:9.2f}x {rel:>8}")
    print("\nn sequences, one token each, logits for all (what batched serving steps): ms a step; most")
    print("throughput batching can add at concurrency n over one request at a time = n x step(1) / step(n)")
    print(
        f"{'model':10} "
        + " ".join(f"{'n=' + str(n):>8}" for n in WIDTHS)
        + "  "
        + " ".join(f"{'max x' + str(n):>8}" for n in WIDTHS[1:])
    )
    for name, by in seqs.items():
        print(
            f"{name:10} "
            + " ".join(f"{by[n]:8.1f}" for n in WIDTHS)
            + "  "
            + " ".join(f"{n * by[1] / by[n]:8.2f}" for n in WIDTHS[1:])
        )


if __name__ == "__main__":
    main()

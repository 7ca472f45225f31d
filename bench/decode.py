"""Decode speed: ``LlamaCppModel`` (every llama.cpp call on its own worker thread) vs raw ``llama_cpp.Llama``
called from the main thread, same GGUF, same rendered prompt, greedy (temperature 0), 128 new tokens.

    .venv/bin/python bench/decode.py                       # SmolLM2 from the catalog, 5 rounds
    .venv/bin/python bench/decode.py --rounds 9 --threads 2
    .venv/bin/python bench/decode.py --model path/to/model.gguf

Rounds alternate raw (main thread) / raw (a second thread) / llmkit stream / llmkit chat, so
background load hits all alike; medians are printed. Decode tokens/s = (tokens - 1) / (time from the
first token to the last), so prompt processing is left out; "end-to-end" is tokens / wall time of the
whole call (prompt included). Every call evaluates the prompt afresh, as LlamaCppModel does at
temperature 0. Goal: llmkit ≥ 0.97× raw.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROMPT = "Write a long story about a dragon who learns to cook. Describe every dish in detail."
N_TOKENS = 128


def raw_round(llm: object, prompt_tokens: list[int]) -> tuple[float, float, int]:
    """(decode tok/s, end-to-end tok/s, tokens) for one greedy generation with llama_cpp on the calling thread."""
    import llama_cpp

    t0 = time.perf_counter()
    first = last = t0
    n = 0
    llm.reset()  # like LlamaCppModel at temperature 0: the prompt is evaluated afresh each call
    gen = llm.generate(prompt_tokens, temp=0.0, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.0)
    for token in gen:
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
        llm.detokenize([token])
        n += 1
        last = time.perf_counter()
        if n == 1:
            first = last
        if n >= N_TOKENS:
            break
    gen.close()
    return (n - 1) / (last - first), n / (last - t0), n


def llmkit_stream_round(model: object, messages: list, params: object) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    first = last = t0
    usage = None
    for chunk in model.stream(messages, params):
        if chunk.usage is not None:
            usage = chunk.usage
            break
        last = time.perf_counter()
        if first == t0:
            first = last
    n = usage.completion_tokens
    # text chunks ≈ tokens; the first chunk arrives with the first token
    return (n - 1) / (last - first), n / (last - t0), n


def llmkit_chat_round(model: object, messages: list, params: object) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    r = model.chat(messages, params)
    return float("nan"), r.usage.completion_tokens / (time.perf_counter() - t0), r.usage.completion_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a .gguf path (default: smollm2-135m-instruct from the catalog)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    import llama_cpp

    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog
    from llmkit.models.llama_cpp import LlamaCppModel
    from llmkit.types import GenerationParams, Message

    path = Path(args.model) if args.model else Catalog(load_settings().models_dir).path("smollm2-135m-instruct")
    messages = [Message.user(PROMPT)]
    params = GenerationParams(max_tokens=N_TOKENS, temperature=0.0)

    model = LlamaCppModel(path, threads=args.threads, context_window=2048)
    prompt_tokens = model._call(lambda: model._render(messages))  # the same rendered prompt for both sides

    def load_raw() -> object:
        return llama_cpp.Llama(
            str(path), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads, verbose=False
        )

    raw = load_raw()
    other = ThreadPoolExecutor(max_workers=1)  # raw llama_cpp loaded and called on a second thread, for reference
    raw_other = other.submit(load_raw).result()
    variants: dict[str, Callable[[], tuple[float, float, int]]] = {
        "raw llama_cpp, main": lambda: raw_round(raw, prompt_tokens),
        "raw llama_cpp, 2nd thread": lambda: other.submit(raw_round, raw_other, prompt_tokens).result(),
        "llmkit stream()": lambda: llmkit_stream_round(model, messages, params),
        "llmkit chat()": lambda: llmkit_chat_round(model, messages, params),
    }
    print(f"model {path.name}, threads {args.threads}, prompt {len(prompt_tokens)} tokens, {args.rounds} rounds")
    results: dict[str, list[tuple[float, float, int]]] = {k: [] for k in variants}
    for run in variants.values():  # warm-up
        run()
    for _ in range(args.rounds):
        for name, run in variants.items():
            results[name].append(run())

    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), v[0][2]) for k, v in results.items()
    }
    print(f"{'':28}{'decode tok/s':>14}{'end-to-end tok/s':>18}{'tokens':>8}")
    for name, (decode, e2e, n) in med.items():
        shown = "-" if math.isnan(decode) else f"{decode:.1f}"
        print(f"{name:28}{shown:>14}{e2e:18.1f}{n:8d}")
    base = med["raw llama_cpp, main"]
    stream, chat = med["llmkit stream()"], med["llmkit chat()"]
    print(f"ratio llmkit/raw: decode (stream) {stream[0] / base[0]:.3f}, end-to-end stream {stream[1] / base[1]:.3f}")
    print(f"ratio llmkit/raw: end-to-end chat {chat[1] / base[1]:.3f}")
    model.close()
    other.shutdown()


if __name__ == "__main__":
    main()

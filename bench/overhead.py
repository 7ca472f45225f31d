"""llmkit's own per-query overhead: retrieve → prompt → generate, next to plain Python doing the same.

Both sides see the same 5,000 short synthetic documents with fixed 384-d vectors, a constant-time
embedder (one precomputed normalised query vector) and ``FakeChatModel`` with a fixed reply, so what
is left is the framework's own work: store search, fusion, Hit/Explanation objects, prompt rendering
and token budgeting, citations. The plain-Python baseline is a numpy dot product over the same
5,000×384 matrix, ``argpartition`` top-k, an f-string prompt and the same fake model call.

    .venv/bin/python bench/overhead.py                 # 5,000 docs, 2,000 timed queries each
    .venv/bin/python bench/overhead.py --docs 20000 --queries 500

Uses ``llmkit.rag.RagPipeline`` for prompt and generation when it can be imported, else a minimal
prompt function (the output says which). Reference numbers measured elsewhere on this task: plain
Python ~0.21 ms, LangChain 1.7 ms, LlamaIndex 1.8 ms a query. Target for llmkit: p50 ≤ 0.4 ms.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from llmkit.config import RetrievalSettings
from llmkit.retrieve import Retriever
from llmkit.store.base import DocumentWrite
from llmkit.testing import FakeChatModel
from llmkit.types import Chunk, Message, Ranked

DIM = 384
COLLECTION = "bench"
REPLY = "The answer is in the first passage [1]."
_SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "go", "hu", "ze", "fi", "ra", "no")


class ConstantEmbedder:
    """An ``Embedder`` that returns one precomputed vector for any text: constant time, no model."""

    name = "constant-384"
    dim = DIM
    max_tokens = 256

    def __init__(self, vector: np.ndarray) -> None:
        self._one = vector.reshape(1, -1).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._one if len(texts) == 1 else np.repeat(self._one, len(texts), axis=0)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def make_corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` short sentences and ``n`` random unit vectors (float32, DIM wide).

    Words come from a 4,096-word made-up vocabulary drawn with Zipf-like frequencies, so a few words
    are in most sentences and most words in few, as in real text (BM25's work depends on it).
    """
    rng = np.random.default_rng(seed)
    vocab = np.array([a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES])
    freq = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(vocab, size=(n, 16), p=freq / freq.sum())
    lengths = rng.integers(8, 17, size=n)
    texts = [" ".join(row[:length]).capitalize() + "." for row, length in zip(words, lengths, strict=True)]
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    return texts, vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def build_store(path: Path, texts: list[str], vecs: np.ndarray):  # -> SQLiteStore
    from llmkit.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    store.create_collection(COLLECTION, embedder=ConstantEmbedder.name, dim=DIM)
    batch = []
    for i, text in enumerate(texts):
        chunk = Chunk(f"d{i}:0", f"d{i}", f"doc{i}.txt", text, 0, 0, len(text))
        batch.append(DocumentWrite(f"d{i}", f"doc{i}.txt", f"h{i}", "text/plain", [chunk], vecs[i : i + 1]))
    for start in range(0, len(batch), 1000):
        store.write(COLLECTION, batch[start : start + 1000])
    return store


class ReplayStore:
    """Replays results captured from a real store at no cost: what is left is the caller's own work."""

    def __init__(self, store: object, vector: np.ndarray, query: str, pool: int) -> None:
        self.dense = store.search_dense(COLLECTION, vector, pool)
        self.lexical = store.search_lexical(COLLECTION, query, pool)
        ids = list(dict.fromkeys(sc.chunk.id for sc in self.dense + self.lexical))
        self.vectors = dict(zip(ids, store.get_vectors(COLLECTION, ids), strict=True))
        self.chunks = {sc.chunk.id: sc.chunk for sc in self.dense + self.lexical}
        self.ranked = {side: [Ranked(sc.chunk.id, sc.score) for sc in found] for side, found in
                       (("dense", self.dense), ("lexical", self.lexical))}  # fmt: skip

    def search_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: object = None) -> list:
        return self.dense[:k]

    def search_lexical(self, collection: str, query: str, k: int, *, filter: object = None) -> list:
        return self.lexical[:k]

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: object = None) -> list:
        return self.ranked["dense"][:k]

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: object = None) -> list:
        return self.ranked["lexical"][:k]

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list:
        return [self.chunks[i] for i in ids]

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[i] for i in ids])


def plain_python(texts: list[str], matrix: np.ndarray, embed: ConstantEmbedder, k: int) -> Callable[[str], str]:
    model = FakeChatModel([REPLY])

    def ask(question: str) -> str:
        q = embed.embed([question])[0]
        scores = matrix @ q
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        context = "\n\n".join(f"[{n}] doc{i}.txt\n{texts[i]}" for n, i in enumerate(top, 1))
        prompt = f"Answer from the passages and cite them as [n].\n\n{context}\n\nQuestion: {question}"
        return model.chat([Message.user(prompt)]).text

    return ask


def llmkit_pipeline(retriever: Retriever, k: int, traces: Path | None = None) -> tuple[Callable[[str], str], str]:
    model = FakeChatModel([REPLY])
    if traces is not None:  # every call recorded in a SQLite trace store, as Kit does with traces on
        from llmkit.observe.traces import TracedModel, TraceStore

        model = TracedModel(model, TraceStore(traces))
    try:
        from llmkit.rag import RagPipeline
    except ImportError:
        return _fallback_pipeline(retriever, model, k), "Retriever.search + minimal prompt (llmkit.rag not importable)"
    pipe = RagPipeline(retriever, model)

    def ask(question: str) -> str:
        answer = pipe.ask(COLLECTION, question, k=k)
        assert answer.found, "the bench query must be relevant, or the model is never called"
        return answer.text

    return ask, "llmkit.rag.RagPipeline.ask"


def _fallback_pipeline(retriever: Retriever, model: FakeChatModel, k: int) -> Callable[[str], str]:
    def ask(question: str) -> str:
        hits = retriever.search(COLLECTION, question, k=k, explain=True)
        context = "\n\n".join(f"[{n}] {h.chunk.source}\n{h.chunk.text}" for n, h in enumerate(hits, 1))
        prompt = f"Answer from the passages and cite them as [n].\n\n{context}\n\nQuestion: {question}"
        return model.chat([Message.user(prompt)]).text

    return ask


def measure(fns: dict[str, Callable[[], object]], n: int, warmup: int) -> dict[str, np.ndarray]:
    """Seconds per call for each of ``fns``, interleaved so that machine noise hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: np.empty(n) for name in fns}
    gc.collect()
    for i in range(n):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name][i] = time.perf_counter() - t
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=2000, help="timed calls per variant")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()

    texts, vecs = make_corpus(args.docs)
    target = 17  # the query is close to document 17, so retrieval finds something relevant
    rng = np.random.default_rng(1)
    q = vecs[target] + 0.3 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
    embed = ConstantEmbedder(q / np.linalg.norm(q))
    question = f"What does it say about {' '.join(texts[target].split()[:4]).lower()}?"

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        store = build_store(Path(tmp) / "store.db", texts, vecs)
        print(f"corpus: {args.docs:,} docs x {DIM} dims, SQLite store built in {time.perf_counter() - t:.1f} s")
        settings = RetrievalSettings(k=args.k)
        dense = Retriever(store, embed, settings.model_copy(update={"mode": "dense"}))
        hybrid = Retriever(store, embed, settings)
        replay = ReplayStore(store, embed.embed([question])[0], question, max(args.k, settings.candidates))
        replay_dense = Retriever(replay, embed, settings.model_copy(update={"mode": "dense"}))
        replay_hybrid = Retriever(replay, embed, settings)
        baseline = plain_python(texts, vecs, embed, args.k)
        ask_dense, how = llmkit_pipeline(dense, args.k)
        ask_hybrid, _ = llmkit_pipeline(hybrid, args.k)
        ask_replay, _ = llmkit_pipeline(replay_dense, args.k)
        ask_traced, _ = llmkit_pipeline(dense, args.k, traces=Path(tmp) / "traces.db")
        qv = embed.embed([question])[0]
        assert baseline(question) == ask_dense(question) == ask_replay(question) == REPLY
        assert dense.search(COLLECTION, question, k=1)[0].chunk.id == f"d{target}:0"
        fns: dict[str, Callable[[], object]] = {
            "plain python (numpy + f-string + fake model)": lambda: baseline(question),
            f"llmkit dense: {how}": lambda: ask_dense(question),
            f"llmkit hybrid: {how}": lambda: ask_hybrid(question),
            "llmkit dense, traced (TracedModel -> SQLite)": lambda: ask_traced(question),
            "parts: SQLiteStore.search_dense": lambda: store.search_dense(COLLECTION, qv, args.k),
            "parts: Retriever.search dense, explain": lambda: dense.search(COLLECTION, question, explain=True),
            "parts: Retriever.search hybrid, explain": lambda: hybrid.search(COLLECTION, question, explain=True),
            "own cost (replay store): Retriever dense, explain": lambda: replay_dense.search(
                COLLECTION, question, explain=True
            ),
            "own cost (replay store): Retriever hybrid, explain": lambda: replay_hybrid.search(
                COLLECTION, question, explain=True
            ),
            f"own cost (replay store): {how.split(' ')[0]} dense": lambda: ask_replay(question),
        }
        times = measure(fns, args.queries, args.warmup)
        # the two alone, still interleaved: with all the variants above, each evicts the others' data
        # from the cache between calls, which a process serving one pipeline does not see
        pair = measure({k: fns[k] for k in list(fns)[:2]}, args.queries, args.warmup)
        store.close()

    print(f"{args.queries:,} timed queries each (after {args.warmup} warm-up), k={args.k}; times in ms\n")
    print(f"{'variant':60} {'p50':>8} {'p95':>8}")
    p50 = {}
    for name, ts in times.items():
        p50[name] = np.percentile(ts, 50) * 1e3
        print(f"{name:60} {p50[name]:8.3f} {np.percentile(ts, 95) * 1e3:8.3f}")
    names = list(times)
    overhead = p50[names[1]] - p50[names[0]]
    print(f"\nllmkit's overhead: dense end-to-end minus plain python (p50): {overhead:+.3f} ms (target <= 0.4 ms)")
    print(f"llmkit dense end-to-end p50 {p50[names[1]]:.3f} ms")
    alone = {name: np.percentile(ts, 50) * 1e3 for name, ts in pair.items()}
    print(
        f"the two alone, interleaved: plain {alone[names[0]]:.3f} ms, llmkit {alone[names[1]]:.3f} ms,"
        f" overhead {alone[names[1]] - alone[names[0]]:+.3f} ms"
    )


if __name__ == "__main__":
    main()

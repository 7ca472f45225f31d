"""The ``Retriever``: dense, lexical or hybrid search over a ``Store``, with fusion, MMR and explain.

    hits = Retriever(store, embedder, RetrievalSettings()).search("docs", "how do I install?", explain=True)
    hits[0].chunk.text, hits[0].score, hits[0].explain.dense_score

Modes: ``dense`` embeds the query and asks ``store.search_dense``; ``lexical`` asks
``store.search_lexical`` (BM25); ``hybrid`` takes ``candidates`` from each side and fuses them with
weighted reciprocal rank fusion. The sides of a hybrid query are ranked without their chunks
(``store.rank_dense`` and ``rank_lexical``) and only the fused winners' chunks are read: 100 chunk
rows fewer a query with 50 candidates a side. ``Hit.score`` is the raw store score in a single mode
and the fused RRF score in hybrid mode. With MMR the hits are re-ordered for diversity and
``Hit.score`` keeps the relevance score; ``explain.mmr_rank`` is the position MMR gave.

In hybrid mode with ``explain=True`` every hit carries its dense cosine (``explain.dense_score``),
computed from the stored vector when the dense side did not return it (then ``dense_rank`` is
``None``): this is the relevance signal the RAG layer uses to decide that nothing was found.

Later stages (``search(queries=..., rerank=...)``, ``llmkit.retrieve.stages``): other phrasings of the
query (multi-query rewriting, ``llmkit.retrieve.rewrite``) are searched too and the lists fused by RRF;
a reranker (``[retrieval] rerank``, ``llmkit.rerank``) re-scores the best ``rerank_top`` candidates;
their hits carry a ``StagedExplanation`` (``rerank_score``, ``queries``).

The Retriever keeps no per-query state, so one instance can serve many threads (as far as the store
and embedder it wraps allow).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Literal, NamedTuple

from llmkit.errors import InputError, NotFound
from llmkit.retrieve.fusion import mmr as mmr_order
from llmkit.retrieve.fusion import normalize, weighted_rrf
from llmkit.retrieve.stages import fuse_queries, rerank_hits, staged
from llmkit.types import Chunk, Explanation, Hit, Ranked, ScoredChunk

if TYPE_CHECKING:
    import numpy as np

    from llmkit.config import RetrievalSettings
    from llmkit.embeddings.base import Embedder
    from llmkit.rerank.base import Reranker
    from llmkit.store.base import Filter, Store

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")
MAX_K = 10_000
_POOL_LOCK = threading.Lock()
_VECTOR_TRIES = 3  # reads of candidates' vectors while their documents are being re-written


class _Plan(NamedTuple):
    """One call's resolved options."""

    k: int
    mode: str
    pool: int  # hits asked of each side
    mmr_lambda: float | None  # None: no MMR


class Retriever:
    """Search one store's collections with one embedder; options default to ``settings``."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: RetrievalSettings | None = None,
        *,
        reranker: Reranker | None = None,
    ) -> None:
        """``reranker``: the stage after fusion; default: the one ``settings.rerank`` names, where it needs no
        chat model (``llmkit.open()`` passes the project's for ``rerank = "llm"``)."""
        self.store = store
        self.embedder = embedder
        if settings is None:
            from llmkit.config import RetrievalSettings

            settings = RetrievalSettings()
        self.settings = settings
        if reranker is None and settings.rerank not in ("none", "llm"):  # "llm" needs the chat model: Kit gives it
            from llmkit.rerank.base import load_reranker

            reranker = load_reranker(settings.rerank, embedder=lambda: embedder)
        self.reranker = reranker
        self._executor: ThreadPoolExecutor | None = None

    def search(
        self,
        collection: str,
        query: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        filter: Filter | None = None,
        explain: bool = False,
        mmr: bool | None = None,
        mmr_lambda: float | None = None,
        queries: Sequence[str] = (),
        rerank: bool | None = None,
    ) -> list[Hit]:
        """The best ``k`` hits for ``query``, best first. Empty query: InputError; bad filter: the store's.

        ``queries``: other phrasings of ``query`` (multi-query rewriting), each searched, the lists fused
        by RRF. ``rerank``: False skips the reranker, True requires one. With a reranker the best
        ``rerank_top`` fused candidates are re-scored against ``query`` and ``Hit.score`` is its score;
        MMR, when on, then diversifies the reranked list.
        """
        text = clean_query(query)
        plan = self._plan(k, mode, mmr, mmr_lambda)
        if rerank and self.reranker is None:
            raise InputError("no reranker is configured", hint='set [retrieval] rerank, e.g. "embedding"')
        reranker = self.reranker if rerank is not False else None
        extra = [q for q in dict.fromkeys(clean_query(q) for q in queries) if q != text]
        if reranker is None and not extra:
            return self._search(collection, text, plan, filter, explain)
        # as many as the reranker re-scores, and as many as MMR would choose from
        most = max(plan.k, self.settings.rerank_top if reranker else 0, plan.pool if plan.mmr_lambda is not None else 0)
        wide = self._plan(most, plan.mode, False, None)
        if extra:
            texts = [text, *extra]
            vecs = None if wide.mode == "lexical" else self.embedder.embed(texts)
            lists = [
                self._run(collection, t, None if vecs is None else vecs[i], wide, filter, explain)
                for i, t in enumerate(texts)
            ]
            hits = fuse_queries(texts, lists, wide.k, self.settings.rrf_k)
        else:
            hits = self._search(collection, text, wide, filter, explain)
        if reranker is not None and hits:
            hits = rerank_hits(hits, reranker.score(text, [h.chunk.text for h in hits]))
        if plan.mmr_lambda is not None:
            return self._diversify(collection, hits, plan, explain)
        return hits[: plan.k]

    def _search(self, collection: str, text: str, plan: _Plan, filter: Filter | None, explain: bool) -> list[Hit]:
        """One query's hits by ``plan`` (fusion and MMR included), before any later stage."""
        if plan.mode == "hybrid":  # BM25 runs beside the query's embedding (onnxruntime releases the GIL)
            lexical = self._pool().submit(self.store.rank_lexical, collection, text, plan.pool, filter=filter)
            try:
                vec = self.embedder.embed([text])[0]
                dense = self.store.rank_dense(collection, vec, plan.pool, filter=filter)
            finally:
                wait([lexical])  # never leave a query running behind an error
            return self._hybrid(collection, vec, lexical.result(), dense, plan, explain)
        vec = None if plan.mode == "lexical" else self.embedder.embed([text])[0]
        return self._run(collection, text, vec, plan, filter, explain)

    def search_many(
        self,
        collection: str,
        queries: Sequence[str],
        *,
        k: int | None = None,
        mode: Mode | None = None,
        filter: Filter | None = None,
        explain: bool = False,
        mmr: bool | None = None,
        mmr_lambda: float | None = None,
    ) -> list[list[Hit]]:
        """``search`` for each query, embedding all of them in one batch (for evals and bulk jobs); without the
        reranker and multi-query phrasings, which work one query at a time."""
        texts = [clean_query(q) for q in queries]
        plan = self._plan(k, mode, mmr, mmr_lambda)
        vecs = None if plan.mode == "lexical" or not texts else self.embedder.embed(texts)
        return [
            self._run(collection, t, None if vecs is None else vecs[i], plan, filter, explain)
            for i, t in enumerate(texts)
        ]

    # ------------------------------------------------------------------ internals

    def _pool(self) -> ThreadPoolExecutor:
        """Threads for the lexical side of hybrid queries, made on first use (shared by all callers)."""
        with _POOL_LOCK:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="llmkit-lexical")
            return self._executor

    def _plan(self, k: int | None, mode: str | None, mmr: bool | None, mmr_lambda: float | None) -> _Plan:
        s = self.settings
        k = s.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InputError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
        mode = mode or s.mode
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}", hint=f"use one of: {', '.join(MODES)}")
        lam = None
        if s.mmr if mmr is None else mmr:
            lam = s.mmr_lambda if mmr_lambda is None else mmr_lambda
            if isinstance(lam, bool) or not isinstance(lam, int | float) or not 0.0 <= lam <= 1.0:
                raise InputError(f"mmr_lambda must be between 0 and 1, got {lam}")
        pool = max(k, s.candidates) if (lam is not None or mode == "hybrid") else k
        return _Plan(k, mode, pool, lam)

    def _run(
        self, collection: str, text: str, vec: np.ndarray | None, plan: _Plan, filter: Filter | None, explain: bool
    ) -> list[Hit]:
        if plan.mode == "dense":
            found = self.store.search_dense(collection, vec, plan.pool, filter=filter)
            return self._single(collection, found, "dense", plan, explain)
        if plan.mode == "lexical":
            found = self.store.search_lexical(collection, text, plan.pool, filter=filter)
            return self._single(collection, found, "lexical", plan, explain)
        lexical = self.store.rank_lexical(collection, text, plan.pool, filter=filter)
        dense = self.store.rank_dense(collection, vec, plan.pool, filter=filter)
        return self._hybrid(collection, vec, lexical, dense, plan, explain)

    def _single(self, collection: str, found: list[ScoredChunk], side: str, plan: _Plan, explain: bool) -> list[Hit]:
        if plan.mmr_lambda is None:
            order = range(min(plan.k, len(found)))
        else:
            ids, vecs = self._vectors(collection, [sc.chunk.id for sc in found])
            if len(ids) < len(found):  # a chunk deleted since the search is left out, as in the plain path
                present = set(ids)
                found = [sc for sc in found if sc.chunk.id in present]
            scores = [sc.score for sc in found]
            rel = scores if side == "dense" else normalize(scores)
            order = mmr_order(None, vecs, rel, plan.k, plan.mmr_lambda)
        if not explain:
            return [Hit(found[i].chunk, found[i].score) for i in order]
        mmr_on = plan.mmr_lambda is not None
        hits = []
        for pos, i in enumerate(order, 1):
            sc = found[i]
            rank, score = (i + 1, sc.score)
            why = Explanation(
                lexical_rank=rank if side == "lexical" else None,
                lexical_score=score if side == "lexical" else None,
                dense_rank=rank if side == "dense" else None,
                dense_score=score if side == "dense" else None,
                fused_score=score,
                mmr_rank=pos if mmr_on else None,
            )
            hits.append(Hit(sc.chunk, sc.score, why))
        return hits

    def _hybrid(
        self,
        collection: str,
        vec: np.ndarray | None,
        lexical: list[Ranked],
        dense: list[Ranked],
        plan: _Plan,
        explain: bool,
    ) -> list[Hit]:
        s = self.settings
        fused = weighted_rrf(
            {"lexical": [r.id for r in lexical], "dense": [r.id for r in dense]},
            {"lexical": s.lexical_weight, "dense": s.dense_weight},
            k=s.rrf_k,
        )
        cosine: dict[str, float] = {}
        if plan.mmr_lambda is None:
            picked = fused[: plan.k]
        else:
            ids, vecs = self._vectors(collection, [cid for cid, _ in fused])
            if len(ids) < len(fused):  # deleted since they were ranked: not candidates any more
                present = set(ids)
                fused = [(cid, f) for cid, f in fused if cid in present]
            order = mmr_order(None, vecs, normalize([f for _, f in fused]), plan.k, plan.mmr_lambda)
            picked = [fused[i] for i in order]
            if vec is not None:
                cosine = dict(zip(ids, (vecs @ vec).tolist(), strict=True))
        # a chunk deleted since it was ranked is left out, as a search begun after the delete would
        chunks = {c.id: c for c in self.store.get_chunks(collection, [cid for cid, _ in picked])}
        picked = [(cid, f) for cid, f in picked if cid in chunks]
        if not explain:
            return [Hit(chunks[cid], f) for cid, f in picked]
        return self._explain_hybrid(collection, vec, lexical, dense, chunks, picked, cosine, plan)

    def _explain_hybrid(
        self,
        collection: str,
        vec: np.ndarray | None,
        lexical: list[Ranked],
        dense: list[Ranked],
        chunks: dict[str, Chunk],
        picked: list[tuple[str, float]],
        cosine: dict[str, float],
        plan: _Plan,
    ) -> list[Hit]:
        lex = {r.id: (rank, r.score) for rank, r in enumerate(lexical, 1)}
        den = {r.id: (rank, r.score) for rank, r in enumerate(dense, 1)}
        missing = [cid for cid, _ in picked if cid not in den and cid not in cosine]
        if missing and vec is not None:
            ids, vecs = self._vectors(collection, missing)
            cosine.update(zip(ids, (vecs @ vec).tolist(), strict=True))
        mmr_on = plan.mmr_lambda is not None
        hits = []
        for pos, (cid, f) in enumerate(picked, 1):
            lr, ls = lex.get(cid, (None, None))
            dr, ds = den.get(cid, (None, cosine.get(cid)))
            why = Explanation(lr, ls, dr, ds, f, pos if mmr_on else None)
            hits.append(Hit(chunks[cid], f, why))
        return hits

    def _diversify(self, collection: str, hits: list[Hit], plan: _Plan, explain: bool) -> list[Hit]:
        """MMR over hits already ranked by a later stage, with their scores as the relevance."""
        ids, vecs = self._vectors(collection, [h.chunk.id for h in hits])
        present = set(ids)
        hits = [h for h in hits if h.chunk.id in present]
        assert plan.mmr_lambda is not None
        order = mmr_order(None, vecs, normalize([h.score for h in hits]), plan.k, plan.mmr_lambda)
        if not explain:
            return [hits[i] for i in order]
        return [
            dataclasses.replace(hits[i], explain=staged(hits[i].explain, mmr_rank=pos))
            for pos, i in enumerate(order, 1)
        ]

    def _vectors(self, collection: str, ids: list[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of those ``ids`` that still exist, with those ids (in order).

        Documents may be re-written or deleted between ranking and this read (``store.get_vectors`` raises
        NotFound for a missing id): then the ids still present are read again, a few times at most.
        """
        import numpy as np

        for _ in range(_VECTOR_TRIES):
            if not ids:
                return ids, np.zeros((0, self.embedder.dim), dtype=np.float32)
            try:
                return ids, np.asarray(self.store.get_vectors(collection, ids), dtype=np.float32)
            except NotFound:
                present = {c.id for c in self.store.get_chunks(collection, ids)}  # NotFound for a gone collection
                ids = [i for i in ids if i in present]
        return ids, np.asarray(self.store.get_vectors(collection, ids), dtype=np.float32)


def clean_query(query: object) -> str:
    """``query`` stripped, checked to be non-empty text, with lone surrogates replaced.

    >>> clean_query("  what is RRF?\\n")
    'what is RRF?'
    """
    if not isinstance(query, str):
        raise InputError(f"the query must be text, got {type(query).__name__}")
    text = query.strip()
    if not text:
        raise InputError("the query is empty", hint="type a question or a few keywords")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable command-line bytes
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text

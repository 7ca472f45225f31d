"""``Runner``: a suite's pipeline over its dataset, scored, repeated, with bootstrap intervals, saved to SQLite.

    from llmkit.evals import load_suite, runner_for_kit
    result = runner_for_kit(load_suite("suite.yaml"), kit).run()
    result.run.summary["f1"]     # {"mean": .., "low": .., "high": .., "n": ..}

Model calls go through a ``CachedModel`` (a rerun of the same prompts is nearly free) and are traced
with the run id, the item id and the prompt version. Items run on ``concurrency`` threads.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, ModelError
from llmkit.evals.cache import CachedModel
from llmkit.evals.dataset import EvalItem, load_any
from llmkit.evals.scoring import JUDGED, ScoringContext, check_items, score_item
from llmkit.evals.stats import bootstrap_ci
from llmkit.evals.store import EvalStore, Row, Run
from llmkit.evals.suite import Suite, metric_problems
from llmkit.observe.traces import trace_attributes
from llmkit.types import GenerationParams, Hit

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.kit import Kit
    from llmkit.models.base import ChatModel
    from llmkit.prompts.prompt import Prompt
    from llmkit.prompts.registry import PromptRegistry
    from llmkit.rag import RagPipeline
    from llmkit.retrieve.retriever import Retriever

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunResult:
    run: Run
    rows: list[Row]
    errors: list[ModelError] = field(default_factory=list)  # the model failures behind the rows marked "error"

    @property
    def all_failed(self) -> bool:
        """Every row's model call failed: the scores measure nothing."""
        return bool(self.rows) and len(self.errors) == len(self.rows)


def load_items(suite: Suite) -> list[EvalItem]:
    d = suite.dataset
    return load_any(suite.dataset_path(), fmt=d.format, split=d.split, limit=d.limit)


def hit_key(hit: Hit, match: str) -> str:
    """The id of a hit compared with ``doc_ids``: its source, source stem, document id or chunk id."""
    c = hit.chunk
    return {"source": c.source, "stem": Path(c.source).stem, "doc": c.doc_id, "chunk": c.id}[match]


class Runner:
    """Runs one suite with explicit parts (``runner_for_kit`` fills them from a project)."""

    def __init__(
        self,
        suite: Suite,
        store: EvalStore,
        *,
        model: ChatModel | None = None,
        prompt: Prompt | None = None,
        params: GenerationParams | None = None,
        rag: RagPipeline | None = None,
        retriever: Retriever | None = None,
        collection: str = "default",
        embedder: Callable[[], Embedder] | None = None,
        judge_model: ChatModel | None = None,
        registry: PromptRegistry | None = None,
        items: Sequence[EvalItem] | None = None,
    ) -> None:
        self.suite = suite
        self.store = store
        cache = store if suite.cache else None
        self.model = CachedModel(model, cache) if model is not None else None
        judge = judge_model or model
        self.judge = CachedModel(judge, cache) if judge is not None else None
        self.prompt = prompt
        self.params = params or GenerationParams()
        self.rag = rag
        self.retriever = retriever
        self.collection = collection
        self.embedder = embedder
        self.registry = registry
        self._items = list(items) if items is not None else None
        self.retrieval_seconds = 0.0

    def run(self, progress: Progress | None = None) -> RunResult:
        start = time.perf_counter()
        items = self._items if self._items is not None else load_items(self.suite)
        check_items(items, self.suite.metrics)
        self._check_inputs(items)
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        ctx = ScoringContext(lambda: self.judge, self.embedder, self.registry)  # type: ignore[arg-type,return-value]
        tasks = [(item, r) for item in items for r in range(self.suite.repeats)]
        done = 0
        errors: list[ModelError] = []

        def one(task: tuple[EvalItem, int]) -> Row:
            item, repeat = task
            with trace_attributes(eval_run=run_id, item=item.id):
                try:
                    pred = self.predict(item, repeat)
                    scores, details = score_item(item, pred, self.suite.metrics, ctx)
                except ModelError as e:  # one item's model failure is recorded; the run goes on
                    errors.append(e)
                    pred = {"input": item.input, "answer": "", "error": f"{type(e).__name__}: {e}"}
                    scores, details = dict.fromkeys(self.suite.metrics), {"error": str(e)}
            return Row(item.id, repeat, pred, scores, details)

        rows: list[Row] = []
        with ThreadPoolExecutor(max_workers=self.suite.concurrency) as pool:
            for row in pool.map(one, tasks):
                rows.append(row)
                done += 1
                if progress:
                    progress(done, len(tasks))
        for counter in {id(c): c for c in (self.model, self.judge) if c is not None}.values():
            counter.flush()
        run = self._summarise(run_id, items, rows, time.perf_counter() - start, ctx)
        self.store.save_run(run, rows)
        return RunResult(run, rows, errors)

    def _check_inputs(self, items: Sequence[EvalItem]) -> None:
        """Every input the generate prompt declares must come from each item, before any model call."""
        if self.suite.pipeline.kind != "generate" or self.prompt is None:
            return
        for item in items:
            missing = sorted(set(self.prompt.inputs) - item_values(item).keys())
            if missing:
                have = ", ".join(sorted(item_values(item)))
                raise InputError(
                    f"prompt {self.prompt.ref} needs {missing} but item {item.id!r} has no such field",
                    hint=f"an item gives: {have}; add the field to the dataset (or its metadata) or change the prompt",
                )

    # ------------------------------------------------------------------ one prediction

    def predict(self, item: EvalItem, repeat: int) -> dict[str, Any]:
        kind = self.suite.pipeline.kind
        pred: dict[str, Any] = {"input": item.input, "answer": "", "passages": [], "hit_ids": [], "messages": []}
        hits: list[Hit] = []
        if kind in ("rag", "retrieval"):
            hits = self._search(item.input)
            pred["hit_ids"] = [hit_key(h, self.suite.pipeline.match) for h in hits]
            pred["passages"] = [h.chunk.text for h in hits]
        if kind == "rag":
            pred.update(self._answer_rag(item, hits, repeat))
        elif kind == "generate":
            pred.update(self._generate(item, repeat))
        return pred

    def _search(self, question: str) -> list[Hit]:
        if self.retriever is None:
            raise ValueError("this pipeline needs a retriever")
        t = time.perf_counter()
        p = self.suite.pipeline
        hits = self.retriever.search(self.collection, question, k=p.k, mode=p.mode, explain=True)
        self.retrieval_seconds += time.perf_counter() - t
        return hits

    def _params(self, repeat: int) -> GenerationParams:
        params = self.prompt.generation_params(self.params) if self.prompt is not None else self.params
        extra = dict(self.suite.pipeline.params)
        if "stop" in extra and isinstance(extra["stop"], list):
            extra["stop"] = tuple(extra["stop"])
        params = replace(params, **extra)
        if repeat and (params.temperature or 0) > 0:  # each repeat samples afresh; the cache keys on the seed
            params = replace(params, seed=(params.seed or self.suite.seed) + repeat)
        return params

    def _answer_rag(self, item: EvalItem, hits: list[Hit], repeat: int) -> dict[str, Any]:
        from llmkit.rag import NOT_FOUND

        if self.rag is None or self.model is None:
            raise ValueError("a rag pipeline needs a model and a RagPipeline")
        rag = self.rag
        if not rag.is_relevant(hits):
            return {"answer": NOT_FOUND, "found": False, "passages": []}
        messages, kept = rag.build_messages(item.input, hits)
        template = rag.template
        attrs = {"kind": "eval", "prompt": template.ref, "prompt_version": template.version}
        with trace_attributes(**attrs, chunks=[h.chunk.id for h in kept]):
            reply = self.model.chat(messages, self._params(repeat))
        return {
            "answer": reply.text.strip(), "found": True, "messages": [m.to_dict() for m in messages],
            "passages": [h.chunk.text for h in kept], "prompt": template.ref, "model": self.model.name,
            "tokens": [reply.usage.prompt_tokens, reply.usage.completion_tokens],
        }  # fmt: skip

    def _generate(self, item: EvalItem, repeat: int) -> dict[str, Any]:
        if self.prompt is None or self.model is None:
            raise ValueError("a generate pipeline needs a model and a prompt")
        values = item_values(item)
        messages = self.prompt.render(**{k: values[k] for k in self.prompt.inputs})
        with trace_attributes(kind="eval", prompt=self.prompt.ref, prompt_version=self.prompt.version):
            reply = self.model.chat(messages, self._params(repeat))
        return {
            "answer": reply.text.strip(), "messages": [m.to_dict() for m in messages], "prompt": self.prompt.ref,
            "model": self.model.name, "passages": list(item.contexts),
            "tokens": [reply.usage.prompt_tokens, reply.usage.completion_tokens],
        }  # fmt: skip

    # ------------------------------------------------------------------ summary

    def _summarise(
        self, run_id: str, items: Sequence[EvalItem], rows: Sequence[Row], seconds: float, ctx: ScoringContext
    ) -> Run:
        s = self.suite
        summary = {}
        for name, values in per_item_scores(rows, s.metrics).items():
            est = bootstrap_ci(list(values.values()), resamples=s.resamples, seed=s.seed)
            summary[name] = {"mean": est.mean, "low": est.low, "high": est.high, "n": est.n}
        counters = [c for c in {id(x): x for x in (self.model, self.judge) if x is not None}.values()]
        model_seconds = sum(c.model_seconds for c in counters)
        stats = {
            "seconds": seconds, "model_seconds": model_seconds, "retrieval_seconds": self.retrieval_seconds,
            "calls": sum(c.calls for c in counters), "cache_hits": sum(c.hits for c in counters),
            "rows": len(rows), "errors": sum("error" in r.prediction for r in rows),
        }  # fmt: skip
        prompts = {"pipeline": self._prompt_ref()} if self._prompt_ref() else {}
        for name in sorted(JUDGED & set(s.metrics)):
            used = ctx.used.get("judge-" + name.replace("_", "-"))
            if used is not None:
                prompts[name] = used.ref
        models = {"pipeline": self.model.identity} if self.model is not None else {}
        if self.judge is not None and JUDGED & set(s.metrics):
            models["judge"] = self.judge.identity
        config = s.model_dump(mode="json")
        return Run(
            run_id, time.time(), s.name, config, prompts, models, str(s.dataset_path()), len(items), summary, stats
        )

    def _prompt_ref(self) -> str | None:
        if self.suite.pipeline.kind == "rag" and self.rag is not None:
            return self.rag.template.ref
        if self.suite.pipeline.kind == "generate" and self.prompt is not None:
            return self.prompt.ref
        return None


def _model_for(kit: Kit, name: str | None, base_url: str | None) -> ChatModel:
    """The project's model, or the one a suite names (``pipeline.model``/``judge.model``, ``base_url``)."""
    if not name and not base_url:
        return kit.model
    from llmkit.kit import open_kit

    section = {k: v for k, v in {"name": name, "base_url": base_url}.items() if v}
    return open_kit(kit.settings.project_dir, model=section).model


def item_values(item: EvalItem) -> dict[str, Any]:
    """The values a prompt may use: ``question``/``input``, ``context``, ``reference`` and the metadata."""
    return {
        **dict(item.metadata), "input": item.input, "question": item.input,
        "context": "\n\n".join(item.contexts), "reference": item.references[0] if item.references else "",
    }  # fmt: skip


def per_item_scores(rows: Sequence[Row], metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """metric -> item id -> mean over repeats (repeats with no score are left out)."""
    out: dict[str, dict[str, float]] = {}
    for name in metrics:
        sums: dict[str, list[float]] = {}
        for r in rows:
            value = r.metrics.get(name)
            if value is not None:
                sums.setdefault(r.item_id, []).append(float(value))
        out[name] = {k: sum(v) / len(v) for k, v in sums.items()}
    return out


def runner_for_kit(suite: Suite, kit: Kit, *, items: Sequence[EvalItem] | None = None) -> Runner:
    """A Runner with the project's model, retriever, prompt registry and eval store."""
    from llmkit.rag import RagPipeline

    p = suite.pipeline
    s = kit.settings
    if p.k is None and p.kind != "generate":  # the project's [retrieval] k decides how many hits there are
        problems = metric_problems(p.kind, s.retrieval.k, suite.metrics)
        if problems:
            raise InputError("suite: invalid suite:\n" + "\n".join(f"  metrics: {line}" for line in problems))
    base = GenerationParams(
        max_tokens=s.model.max_tokens, temperature=s.model.temperature, top_p=s.model.top_p, seed=s.model.seed
    )
    registry = kit.prompts
    needs_model = p.kind != "retrieval" or bool(JUDGED & set(suite.metrics))
    model = _model_for(kit, p.model, p.base_url) if needs_model else None
    prompt = None
    rag = None
    if p.kind == "rag":
        template = registry.get(p.prompt or s.prompts.rag)
        registry.save(template) if registry.data_dir else None
        from llmkit.retrieve.rewrite import QueryRewriter

        r = s.retrieval  # the project's rewriting, with the suite's model, as `llmkit ask` would rewrite
        rewriter = QueryRewriter(lambda: model, lambda: registry, mode=r.rewrite, n=r.rewrite_queries)
        rag = RagPipeline(kit.retriever, model, settings=s.rag, params=base, template=template, rewriter=rewriter)
        prompt = template
    elif p.kind == "generate":
        prompt = registry.get(p.prompt or "qa-short")
        registry.save(prompt)
    j = suite.judge
    judge = _model_for(kit, j.model, j.base_url) if j.model or j.base_url else None  # None: the pipeline's model
    collection = kit._existing(p.collection) if p.kind != "generate" else s.collection
    return Runner(
        suite, EvalStore(s.data_dir / "evals.db"), model=model, prompt=prompt,
        params=base, rag=rag, retriever=kit.retriever if p.kind != "generate" else None, collection=collection,
        embedder=lambda: kit.embedder, judge_model=judge, registry=registry, items=items,
    )  # fmt: skip

"""The runner with fakes: predictions, metrics, repeats, caching, CIs, stored runs, traces, comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmkit.config import RagSettings
from llmkit.errors import InputError
from llmkit.evals.compare import compare_runs, gate_fail_under, gate_regression, parse_thresholds
from llmkit.evals.dataset import EvalItem
from llmkit.evals.report import html_report
from llmkit.evals.runner import Runner
from llmkit.evals.store import EvalStore
from llmkit.evals.suite import suite_from_dict
from llmkit.observe.traces import TracedModel, TraceStore
from llmkit.prompts import builtin, parse_prompt
from llmkit.rag import RagPipeline
from llmkit.testing import FakeChatModel, HashEmbedder
from llmkit.types import Chunk, Explanation, GenerationParams, Hit, Message

ITEMS = [
    EvalItem("q1", "Capital of France?", ("Paris",), ("Paris is the capital of France.",), ("fr.md",)),
    EvalItem("q2", "Capital of Italy?", ("Rome",), ("Rome is the capital of Italy.",), ("it.md",)),
    EvalItem("q3", "Capital of Spain?", ("Madrid",), ("Madrid is the capital of Spain.",), ("es.md",)),
]
ANSWERS = {"France": "Paris", "Italy": "Rome", "Spain": "Barcelona <b>"}


def answer(messages: Sequence[Message]) -> str:
    asked = messages[-1].content.rsplit("Capital of", 1)[-1]
    return next(v for k, v in ANSWERS.items() if k in asked)


def suite(**extra: object):
    base = {"name": "t", "dataset": {"path": "unused.jsonl"}, "metrics": ["exact_match", "f1"]}
    return suite_from_dict({**base, **extra})


def test_generate_run_scores_stores_and_caches(tmp_path: Path) -> None:
    store, model = EvalStore(tmp_path / "evals.db"), FakeChatModel(answer)
    prompt = builtin("qa-short")
    s = suite(pipeline={"kind": "generate"}, repeats=2, concurrency=2)
    result = Runner(s, store, model=model, prompt=prompt, items=ITEMS).run()
    run = result.run
    assert run.summary["exact_match"]["mean"] == pytest.approx(2 / 3) and run.summary["exact_match"]["n"] == 3
    low, high = run.summary["exact_match"]["low"], run.summary["exact_match"]["high"]
    assert 0 <= low <= 2 / 3 <= high <= 1
    assert len(result.rows) == 6 and run.prompts == {"pipeline": prompt.ref} and run.models == {"pipeline": "fake"}
    row = store.rows(run.id)[0]
    assert row.prediction["prompt"] == prompt.ref and row.prediction["messages"][-1]["content"].startswith("Passage:")
    assert run.stats["calls"] == 3 and run.stats["cache_hits"] == 3  # temperature 0: the repeat is cached
    again = Runner(s, store, model=model, prompt=prompt, items=ITEMS).run().run
    assert again.stats["calls"] == 0 and again.summary == run.summary and len(model.calls) == 3
    assert [r.id for r in store.runs()] == [again.id, run.id] and store.get_run("latest~1").id == run.id


def test_sampled_repeats_get_their_own_seeds(tmp_path: Path) -> None:
    model = FakeChatModel(answer)
    s = suite(pipeline={"kind": "generate", "params": {"temperature": 0.8}}, repeats=3)
    Runner(s, EvalStore(tmp_path / "e.db"), model=model, prompt=builtin("qa-short"), items=ITEMS[:1]).run()
    assert sorted(p.seed or 0 for _, p in model.calls) == [0, 1, 2]


@dataclass
class StubRetriever:
    def search(self, collection: str, query: str, **kwargs: object) -> list[Hit]:
        hits = []
        for i, item in enumerate(ITEMS, 1):
            c = Chunk(f"{item.id}:0", item.id, item.doc_ids[0], item.contexts[0], 0, 0, len(item.contexts[0]))
            hits.append(Hit(c, 1 / i, Explanation(i, 1.0, i, 0.9, 1 / i)))
        return hits


def test_rag_run_with_judges_and_traces(tmp_path: Path) -> None:
    traces = TraceStore(tmp_path / "traces.db")
    model = TracedModel(FakeChatModel(answer), traces)
    verdicts = iter(['{"reasoning": "stated in [1]", "score": 5}', "not json at all", '{"score": 3, "reasoning": "x"}'])
    judge = FakeChatModel(lambda _: next(verdicts))
    rag = RagPipeline(StubRetriever(), model, settings=RagSettings(), params=GenerationParams(max_tokens=16))  # type: ignore[arg-type]
    s = suite(
        pipeline={"kind": "rag", "k": 3},
        metrics=["exact_match", "hit@1", "mrr", "ndcg@3", "faithfulness", "faithfulness_emb", "context_recall_tokens"],
    )
    runner = Runner(s, EvalStore(tmp_path / "e.db"), model=model, rag=rag, retriever=StubRetriever(),  # type: ignore[arg-type]
                    embedder=lambda: HashEmbedder(dim=128), judge_model=judge, items=ITEMS)  # fmt: skip
    run = runner.run().run
    summary = run.summary
    assert summary["hit@1"]["mean"] == pytest.approx(1 / 3) and summary["mrr"]["mean"] == pytest.approx(
        (1 + 1 / 2 + 1 / 3) / 3
    )
    assert summary["faithfulness"]["n"] == 2  # the unparseable verdict counts as missing, not as zero
    assert summary["faithfulness"]["mean"] == pytest.approx((1.0 + 0.5) / 2)
    assert summary["context_recall_tokens"]["mean"] == 1.0 and 0 < summary["faithfulness_emb"]["mean"] <= 1
    assert run.models == {"pipeline": "fake", "judge": "fake"}
    rows = runner.store.rows(run.id)
    assert rows[0].details["faithfulness"] == "stated in [1]" and len(rows[0].prediction["passages"]) == 3
    recorded = [t for t in traces.list(limit=10) if t.kind == "eval"]
    assert len(recorded) == 3 and {t.prompt for t in recorded} == {rag.template.ref}
    assert {t.attributes["eval_run"] for t in recorded} == {run.id}
    html = html_report(run, rows)
    assert "Barcelona &lt;b&gt;" in html and "<svg" in html and "stated in [1]" in html


def test_compare_and_gates(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "e.db")
    items = [EvalItem(f"q{i}", f"Capital of {c}?", (ANSWERS[c],)) for i, c in enumerate(["France", "Italy"] * 10)]
    items = [EvalItem(f"q{i}", it.input, it.references) for i, it in enumerate(items)]
    good = Runner(suite(pipeline={"kind": "generate"}), store, model=FakeChatModel(answer), prompt=builtin("qa-short"),
                  items=items).run()  # fmt: skip
    bad = Runner(suite(pipeline={"kind": "generate"}), store, model=FakeChatModel(["no idea"], name="other"),
                 prompt=builtin("qa-short"), items=items).run()  # fmt: skip
    comps = compare_runs(good.run, good.rows, bad.run, bad.rows)
    em = next(c for c in comps if c.metric == "exact_match")
    assert em.delta == pytest.approx(-1.0) and em.significant
    assert [f.metric for f in gate_regression(comps, parse_thresholds(["0.05"], "x"))] == ["exact_match", "f1"]
    assert gate_regression(comps, {"exact_match": 1.5}) == []
    assert [f.metric for f in gate_fail_under(bad.run.summary, {"f1": 0.5, "bleu": 0.1})] == ["f1", "bleu"]
    with pytest.raises(InputError):
        parse_thresholds(["f1=abc"], "--fail-under")


def test_suite_validation() -> None:
    with pytest.raises(InputError, match="unknown metric 'accuracy'"):
        suite(metrics=["accuracy"])
    with pytest.raises(InputError, match="colour: unknown key"):
        suite(colour="red")
    with pytest.raises(InputError, match="repeats"):
        suite(repeats=0)


def test_metric_needing_references_says_so(tmp_path: Path) -> None:
    s = suite(pipeline={"kind": "generate"})
    runner = Runner(s, EvalStore(tmp_path / "e.db"), model=FakeChatModel(), prompt=builtin("qa-short"),
                    items=[EvalItem("x", "q?")])  # fmt: skip
    with pytest.raises(InputError, match="needs reference answers"):
        runner.run()


def test_prompt_params_and_suite_params_layer(tmp_path: Path) -> None:
    model = FakeChatModel(answer)
    prompt = parse_prompt("---\nname: p\nparams: {max_tokens: 7}\n---\n{{ question }}")
    s = suite(pipeline={"kind": "generate", "params": {"stop": ["\n"]}})
    Runner(s, EvalStore(tmp_path / "e.db"), model=model, prompt=prompt, items=ITEMS[:1]).run()
    params = model.calls[0][1]
    assert params.max_tokens == 7 and params.stop == ("\n",)


def test_a_model_error_is_recorded_per_item(tmp_path: Path) -> None:
    model = FakeChatModel(answer, window=120)  # the longest prompt does not fit
    items = [*ITEMS[:2], EvalItem("long", "Capital of Italy? " + "word " * 200, ("Rome",))]
    s = suite(pipeline={"kind": "generate", "params": {"max_tokens": 4}})
    result = Runner(s, EvalStore(tmp_path / "e.db"), model=model, prompt=builtin("qa-short"), items=items).run()
    failed = next(r for r in result.rows if r.item_id == "long")
    assert failed.metrics == {"exact_match": None, "f1": None} and "ContextLengthExceeded" in failed.prediction["error"]
    assert result.run.summary["exact_match"]["n"] == 2

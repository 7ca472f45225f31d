"""What a run checks before its first model call, what it records about failures, and partial comparisons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.errors import BackendUnavailable, InputError, RateLimited
from llmkit.evals import runner as runner_module
from llmkit.evals.compare import compare_runs, gate_regression
from llmkit.evals.dataset import EvalItem
from llmkit.evals.runner import Runner, runner_for_kit
from llmkit.evals.scoring import ScoringContext, check_metric
from llmkit.evals.store import EvalStore
from llmkit.evals.suite import suite_from_dict
from llmkit.prompts import PromptRegistry, builtin, parse_prompt
from llmkit.testing import FakeChatModel
from llmkit.types import Message

ITEMS = [EvalItem(f"q{i}", f"question {i}?", ("yes",), ("The answer is yes.",)) for i in range(3)]


def suite(**extra: object):
    base = {"name": "t", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"}, "metrics": ["f1"]}
    return suite_from_dict({**base, **extra})


class Failing(FakeChatModel):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def chat(self, messages: Sequence[Message], params: object = None):  # type: ignore[override]
        raise self.error


def test_pipeline_model_and_base_url_are_used(tmp_path: Path) -> None:
    from llmkit.kit import open_kit

    (tmp_path / "llmkit.toml").write_text('[model]\nname = "project-model"\nbase_url = "http://a.invalid/v1"\n')
    kit = open_kit(tmp_path)
    chosen = suite(pipeline={"kind": "generate", "model": "suite-model", "base_url": "http://b.invalid/v1"})
    model = runner_for_kit(chosen, kit).model
    assert model is not None and model.name == "suite-model" and model.identity == "suite-model@http://b.invalid/v1"
    assert runner_for_kit(suite(), kit).model.identity == "project-model@http://a.invalid/v1"


def test_failed_calls_are_counted(tmp_path: Path) -> None:
    result = Runner(suite(), EvalStore(tmp_path / "e.db"), model=Failing(RateLimited("slow down")),
                    prompt=builtin("qa-short"), items=ITEMS).run()  # fmt: skip
    assert result.run.stats["errors"] == 3 and result.all_failed and len(result.errors) == 3


@pytest.mark.parametrize(("error", "code"), [(BackendUnavailable("down"), 69), (RateLimited("slow"), 75)])
def test_cli_exits_when_every_item_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    (tmp_path / "llmkit.toml").write_text('collection = "c"\n', encoding="utf-8")
    (tmp_path / "s.yaml").write_text("name: t\ndataset: {path: x.jsonl}\npipeline: {kind: generate}\nmetrics: [f1]\n")

    def fake_runner(s: object, kit: object, **_: object) -> Runner:
        store = EvalStore(tmp_path / ".llmkit" / "evals.db")
        return Runner(s, store, model=Failing(error), prompt=builtin("qa-short"), items=ITEMS)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_module, "runner_for_kit", fake_runner)
    result = CliRunner().invoke(app, ["-C", str(tmp_path), "eval", "run", str(tmp_path / "s.yaml"), "--json"])
    assert result.exit_code == code and "3 of 3 items failed" in result.output
    data = json.loads(result.stdout)
    assert data["summary"]["f1"]["mean"] is None and data["stats"]["errors"] == 3


def test_missing_prompt_input_fails_before_any_call(tmp_path: Path) -> None:
    prompt = parse_prompt("---\nname: my-qa\ninputs: [passage, question]\n---\n{{ passage }} {{ question }}")
    model = FakeChatModel(["blue"])
    with pytest.raises(InputError, match=r"needs \['passage'\] but item 'q0'"):
        Runner(suite(), EvalStore(tmp_path / "e.db"), model=model, prompt=prompt, items=ITEMS).run()
    assert model.calls == []


@pytest.mark.parametrize(
    ("pipeline", "metrics", "why"),
    [({"kind": "retrieval", "k": 5}, ["f1"], "scores an answer"),
     ({"kind": "generate"}, ["hit@5"], "generate pipeline retrieves none"),
     ({"kind": "rag", "k": 5}, ["ndcg@10"], "looks at 10 hits but the pipeline retrieves k=5"),
     ({"kind": "retrieval"}, ["context_precision_ids", "faithfulness_emb"], "faithfulness_emb")],
)  # fmt: skip
def test_metrics_must_suit_the_pipeline(pipeline: dict, metrics: list[str], why: str) -> None:
    with pytest.raises(InputError, match=why):
        suite(pipeline=pipeline, metrics=metrics)


def test_default_k_limits_at_k_metrics(tmp_path: Path) -> None:
    from llmkit.kit import open_kit

    (tmp_path / "llmkit.toml").write_text("[retrieval]\nk = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="retrieves k=3"):
        runner_for_kit(suite(pipeline={"kind": "retrieval"}, metrics=["hit@5"]), open_kit(tmp_path))


def test_items_lacking_what_a_metric_needs_fail_before_any_call(tmp_path: Path) -> None:
    model = FakeChatModel(["yes"])
    items = [*ITEMS, EvalItem("bare", "no references?")]
    with pytest.raises(InputError, match="'f1' needs reference answers; 1 item"):
        Runner(suite(), EvalStore(tmp_path / "e.db"), model=model, prompt=builtin("qa-short"), items=items).run()
    assert model.calls == []


def test_context_precision_ids_needs_doc_ids() -> None:
    with pytest.raises(InputError, match="doc_ids"):
        check_metric("context_precision_ids")(ITEMS[0], {"hit_ids": ["a"]}, ScoringContext())


def test_used_rubric_versions_are_saved(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    rubric = builtin("judge-answer-relevance").text
    (folder / "judge-answer-relevance.md").write_text(rubric, encoding="utf-8")
    registry = PromptRegistry([folder], tmp_path / "data")
    judge = FakeChatModel(['{"score": 5, "reasoning": "on topic"}'])
    run = Runner(suite(metrics=["answer_relevance"]), EvalStore(tmp_path / "e.db"), model=FakeChatModel(["yes"]),
                 prompt=builtin("qa-short"), judge_model=judge, registry=registry, items=ITEMS).run().run  # fmt: skip
    (folder / "judge-answer-relevance.md").write_text(rubric + "\nBe strict.\n", encoding="utf-8")
    assert registry.get(run.prompts["answer_relevance"]).text == rubric


def test_compare_skips_a_metric_without_shared_items(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "e.db")
    s = suite(metrics=["f1", "faithfulness"], cache=False)
    judged = iter(['{"score": 5, "reasoning": ""}'] * 3 + ["no verdict"] * 3)
    judge = FakeChatModel(lambda _: next(judged))
    runs = [Runner(s, store, model=FakeChatModel(["yes"]), prompt=builtin("qa-short"), judge_model=judge,
                   items=ITEMS).run() for _ in range(2)]  # fmt: skip
    comps = compare_runs(runs[0].run, runs[0].rows, runs[1].run, runs[1].rows)
    assert [c.metric for c in comps] == ["f1"] and comps.skipped == ("faithfulness",)
    assert gate_regression(comps, {"f1": 0.1}) == []
    assert [f.metric for f in gate_regression(comps, {"faithfulness": 0.1})] == ["faithfulness"]


def test_a_rag_run_rewrites_queries_as_the_project_does(tmp_path: Path) -> None:
    from llmkit.kit import open_kit

    toml = '[model]\nname = "m"\nbase_url = "http://a.invalid/v1"\n'
    toml += '[retrieval]\nrewrite = "multi"\nrewrite_queries = 2\n'
    (tmp_path / "llmkit.toml").write_text(toml, encoding="utf-8")
    kit = open_kit(tmp_path)
    kit.store.create_collection("default", embedder=kit.embedder.name, dim=kit.embedder.dim)
    rag = runner_for_kit(suite(pipeline={"kind": "rag"}), kit).rag
    assert rag is not None and rag.rewriter is not None
    assert (rag.rewriter.mode, rag.rewriter.n) == ("multi", 2)

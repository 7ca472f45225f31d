"""The harness on the embedded defaults: `llmkit eval run` over a real RAG pipeline, cached reruns,
prompt versions in traces and rows, a project prompt chosen by label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.evals.store import EvalStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUITE = """name: samples
dataset: {path: qa.jsonl}
pipeline: {kind: rag, k: 2, params: {max_tokens: 12}}
metrics: [f1, hit@2, context_recall_tokens, faithfulness_emb, faithfulness]
"""


def test_eval_run_on_real_models(kit, project: Path) -> None:
    kit.ingest(project / "docs")
    sources = [d.source for d in kit.documents() if "warranty" in d.source or "faq" in d.source]
    row = {"id": "w", "input": "How long is the warranty on the Acme Widget 3000?", "references": ["three years"],
           "doc_ids": sources}  # fmt: skip
    (project / "qa.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    (project / "suite.yaml").write_text(SUITE, encoding="utf-8")
    # the project's own RAG prompt, chosen by label, replaces the built-in one
    (project / "prompts").mkdir()
    text = kit.prompts.current("rag-answer").text.replace("Answer:", "Short answer:")
    (project / "prompts" / "rag-answer.md").write_text(text, encoding="utf-8")
    kit.prompts.label("rag-answer", "prod")
    expected = kit.prompts.get("rag-answer@prod").ref

    runner = CliRunner()
    args = [
        "-C",
        str(project),
        "eval",
        "run",
        str(project / "suite.yaml"),
        "--fail-under",
        "hit@2=0.5",
        "--report",
        str(project / "r.html"),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert ("hit@2" in first.output and (Path.cwd() / "r.html").exists()) or (project / "r.html").exists()
    store = EvalStore(project / ".llmkit" / "evals.db")
    run = store.get_run("latest")
    assert run.prompts["pipeline"] == expected
    assert run.models["pipeline"].startswith("smollm2-135m-instruct [")  # the name and the GGUF file's fingerprint
    assert run.summary["hit@2"]["mean"] == 1.0 and run.stats["calls"] == 2  # the answer and the judge
    assert run.summary["faithfulness"]["n"] == 1  # the grammar-constrained verdict was read
    assert run.prompts["faithfulness"] == kit.prompts.get("judge-faithfulness").ref
    assert all(k in run.summary[m] for m in run.summary for k in ("mean", "low", "high"))
    (item,) = store.rows(run.id)
    assert "Short answer:" in item.prediction["messages"][-1]["content"]
    trace = next(t for t in kit.traces(limit=5) if t.kind == "eval")
    assert next(t for t in kit.traces(limit=5) if t.kind == "judge").params["json_schema"]["required"][0] == "score"
    assert trace.prompt == expected and trace.attributes["eval_run"] == run.id

    second = runner.invoke(app, [*args[:-2]])
    assert second.exit_code == 0, second.output
    again = store.get_run("latest")
    assert again.stats["calls"] == 0 and again.stats["cache_hits"] == 2 and again.summary == run.summary
    gate = runner.invoke(app, [*args[:5], "--fail-under", "f1=1.01"])
    assert gate.exit_code == 1 and "gate failed" in gate.output

"""`llmkit eval` (list, show, compare as a CI gate, report) and `llmkit prompts` on a project, with stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.evals.dataset import EvalItem
from llmkit.evals.runner import Runner
from llmkit.evals.store import EvalStore
from llmkit.evals.suite import suite_from_dict
from llmkit.prompts import builtin
from llmkit.testing import FakeChatModel

ITEMS = [EvalItem(f"q{i}", f"question {i}?", ("yes",)) for i in range(20)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "llmkit.toml").write_text('collection = "c"\n', encoding="utf-8")
    store = EvalStore(tmp_path / ".llmkit" / "evals.db")
    suite = suite_from_dict({"name": "gate", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"},
                             "metrics": ["exact_match"]})  # fmt: skip
    for name, reply in (("good", "yes"), ("bad", "no")):
        Runner(suite, store, model=FakeChatModel([reply], name=name), prompt=builtin("qa-short"), items=ITEMS).run()
    return tmp_path


def cli(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["-C", str(project), *args])
    return result.exit_code, result.output


def test_list_show_report(project: Path) -> None:
    code, out = cli(project, "eval", "list")
    assert code == 0 and out.count("gate") == 2
    code, out = cli(project, "eval", "show", "latest~1", "--json")
    data = json.loads(out)
    assert code == 0 and data["run"]["summary"]["exact_match"]["mean"] == 1.0 and len(data["rows"]) == 20
    code, _ = cli(project, "eval", "report", "latest", "-o", str(project / "r.html"))
    assert code == 0 and "<svg" in (project / "r.html").read_text(encoding="utf-8")
    code, out = cli(project, "eval", "show", "nope-id")
    assert code != 0


def test_compare_is_a_ci_gate(project: Path) -> None:
    code, out = cli(project, "eval", "compare", "latest~1", "latest", "--json")
    assert code == 0 and json.loads(out)[0]["delta"] == -1.0 and json.loads(out)[0]["significant"]
    code, out = cli(project, "eval", "compare", "latest~1", "latest", "--max-regression", "exact_match=0.05")
    assert code == 1 and "gate failed: exact_match" in out
    code, _ = cli(project, "eval", "compare", "latest", "latest~1", "--max-regression", "0.05")
    assert code == 0  # an improvement passes
    code, out = cli(project, "eval", "compare", "latest", "latest~1", "--fail-under", "exact_match=0.99")
    assert code == 0
    code, out = cli(project, "eval", "compare", "latest~1", "latest", "--fail-under", "exact_match=0.5")
    assert code == 1


def test_prompts_commands(project: Path) -> None:
    folder = project / "prompts"
    folder.mkdir()
    (folder / "hello.md").write_text("---\nname: hello\n---\nHi {{ who }}\n", encoding="utf-8")
    code, out = cli(project, "prompts", "list")
    assert code == 0 and "hello" in out and "rag-answer" in out
    code, out = cli(project, "prompts", "label", "hello", "prod")
    assert code == 0 and "hello@prod" in out
    v1 = out.strip().split()[-1]
    (folder / "hello.md").write_text("---\nname: hello\n---\nHello {{ who }}\n", encoding="utf-8")
    code, out = cli(project, "prompts", "diff", f"hello@{v1}", "hello@" + builtin_version(folder))
    assert code == 0 and "-Hi {{ who }}" in out and "+Hello {{ who }}" in out
    code, out = cli(project, "prompts", "show", "hello")
    assert code == 0 and "Hi {{ who }}" in out  # the bare name follows the prod label
    code, out = cli(project, "prompts", "show", "hello", "--versions")
    assert code == 0 and f"hello@{v1}  (prod)" in out
    (folder / "broken.md").write_text("---\nname: broken\n---\n{{ oops", encoding="utf-8")
    code, out = cli(project, "prompts", "show", "broken")
    assert code != 0


def builtin_version(folder: Path) -> str:
    from llmkit.prompts import parse_prompt

    return parse_prompt((folder / "hello.md").read_text(encoding="utf-8")).version


def test_builtin_is_listed() -> None:
    assert builtin("rag-answer").inputs == {"context", "question"}

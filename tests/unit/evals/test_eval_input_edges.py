"""Edge cases of what evals read: judge replies, eval-set files in odd encodings and layouts, run ids, scripts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.errors import InputError, NotFound
from llmkit.evals.dataset import EvalItem, load_any, load_beir
from llmkit.evals.judge import parse_verdict
from llmkit.evals.metrics import rouge_l
from llmkit.evals.runner import Runner
from llmkit.evals.scoring import ScoringContext, check_metric
from llmkit.evals.store import EvalStore, Run
from llmkit.evals.suite import suite_from_dict
from llmkit.prompts import builtin
from llmkit.testing import FakeChatModel


@pytest.mark.parametrize(
    ("reply", "score"),
    [("Score: 4/10", None), ("score: 4 out of 10", None), ('{"score": 10, "reasoning": "passage 3/5 is off"}', None),
     ('{"score": 0, "reasoning": "none. score: 5 would need support"}', None), ('{"score": true}', None),
     ('{"score": "4", "reasoning": "ok"}', 0.75), ("score: 4/5", 0.75), ("score: 5.0", 1.0),
     ('```json\n{"score": 2, "reasoning": "x"}\n```', 0.25)],
)  # fmt: skip
def test_parse_verdict_edges(reply: str, score: float | None) -> None:
    assert parse_verdict(reply).score == score


def test_context_precision_with_unparseable_verdicts_is_missing() -> None:
    ctx = ScoringContext(judge_model=lambda: FakeChatModel(["I cannot grade this."]))
    item = EvalItem("1", "q?", references=("a",))
    value, _ = check_metric("context_precision")(item, {"answer": "a", "passages": ["p1", "p2"]}, ctx)
    assert value is None


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_latin1_files_are_input_errors(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "a.jsonl", '{"input": "Caf\u00e9?", "references": ["oui"]}\n'.encode("latin-1"))
    yml = write(tmp_path / "a.yaml", "- input: Caf\u00e9?\n  references: [oui]\n".encode("latin-1"))
    for path in (jsonl, yml):
        with pytest.raises(InputError):
            load_any(path)


def test_byte_order_mark_is_not_data(tmp_path: Path) -> None:
    csv = write(tmp_path / "a.csv", "\ufeffinput,references\nWho?,Ada\n")
    jsonl = write(tmp_path / "a.jsonl", '\ufeff{"input": "Who?", "references": ["Ada"]}\n')
    assert load_any(csv)[0].input == "Who?" and load_any(jsonl)[0].references == ("Ada",)


def beir(folder: Path, qrels: str) -> Path:
    write(folder / "queries.jsonl", '{"_id": "q1", "text": "What?"}\n')
    write(folder / "qrels" / "train.tsv", "query-id\tcorpus-id\tscore\n" + qrels)
    return folder


def test_beir_edges(tmp_path: Path) -> None:
    assert load_beir(beir(tmp_path / "a", "q1\td1\t1.0\nq1\td2\t0\n"))[0].doc_ids == ("d1",)
    with pytest.raises(InputError, match="not a number"):
        load_beir(beir(tmp_path / "b", "q1\td1\thigh\n"))
    with pytest.raises(InputError, match="empty"):
        load_beir(beir(tmp_path / "c", ""))


def test_folder_that_is_neither_squad_nor_beir(tmp_path: Path) -> None:
    write(tmp_path / "x" / "notes.txt", "hello")
    with pytest.raises(NotFound, match="neither a SQuAD folder"):
        load_any(tmp_path / "x")


def test_report_into_a_new_folder(tmp_path: Path) -> None:
    (tmp_path / "llmkit.toml").write_text('collection = "c"\n', encoding="utf-8")
    s = suite_from_dict({"name": "t", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"},
                         "metrics": ["f1"]})  # fmt: skip
    Runner(s, EvalStore(tmp_path / ".llmkit" / "evals.db"), model=FakeChatModel(["yes"]), prompt=builtin("qa-short"),
           items=[EvalItem("1", "q?", ("yes",))]).run()  # fmt: skip
    out = tmp_path / "missing" / "dir" / "r.html"
    result = CliRunner().invoke(app, ["-C", str(tmp_path), "eval", "report", "latest", "-o", str(out)])
    assert result.exit_code == 0 and out.is_file()


def test_run_ids_with_like_wildcards(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "e.db")
    for run_id in ("ab_c-1", "abxc-2"):
        store.save_run(Run(run_id, time.time(), "t", {}, {}, {}, "d", 0, {}, {}), [])
    assert store.get_run("ab_c").id == "ab_c-1" and store.get_run("abxc").id == "abxc-2"
    with pytest.raises(NotFound):
        store.get_run("a%c-")


def test_rouge_l_on_other_scripts() -> None:
    assert rouge_l("東京都", ["東京都"]) == 1.0 and rouge_l("Привет мир", ["привет мир"]) == 1.0
    assert rouge_l("don't stop_now", ["don t stop now"]) == 1.0  # ASCII tokens as rouge-score splits them

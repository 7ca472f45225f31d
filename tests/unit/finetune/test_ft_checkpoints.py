"""An adapter folder holds one run: a new run refuses another's adapter, a resume another's checkpoints.

No model is loaded: the folder is checked before the base is looked up (``no-such-model`` would fail later).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run_cli
from llmkit.errors import InputError, NotFound
from llmkit.finetune.lora import LoraTrainer
from llmkit.finetune.train_config import load_train_config

CONV = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def _trainer(tmp_path: Path, data: str = "a.jsonl", **kw: object) -> LoraTrainer:
    (tmp_path / data).write_text(json.dumps({**CONV, "x": Path(data).name}) + "\n", "utf-8")
    opts = {"train": str(tmp_path / data), "output": str(tmp_path / "out"), "base": "no-such-model", **kw}
    return LoraTrainer(load_train_config(None, opts), models_dir=tmp_path)


def _checkpoint(tmp_path: Path, step: int = 2) -> Path:
    folder = tmp_path / "out" / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    return folder


def test_a_new_run_refuses_a_folder_with_another_runs_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "adapter_config.json").write_text("{}", "utf-8")
    (tmp_path / "t.jsonl").write_text(json.dumps(CONV) + "\n", "utf-8")
    args = ["-C", str(tmp_path), "finetune", "train", "--train", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "out"),
            "--base", "no-such-model"]  # fmt: skip
    code, _, err = run_cli(capsys, *args, one_line_err=True)
    assert code == 65 and "already holds" in err and "adapter_config.json" in err and "--force" in err
    code, _, err = run_cli(capsys, *args, "--force", one_line_err=True)
    assert code == 66 and "unknown base model" in err  # --force goes on to the base


def test_a_new_run_refuses_checkpoints_and_force_clears_them(tmp_path: Path) -> None:
    stale = _checkpoint(tmp_path, 7)
    with pytest.raises(InputError, match="already holds"):
        _trainer(tmp_path).run()
    with pytest.raises(NotFound, match="unknown base model"):
        _trainer(tmp_path).run(force=True)
    assert not stale.exists()  # a later --resume cannot pick up the old run's checkpoint-7


def test_resume_refuses_another_runs_checkpoints(tmp_path: Path) -> None:
    _checkpoint(tmp_path)
    with pytest.raises(InputError, match=r"no readable llmkit-run\.json"):
        _trainer(tmp_path).run(resume=True)
    from llmkit.finetune.checkpoints import run_fingerprint, write_fingerprint

    run_a = _trainer(tmp_path, "a.jsonl")
    write_fingerprint(tmp_path / "out", run_fingerprint(run_a.config, tmp_path / "a.jsonl", None))
    with pytest.raises(InputError, match=r"another run \(train data differ"):
        _trainer(tmp_path, "b.jsonl").run(resume=True)
    with pytest.raises(InputError, match=r"another run \(config learning_rate differ"):
        _trainer(tmp_path, "a.jsonl", learning_rate=0.1).run(resume=True)
    # the same run, to more steps and from a moved data file: resumes (and goes on to the base)
    (tmp_path / "moved").mkdir()
    with pytest.raises(NotFound, match="unknown base model"):
        _trainer(tmp_path, "moved/a.jsonl", max_steps=9).run(resume=True)

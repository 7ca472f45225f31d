"""``llmkit finetune train | export | eval``: bad input becomes a clear message and llmkit's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run_cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args, one_line_err=True)


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "finetune", "--help")
    assert code == 0 and all(c in out for c in ("train", "export", "eval"))


def test_train_bad_config_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lora.toml").write_text('train = "t.jsonl"\nlora_rank = 8\n', "utf-8")
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "train", "--config", str(tmp_path / "lora.toml"))
    assert code == 78 and "lora_rank" in err and "lora_r" in err


def test_train_missing_and_empty_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "train", "--train", str(tmp_path / "none.jsonl"))
    assert code == 66 and "training data not found" in err
    (tmp_path / "empty.jsonl").write_text("", "utf-8")
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "train", "--train", str(tmp_path / "empty.jsonl"))
    assert code == 65 and "no conversations" in err


def test_train_bad_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "train", "--train", "x.jsonl", "--set", "lr")
    assert code == 65 and "KEY=VALUE" in err


def test_export_and_eval_need_an_adapter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "x")
    assert code == 66 and "not an llmkit adapter" in err
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "Bad Name")
    assert code == 65 and "valid model name" in err
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "eval", str(tmp_path), "--metric", "bleu")
    assert code == 65 and "unknown metric" in err


def _adapter(folder: Path, files: tuple[str, ...] = ("adapter_config.json", "adapter_model.safetensors")) -> Path:
    record = {"base": {"name": "m", "sha256": "0" * 64, "hf_dir": str(folder), "gguf": None}, "dataset": {}}
    (folder / "llmkit-train.json").write_text(json.dumps(record), "utf-8")
    for name in files:
        (folder / name).write_text("{}", "utf-8")
    return folder


def test_train_refuses_an_unknown_device_before_anything_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "train", "--train", "x.jsonl", "--set", "device=tpu")
    assert code == 78 and "'auto', 'cpu' or 'cuda'" in err


@pytest.mark.slow  # the scheduler names come from transformers, which imports torch
def test_train_refuses_an_unknown_scheduler_before_anything_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("-C", str(tmp_path), "finetune", "train", "--train", "x.jsonl", "--set")
    code, _, err = run(capsys, *args, "scheduler=bogus")
    assert code == 78 and "unknown scheduler 'bogus'" in err and "cosine" in err
    code, _, err = run(capsys, *args, "scheduler=cosine")
    assert code == 66  # accepted: on to the (missing) data


def test_export_checks_every_name_and_the_adapter_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "x" * 60)
    assert code == 65 and "over 64 characters" in err and "x" * 60 + "-q8_0" in err
    _adapter(tmp_path, files=())
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "m")
    assert code == 66 and "no trained adapter" in err and "adapter_config.json" in err


def test_export_refuses_a_fixed_catalog_name_before_merging(tmp_path: Path) -> None:
    from llmkit.errors import InputError
    from llmkit.finetune.export import Exporter

    (tmp_path / "catalog.toml").write_text(
        f'[[model]]\nname = "mine-q8_0"\n[[model.file]]\nfilename = "m.gguf"\nsha256 = "{"0" * 64}"\n'
        'hf_repo = "a/b"\n', "utf-8"
    )  # fmt: skip
    exporter = Exporter(_adapter(tmp_path), name="mine", levels=["Q8_0"], models_dir=tmp_path / "models")
    with pytest.raises(InputError, match="'mine-q8_0' is a catalog entry"):
        exporter.run()


def test_export_without_a_template_for_a_hf_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _adapter(tmp_path)
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "m", "-q", "Q9")
    assert code == 65 and "unknown quantisation" in err
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "export", str(tmp_path), "--name", "m")
    assert code == 78 and "--template" in err

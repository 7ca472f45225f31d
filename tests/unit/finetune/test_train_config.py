"""The training config: file formats, overrides, relative paths and bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import ConfigError, InputError
from llmkit.finetune.train_config import load_train_config, parse_assignments


def test_toml_with_overrides_and_relative_paths(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg" / "lora.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text('train = "data/train.jsonl"\noutput = "out"\nmax_steps = 10\nlora_r = 8\n', "utf-8")
    cfg = load_train_config(cfg_file, {"max_steps": 3, "seed": None})
    assert cfg.max_steps == 3 and cfg.lora_r == 8 and cfg.seed == 0
    assert cfg.train == str(cfg_file.parent / "data/train.jsonl")
    assert cfg.output == str(cfg_file.parent / "out")


def test_yaml_file(tmp_path: Path) -> None:
    f = tmp_path / "lora.yaml"
    f.write_text("train: /abs/train.jsonl\nlearning_rate: 0.001\ntarget_modules: [q_proj, v_proj]\n", "utf-8")
    cfg = load_train_config(f)
    assert cfg.train == "/abs/train.jsonl" and cfg.learning_rate == 0.001
    assert cfg.target_modules == ("q_proj", "v_proj")


def test_unknown_key_names_the_known_ones(tmp_path: Path) -> None:
    f = tmp_path / "lora.toml"
    f.write_text('train = "t.jsonl"\nlearning_rat = 0.1\n', "utf-8")
    with pytest.raises(ConfigError) as e:
        load_train_config(f)
    assert "learning_rat" in e.value.message and "learning_rate" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("overrides", "word"),
    [({}, "train"), ({"train": "t", "lora_r": 0}, "lora_r"), ({"train": "t", "learning_rate": -1}, "learning_rate")],
)
def test_bad_values(overrides: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        load_train_config(None, overrides)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [("x.toml", "train = [", "cannot parse"), ("x.yaml", "a: [1", "cannot parse"), ("x.ini", "a=1", "format"),
     ("x.yaml", "- 1\n- 2\n", "top level")],
)  # fmt: skip
def test_bad_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    (tmp_path / name).write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=match):
        load_train_config(tmp_path / name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "nope.toml")


def test_parse_assignments() -> None:
    assert parse_assignments(["lr=1e-4", "qlora=true", "base=x=y"]) == {"lr": 1e-4, "qlora": True, "base": "x=y"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_assignments(["oops"])

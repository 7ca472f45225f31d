"""LoRA training on a tiny random Llama: TRL's mask, checkpoints, resume, the record; and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.finetune.base_model import resolve_base
from llmkit.finetune.lora import LoraTrainer, read_record
from llmkit.finetune.train_config import load_train_config

pytestmark = pytest.mark.slow


def _cfg(chat_files: Path, base: Path, **kw: object):
    opts = {"base": str(base), "train": str(chat_files / "train.jsonl"), "output": str(chat_files / "adapter"),
            "max_steps": 4, "batch_size": 4, "save_steps": 2, "logging_steps": 1, "learning_rate": 1e-2,
            "max_length": 64, "threads": 1}  # fmt: skip
    return load_train_config(None, {**opts, **kw})


def test_trl_collator_masks_all_but_the_assistant_reply(tiny_base: Path, chat_files: Path, tmp_path: Path) -> None:
    trainer_ = LoraTrainer(_cfg(chat_files, tiny_base), models_dir=tmp_path)
    train, val = trainer_.read_data()
    base = resolve_base(str(tiny_base), tmp_path, tmp_path)
    sft, masking = trainer_.build_trainer(base, train, val, progress=False)
    assert masking == "assistant"
    batch = sft.data_collator([sft.train_dataset[0]])
    labels = [t for t in batch["labels"][0].tolist() if t != -100]
    assert sft.processing_class.decode(labels) == "The capital of Zorbania is Quillhaven.<|im_end|>"


def test_train_checkpoint_resume_and_record(tiny_base: Path, chat_files: Path, tmp_path: Path) -> None:
    result = LoraTrainer(_cfg(chat_files, tiny_base), models_dir=tmp_path).run(progress=False)
    out = chat_files / "adapter"
    assert result.steps == 4 and (out / "adapter_model.safetensors").is_file()
    assert {"eval_loss", "base_eval_loss", "perplexity", "train_loss"} <= result.metrics.keys()
    assert result.metrics["eval_loss"] < result.metrics["base_eval_loss"]
    record = read_record(out)
    assert record["dataset"]["val"].endswith("val.jsonl") and len(record["dataset"]["sha256"]) == 64
    assert record["config"]["max_steps"] == 4 and record["masking"] == "assistant"
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    resumed = LoraTrainer(_cfg(chat_files, tiny_base, max_steps=6), models_dir=tmp_path).run(
        resume=True, progress=False
    )
    assert resumed.steps == 6
    history = read_record(out)["log_history"]
    assert [h["step"] for h in history if "loss" in h][-2:] == [5, 6]  # continued, not restarted


def test_resume_with_nothing_to_resume(chat_files: Path, tmp_path: Path) -> None:
    cfg = load_train_config(None, {"train": str(chat_files / "train.jsonl"), "output": str(tmp_path / "new")})
    with pytest.raises(InputError, match="nothing to resume"):
        LoraTrainer(cfg, models_dir=tmp_path).run(resume=True)


def test_unknown_base_and_bad_data(chat_files: Path, tmp_path: Path) -> None:
    cfg = load_train_config(None, {"train": str(chat_files / "train.jsonl"), "base": "no-such-model"})
    with pytest.raises(NotFound, match="unknown base model"):
        LoraTrainer(cfg, models_dir=tmp_path, cache_dir=tmp_path).run()
    (chat_files / "bad.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}), "utf-8")
    cfg = load_train_config(None, {"train": str(chat_files / "bad.jsonl"), "base": "no-such-model"})
    with pytest.raises(InputError, match="no assistant"):  # data is checked before the base is looked up
        LoraTrainer(cfg, models_dir=tmp_path).run()
    with pytest.raises(NotFound, match=r"config\.json"):
        resolve_base(str(tmp_path), tmp_path, tmp_path)


def test_weight_zero_turns_get_no_loss_in_trls_batches(tiny_base: Path, chat_files: Path, tmp_path: Path) -> None:
    turns = [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "how are you?", "weight": 0},
             {"role": "user", "content": "What is the capital of Zorbania?"},
             {"role": "assistant", "content": "The capital of Zorbania is Quillhaven."}]  # fmt: skip
    (chat_files / "train.jsonl").write_text(json.dumps({"messages": turns}) + "\n", "utf-8")
    trainer_ = LoraTrainer(_cfg(chat_files, tiny_base), models_dir=tmp_path)
    train, val = trainer_.read_data()
    sft, _ = trainer_.build_trainer(resolve_base(str(tiny_base), tmp_path, tmp_path), train, val, progress=False)
    labels = [t for t in sft.data_collator([sft.train_dataset[0]])["labels"][0].tolist() if t != -100]
    assert sft.processing_class.decode(labels) == "The capital of Zorbania is Quillhaven.<|im_end|>"

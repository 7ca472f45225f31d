"""LoRA training of the chat model: PEFT adapters trained with TRL's ``SFTTrainer`` on transformers.

``LoraTrainer(config).run()`` checks the data before importing anything heavy, resolves the base
(converting a GGUF base to a cached safetensors folder once, see ``base_model``), applies the chat
template with the loss on assistant tokens only (see ``chat_data``), trains with validation loss and
checkpoints under ``output/checkpoints`` (``resume=True`` continues from the last one of the same run, see
``checkpoints``; a folder that holds another run is refused unless ``force=True``), and writes the
adapter with ``llmkit-train.json``: the config, the base (name + sha256), the data (paths + sha256,
and the dataset card if one lies beside the data), the metrics and the library versions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, InputError
from llmkit.finetune.base_model import BaseModelRef, resolve_base
from llmkit.finetune.chat_data import (
    Conversation,
    has_untrained_turns,
    honours_weight,
    prompt_completion,
    read_chat_jsonl,
    training_template,
)
from llmkit.finetune.checkpoints import checkpoint_to_resume, run_fingerprint, write_fingerprint
from llmkit.finetune.train_config import TrainConfig

RECORD = "llmkit-train.json"
CARD_NAMES = ("card.json", "dataset_card.json")


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a run produced: the adapter folder and its metrics (``eval_loss``, ``perplexity`` ...)."""

    adapter_dir: Path
    metrics: dict[str, float]
    steps: int
    seconds: float
    masking: str
    record: dict[str, Any] = field(default_factory=dict)


class LoraTrainer:
    """One LoRA run. ``__init__`` only stores; ``run`` loads the model and trains.

    ``models_dir``/``cache_dir``: where catalog models live and where a GGUF base's safetensors copy is
    cached (default: ``$LLMKIT_HOME/models`` and ``$LLMKIT_HOME/cache``).
    """

    def __init__(self, config: TrainConfig, *, models_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        self.config = config
        if models_dir is None:
            from llmkit.config import load_settings

            models_dir = load_settings().models_dir
        self.models_dir = Path(models_dir)
        self.cache_dir = Path(cache_dir) if cache_dir else self.models_dir.parent / "cache"

    def run(self, *, resume: bool = False, force: bool = False, progress: bool = True) -> TrainResult:
        """Train and save the adapter. ``resume``: continue this run's last checkpoint; ``force``: train
        over another run's adapter and checkpoints in ``output`` (refused otherwise)."""
        cfg = self.config
        train_rows, val_rows = self.read_data()
        out = Path(cfg.output).expanduser()
        fingerprint = run_fingerprint(cfg, Path(cfg.train).expanduser(), self.val_path())
        checkpoint = checkpoint_to_resume(out, fingerprint, resume=resume, force=force)
        base = resolve_base(cfg.base, self.models_dir, self.cache_dir)
        trainer, masking = self.build_trainer(base, train_rows, val_rows, progress=progress)
        before = _eval_loss(trainer) if val_rows and checkpoint is None else None
        write_fingerprint(out, fingerprint)
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        seconds = time.perf_counter() - t0
        metrics = _metrics(trainer, bool(val_rows))
        if before is not None:
            metrics["base_eval_loss"] = before
        (out / RECORD).unlink(missing_ok=True)  # no record describes a half-replaced adapter
        trainer.model.save_pretrained(out)
        trainer.processing_class.save_pretrained(out)
        record = self._record(base, metrics, masking, trainer)
        (out / RECORD).write_text(json.dumps(record, indent=2), "utf-8")
        return TrainResult(out, metrics, trainer.state.global_step, seconds, masking, record)

    def read_data(self) -> tuple[list[Conversation], list[Conversation]]:
        """The train and validation conversations (validation: ``val`` or ``val.jsonl`` beside train)."""
        train = read_chat_jsonl(self.config.train)
        val_path = self.val_path()
        return train, read_chat_jsonl(val_path) if val_path else []

    def val_path(self) -> Path | None:
        if self.config.val:
            return Path(self.config.val).expanduser()
        beside = Path(self.config.train).expanduser().with_name("val.jsonl")
        return beside if beside.is_file() and beside != Path(self.config.train).expanduser() else None

    def build_trainer(
        self, base: BaseModelRef, train: list[Conversation], val: list[Conversation], *, progress: bool = True
    ) -> tuple[Any, str]:
        """The configured ``trl.SFTTrainer`` and how the loss is masked (``assistant`` or ``completion``)."""
        from llmkit.finetune.hf import import_torch, import_transformers, pick_device

        cfg = self.config
        torch, transformers = import_torch(), import_transformers()
        device = pick_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        transformers.set_seed(cfg.seed)
        tokenizer = transformers.AutoTokenizer.from_pretrained(base.hf_dir)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        template = training_template(tokenizer) if cfg.assistant_only_loss else None
        masking = "assistant" if template else ("completion" if cfg.assistant_only_loss else "none")
        if template:
            tokenizer.chat_template = template
        if has_untrained_turns(train + val) and not (masking == "completion" or honours_weight(template or "")):
            raise InputError(
                f"the data marks assistant turns weight 0, which the {masking!r} loss mask cannot leave out",
                hint="remove the weights, or use a base with a ChatML template (llmkit's mask honours them)",
            )
        model = self._load_model(transformers, torch, base, device)
        train_ds, val_ds = _dataset(train, masking), _dataset(val, masking) if val else None
        return _sft_trainer(cfg, model, tokenizer, train_ds, val_ds, masking, device, progress), masking

    def _load_model(self, transformers: Any, torch: Any, base: BaseModelRef, device: str) -> Any:
        kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if _bf16(torch, device) else torch.float32}
        if self.config.qlora:
            kwargs["quantization_config"] = _qlora_config(transformers, torch, device)
        return transformers.AutoModelForCausalLM.from_pretrained(base.hf_dir, **kwargs)

    def _record(self, base: BaseModelRef, metrics: dict[str, float], masking: str, trainer: Any) -> dict[str, Any]:
        import peft
        import transformers
        import trl

        from llmkit import __version__

        cfg = self.config
        return {
            "adapter_dir": str(Path(cfg.output).expanduser().resolve()),
            "base": base.to_json(),
            "dataset": dataset_lineage(Path(cfg.train), self.val_path()),
            "config": cfg.model_dump(mode="json"),
            "masking": masking,
            "scores": metrics,
            "steps": trainer.state.global_step,
            "log_history": trainer.state.log_history,
            "versions": {"llmkit": __version__, "transformers": transformers.__version__, "peft": peft.__version__,
                         "trl": trl.__version__},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip


def dataset_lineage(train: Path, val: Path | None) -> dict[str, Any]:
    """Paths and sha256 of the data files, plus the dataset card's own record when there is one."""
    from llmkit.models.fetch import sha256_file

    out: dict[str, Any] = {"train": str(train), "train_sha256": sha256_file(train)}
    if val:
        out.update(val=str(val), val_sha256=sha256_file(val))
    for name in CARD_NAMES:
        card = train.with_name(name)
        if card.is_file():
            out.update(card=str(card), card_sha256=sha256_file(card))
            try:
                card_data = json.loads(card.read_text("utf-8"))
            except ValueError:
                card_data = None
            if isinstance(card_data, dict) and "sha256" in card_data:
                out["sha256"] = card_data["sha256"]
    out.setdefault("sha256", out["train_sha256"])
    return out


def read_record(adapter_dir: str | Path) -> dict[str, Any]:
    """``llmkit-train.json`` of an adapter folder (``NotFound`` if the folder is not one)."""
    from llmkit.errors import NotFound

    path = Path(adapter_dir).expanduser() / RECORD
    if not path.is_file():
        raise NotFound(f"{adapter_dir} is not an llmkit adapter (no {RECORD})", hint="train one: llmkit finetune train")
    return json.loads(path.read_text("utf-8"))


def check_adapter_files(adapter_dir: str | Path) -> None:
    """``NotFound`` unless the folder holds PEFT's ``adapter_config.json`` and ``adapter_model.*`` weights."""
    from llmkit.errors import NotFound

    folder = Path(adapter_dir).expanduser()
    missing = [] if (folder / "adapter_config.json").is_file() else ["adapter_config.json"]
    if not any((folder / f"adapter_model.{ext}").is_file() for ext in ("safetensors", "bin")):
        missing.append("adapter_model.safetensors")
    if missing:
        raise NotFound(f"{adapter_dir} holds no trained adapter (no {' or '.join(missing)})",
                       hint="train it again: llmkit finetune train")  # fmt: skip


def _dataset(rows: list[Conversation], masking: str) -> Any:
    from datasets import Dataset

    if masking == "completion":
        return Dataset.from_list([prompt_completion(r) for r in rows])
    return Dataset.from_list([{"messages": r} for r in rows])


def _sft_trainer(
    cfg: TrainConfig, model: Any, tokenizer: Any, train: Any, val: Any, masking: str, device: str, progress: bool
) -> Any:
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    targets = cfg.target_modules if isinstance(cfg.target_modules, str) else list(cfg.target_modules)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")  # fmt: skip
    evals = {"eval_strategy": "steps", "eval_steps": cfg.eval_steps} if cfg.eval_steps else {"eval_strategy": "epoch"}
    args = SFTConfig(
        output_dir=str(Path(cfg.output).expanduser() / "checkpoints"),
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.scheduler, warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay, seed=cfg.seed, data_seed=cfg.seed, max_length=cfg.max_length,
        logging_steps=cfg.logging_steps, save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
        report_to="none", use_cpu=device == "cpu", bf16=_bf16_flag(device), disable_tqdm=not progress,
        assistant_only_loss=masking == "assistant", completion_only_loss=masking == "completion",
        dataloader_num_workers=0, **(evals if val is not None else {"eval_strategy": "no"}),
        **checkpointing_arg(SFTConfig, cfg.gradient_checkpointing),
    )  # fmt: skip
    try:
        trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=val,
                             processing_class=tokenizer, peft_config=lora)  # fmt: skip
    except ValueError as e:
        raise ConfigError(f"cannot set up training: {e}") from None
    if not progress:  # quiet: no per-log prints on stdout either (the CLI's --json owns stdout)
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def checkpointing_arg(config_class: Any, on: bool) -> dict[str, bool]:
    """TRL turns activation checkpointing on by default (a third more compute); llmkit's config decides.
    transformers 5.24 renamed the argument (``gradient_checkpointing`` is a deprecated alias there)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": on}


def _metrics(trainer: Any, has_val: bool) -> dict[str, float]:
    logs = [h for h in trainer.state.log_history if "loss" in h]
    out = {"train_loss": float(logs[-1]["loss"])} if logs else {}
    if has_val:
        ev = trainer.evaluate()
        out["eval_loss"] = float(ev["eval_loss"])
        out["perplexity"] = math.exp(min(out["eval_loss"], 50.0))
    return out


def _eval_loss(trainer: Any) -> float:
    return float(trainer.evaluate()["eval_loss"])


def _bf16(torch: Any, device: str) -> bool:
    return device == "cuda" and torch.cuda.is_bf16_supported()


def _bf16_flag(device: str) -> bool:
    from llmkit.finetune.hf import import_torch

    return _bf16(import_torch(), device)


def _qlora_config(transformers: Any, torch: Any, device: str) -> Any:
    import importlib.util

    if device != "cuda" or importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(
            "qlora needs a CUDA device and bitsandbytes", hint="pip install bitsandbytes, or qlora = false"
        )
    return transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if _bf16(torch, device) else torch.float16,
    )  # fmt: skip

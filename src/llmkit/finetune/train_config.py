"""The LoRA training configuration: a TOML or YAML file, then overrides (``--set key=value``, flags).

Keys equal field names of ``TrainConfig``; an unknown key is an error that names the known ones::

    # lora.toml
    base = "smollm2-135m-instruct"   # catalog name, .gguf file or Hugging Face model folder
    train = "data/train.jsonl"       # chat JSONL ({"messages": [...]}), e.g. from `llmkit finetune prepare`
    val = "data/val.jsonl"
    output = "adapters/support"
    max_steps = 200
    learning_rate = 2e-4
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmkit.errors import ConfigError, InputError


class TrainConfig(BaseModel):
    """Everything one LoRA run depends on; stored with the adapter and in the exported model's lineage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field("smollm2-135m-instruct", description="catalog name, .gguf path or Hugging Face model folder")
    train: str = Field(..., description="chat JSONL with the training conversations")
    val: str | None = Field(None, description="chat JSONL for validation loss (default: val.jsonl beside train)")
    output: str = Field("adapter", description="folder for the adapter, its config, metrics and checkpoints")
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: tuple[str, ...] | str = Field("all-linear", description="PEFT target modules")
    learning_rate: float = Field(2e-4, gt=0, le=1)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="optimizer steps (-1: run the epochs)")
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=16, description="tokens per example (longer ones are truncated)")
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    scheduler: str = Field("linear", description="transformers lr scheduler name")
    seed: int = 0
    assistant_only_loss: bool = Field(True, description="loss on assistant tokens only")
    eval_steps: int | None = Field(None, ge=1, description="validation every N steps (default: at each epoch end)")
    save_steps: int = Field(50, ge=1, description="checkpoint every N steps")
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(10, ge=1)
    qlora: bool = Field(False, description="4-bit base weights (needs CUDA and bitsandbytes)")
    gradient_checkpointing: bool = False
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto (CUDA when present), cpu or cuda")
    threads: int | None = Field(None, ge=1, description="torch CPU threads")

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, name: str) -> str:
        try:  # here, not at import: llmkit must import without transformers
            from transformers import SchedulerType
        except ImportError:
            return name  # training itself then says which extra is missing
        known = [s.value for s in SchedulerType]
        if name not in known:
            raise ValueError(f"unknown scheduler {name!r} (known: {', '.join(known)})")
        return name


def load_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config from ``path`` (``.toml``, ``.yaml``/``.yml``; relative paths in it are relative to the
    file) with ``overrides`` on top (``None`` values ignored).

    >>> load_train_config(None, {"train": "t.jsonl", "max_steps": 5}).max_steps
    5
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_file(Path(path))
        for key in ("train", "val", "output"):
            if isinstance(data.get(key), str) and not Path(data[key]).expanduser().is_absolute():
                data[key] = str(Path(path).parent / data[key])
        base = data.get("base")
        if isinstance(base, str) and (Path(path).parent / base).exists() and not Path(base).is_absolute():
            data["base"] = str(Path(path).parent / base)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return TrainConfig(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors())
        known = ", ".join(TrainConfig.model_fields)
        raise ConfigError(f"bad training config: {problems}", hint=f"known keys: {known}") from None


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["max_steps=5", "base=x"]`` -> a dict; values are JSON where they parse, else strings.

    >>> parse_assignments(["max_steps=5", "base=my-model", "target_modules=[\\"q_proj\\"]"])
    {'max_steps': 5, 'base': 'my-model', 'target_modules': ['q_proj']}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set learning_rate=1e-4")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"training config not found: {path}")
    text = path.read_text("utf-8")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"{path}: unknown config format", hint="use a .toml, .yaml or .yml file")
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except ImportError:
        raise ConfigError(f"{path}: YAML needs PyYAML", hint="use a .toml file or pip install pyyaml") from None
    except Exception as e:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise ConfigError(f"{path}: cannot parse ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of keys at the top level")
    return data

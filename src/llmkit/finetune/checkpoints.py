"""Which run an adapter folder belongs to: its checkpoints carry the fingerprint of the run that wrote them.

``output/checkpoints/llmkit-run.json`` holds the config that shapes the weights and the sha256 of the
training and validation files. A new run refuses a folder that already holds an adapter or checkpoints
(unless forced, which clears the checkpoints); ``--resume`` continues only the run with the same
fingerprint, so an adapter never mixes one run's weights with another run's data in its record.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llmkit.errors import InputError
from llmkit.finetune.train_config import TrainConfig

RUN_FILE = "llmkit-run.json"
#: Files of a trained adapter (besides checkpoints) that a new run would overwrite.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "llmkit-train.json")
#: Settings a resumed run may change: how long it runs, and where and how it logs, saves and computes.
RESUMABLE = frozenset({"epochs", "max_steps", "output", "eval_steps", "save_steps", "save_total_limit",
                       "logging_steps", "device", "threads", "train", "val"})  # fmt: skip


def run_fingerprint(config: TrainConfig, train: Path, val: Path | None) -> dict[str, Any]:
    """What a checkpoint must share with the run that resumes it: the config (but ``RESUMABLE``) and the data.

    Data counts by content (sha256), not path, so a moved dataset folder still resumes.
    """
    from llmkit.models.fetch import sha256_file

    shaping = {k: v for k, v in config.model_dump(mode="json").items() if k not in RESUMABLE}
    data = {"train_sha256": sha256_file(train), "val_sha256": sha256_file(val) if val else None}
    return {"config": shaping, "data": data}


def checkpoint_to_resume(output: Path, fingerprint: dict[str, Any], *, resume: bool, force: bool) -> Path | None:
    """The checkpoint to continue from (``resume``), or ``None`` once ``output`` is ready for a new run.

    Raises ``InputError`` for a new run in a folder that holds an adapter or checkpoints (``force``
    clears the checkpoints instead), and for a resume whose checkpoints are missing or belong to
    another run (another config or other data).
    """
    folder = output / "checkpoints"
    last = last_checkpoint(folder)
    if resume:
        if last is None:
            raise InputError(f"nothing to resume in {folder}", hint="run without --resume first")
        _check_same_run(folder, fingerprint)
        return last
    held = [name for name in ADAPTER_FILES if (output / name).is_file()] + (["checkpoints/"] if last else [])
    if held and not force:
        raise InputError(
            f"{output} already holds a trained adapter or checkpoints ({', '.join(held)})",
            hint="choose another --output, --resume to continue that run, or --force to train over it",
        )
    shutil.rmtree(folder, ignore_errors=True)
    return None


def write_fingerprint(output: Path, fingerprint: dict[str, Any]) -> None:
    """Store ``fingerprint`` beside the checkpoints the run is about to write."""
    folder = output / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text(json.dumps(fingerprint, indent=2), "utf-8")


def last_checkpoint(folder: Path) -> Path | None:
    """The ``checkpoint-N`` folder with the highest ``N``, if any."""
    steps = [(int(p.name.split("-")[-1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(steps)[1] if steps else None


def _check_same_run(folder: Path, fingerprint: dict[str, Any]) -> None:
    hint = "resume with the same config and data, or start again without --resume (--force to reuse the folder)"
    try:
        stored = json.loads((folder / RUN_FILE).read_text("utf-8"))
        if not isinstance(stored, dict):
            raise ValueError
    except (OSError, ValueError):
        raise InputError(
            f"the checkpoints in {folder} have no readable {RUN_FILE}: not this run's", hint=hint
        ) from None
    differ = [f"config {k}" for k in sorted(fingerprint["config"].keys() | stored.get("config", {}).keys())
              if fingerprint["config"].get(k) != stored.get("config", {}).get(k)]  # fmt: skip
    differ += [f"{k.removesuffix('_sha256')} data" for k, v in fingerprint["data"].items()
               if v != stored.get("data", {}).get(k)]  # fmt: skip
    if differ:
        raise InputError(f"the checkpoints in {folder} belong to another run ({', '.join(differ)} differ)", hint=hint)

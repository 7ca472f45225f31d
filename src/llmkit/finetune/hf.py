"""Importing the ``finetune`` extra (torch, transformers, peft, trl) with a clear message when it is missing."""

from __future__ import annotations

from typing import Any

from llmkit.errors import MissingExtra


def import_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise MissingExtra("transformers", "finetune") from None
    transformers.logging.set_verbosity_error()
    return transformers


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtra("torch", "finetune") from None
    return torch


def pick_device(requested: str = "auto") -> str:
    """``cuda`` when asked for or (``auto``) when present, else ``cpu``."""
    torch = import_torch()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        from llmkit.errors import ConfigError

        raise ConfigError("device = 'cuda' but torch sees no CUDA device", hint="use device = 'auto' or 'cpu'")
    return requested

"""Write a PEFT LoRA adapter as a GGUF LoRA adapter that llama.cpp applies at run time (unmerged).

The format is the one llama.cpp's ``convert_lora_to_gguf.py`` writes: ``general.type = "adapter"``,
``adapter.type = "lora"``, ``adapter.lora.alpha``, and for each adapted weight ``W`` (by its GGUF name)
two tensors ``W.lora_a`` (rank x in) and ``W.lora_b`` (out x rank). llama.cpp adds
``scale * alpha / rank * B @ A`` to ``W``'s output, with ``scale`` chosen when loading (``lora_scale``).
As in ``gguf_export``, Llama's Q and K rows are permuted the way llama.cpp stores them: permuting the
rows of B permutes the rows of ``B @ A``. rsLoRA's ``alpha / sqrt(rank)`` is written as the equivalent
``alpha * sqrt(rank)`` for llama.cpp's ``alpha / rank``; DoRA and fully trained extra modules
(``modules_to_save``) have no GGUF form and are refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, InputError
from llmkit.finetune.gguf_export import SUPPORTED, _import_gguf, permute_qk

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def peft_module(key: str) -> tuple[str, str] | None:
    """``(HF weight name, "a" | "b")`` for a PEFT LoRA tensor key; ``None`` for other tensors.

    >>> peft_module("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
    ('model.layers.0.self_attn.q_proj.weight', 'a')
    >>> peft_module("base_model.model.model.layers.0.mlp.up_proj.lora_B.default.weight")
    ('model.layers.0.mlp.up_proj.weight', 'b')
    """
    for marker, part in ((".lora_A.", "a"), (".lora_B.", "b")):
        if marker in key:
            module = key.split(marker)[0].removeprefix("base_model.model.")
            return f"{module}.weight", part
    return None


def lora_alpha(config: dict[str, Any]) -> float:
    """The ``adapter.lora.alpha`` that gives llama.cpp's ``alpha / rank`` PEFT's scaling.

    >>> lora_alpha({"r": 16, "lora_alpha": 32}), lora_alpha({"r": 16, "lora_alpha": 32, "use_rslora": True})
    (32.0, 128.0)
    """
    alpha, rank = float(config["lora_alpha"]), int(config["r"])
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha


def write_lora_gguf(adapter_dir: str | Path, base_config: Any, out: str | Path) -> Path:
    """Write the PEFT adapter in ``adapter_dir`` (trained on a base with HF ``base_config``) as GGUF at ``out``."""
    gguf = _import_gguf()
    adapter_dir, out = Path(adapter_dir), Path(out)
    config = _adapter_config(adapter_dir)
    arch = getattr(base_config, "model_type", None)
    if arch not in SUPPORTED:
        raise ConfigError(f"runtime LoRA export supports {', '.join(SUPPORTED)} models, not {arch!r}")
    tensors = _gguf_tensors(gguf, _read_weights(adapter_dir), base_config, arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", lora_alpha(config))
    writer.add_string("general.name", adapter_dir.name)
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def _adapter_config(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / ADAPTER_CONFIG
    if not path.is_file():
        raise InputError(f"{adapter_dir} has no {ADAPTER_CONFIG}: not a PEFT adapter folder")
    config = json.loads(path.read_text("utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        raise ConfigError(f"only LoRA adapters have a GGUF form, not {config['peft_type']}")
    if config.get("use_dora"):
        raise ConfigError("DoRA adapters have no llama.cpp runtime form", hint="merge it: llmkit finetune export")
    if config.get("modules_to_save"):
        raise ConfigError(
            f"the adapter fully trains {config['modules_to_save']}, which a GGUF LoRA cannot carry",
            hint="serve the merged export instead (llmkit finetune export)",
        )
    return config


def _read_weights(adapter_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file  # torch: a GPU run may have saved bf16, which numpy lacks

    path = adapter_dir / ADAPTER_WEIGHTS
    if not path.is_file():
        raise InputError(f"{adapter_dir} has no {ADAPTER_WEIGHTS}")
    return {k: v.float().numpy() for k, v in load_file(str(path)).items()}


def _gguf_tensors(gguf: Any, weights: dict[str, Any], config: Any, arch: str) -> dict[str, Any]:
    import numpy as np

    model_arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    names = gguf.get_tensor_name_map(model_arch, config.num_hidden_layers)
    heads = {"q_proj": config.num_attention_heads,
             "k_proj": getattr(config, "num_key_value_heads", None) or config.num_attention_heads}  # fmt: skip
    out: dict[str, Any] = {}
    for key, value in weights.items():
        found = peft_module(key)
        if found is None:
            raise ConfigError(f"adapter tensor {key!r} is not a LoRA A/B matrix", hint="serve the merged export")
        hf_name, part = found
        name = names.get_name(hf_name, try_suffixes=(".weight",))
        if name is None:
            raise ConfigError(f"no GGUF name for the adapted weight {hf_name!r}")
        data = np.asarray(value, dtype=np.float32)
        proj = hf_name.rsplit(".", 2)[-2]
        if part == "b" and SUPPORTED[arch] and proj in heads:
            data = permute_qk(data, heads[proj])
        out[f"{name}.lora_{part}"] = data
    if not out:
        raise ConfigError("the adapter holds no LoRA tensors")
    return out

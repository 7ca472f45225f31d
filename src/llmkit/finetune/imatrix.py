"""An importance matrix for llama.cpp's quantiser, computed with the model in torch.

llama.cpp's ``llama-imatrix`` runs calibration text through the model and keeps, for every weight
matrix, the mean square of each input column's activation; the quantiser then weighs each weight's
rounding error by it, so the columns that carry the most signal keep the most precision. The
llama-cpp-python wheel has no ``llama-imatrix`` binary, but the numbers are simple to collect where the
merged model already is: a forward hook on every ``nn.Linear`` sums ``x**2`` per input column over the
calibration tokens. Names are the GGUF tensor names (``blk.0.attn_q.weight``); a tied output layer
(SmolLM2) is ``token_embd.weight``, the tensor llama.cpp multiplies by there. Llama's Q/K permutation
reorders output rows only, so the per-input-column numbers need no permutation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmkit.errors import InputError


def importance_matrix(model: Any, tokenizer: Any, texts: Sequence[str], *, max_tokens: int = 512) -> dict[str, Any]:
    """GGUF tensor name -> mean squared input activation per column (float32), over ``texts``."""
    import numpy as np
    import torch

    if not texts:
        raise InputError("an importance matrix needs calibration text", hint="train with some data first")
    names = gguf_linear_names(model)
    sums: dict[str, Any] = {}
    counts: dict[str, int] = dict.fromkeys(names.values(), 0)

    def hook(name: str) -> Any:
        def collect(_module: Any, inputs: tuple[Any, ...], _output: Any) -> None:
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            sums[name] = sums.get(name, 0) + (x * x).sum(0)
            counts[name] += x.shape[0]

        return collect

    handles = [module.register_forward_hook(hook(names[n])) for n, module in model.named_modules() if n in names]
    try:
        with torch.no_grad():
            for text in texts:
                ids = tokenizer(text, return_tensors="pt").input_ids[:, :max_tokens]
                model(ids.to(model.device))
    finally:
        for handle in handles:
            handle.remove()
    return {name: (total / counts[name]).float().cpu().numpy().astype(np.float32) for name, total in sums.items()}


def gguf_linear_names(model: Any) -> dict[str, str]:
    """Module name -> GGUF weight name for every linear layer llama.cpp multiplies by."""
    import torch

    from llmkit.finetune.gguf_export import _import_gguf

    gguf = _import_gguf()
    config = model.config
    arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}.get(config.model_type)
    if arch is None:
        raise InputError(f"no GGUF names for {config.model_type!r} models")
    table = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    tied = getattr(config, "tie_word_embeddings", False)
    out = {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        gguf_name = table.get_name(f"{name}.weight", try_suffixes=(".weight",))
        if gguf_name == "output.weight" and tied:
            gguf_name = "token_embd.weight"
        if gguf_name is not None:
            out[name] = gguf_name
    return out

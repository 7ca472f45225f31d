"""Write a merged Hugging Face model as a GGUF file, with the ``gguf`` package, from a template GGUF.

Why not llama.cpp's ``convert_hf_to_gguf.py``: it is not installed with llama-cpp-python (it lives in
the sdist's ``vendor/llama.cpp``), it imports torch-side helpers of its own version, and it rebuilds the
tokenizer metadata from ``tokenizer.json`` (and needs a hash table of known pre-tokenizers to do it). The
tuned model keeps its base's tokenizer, so the base GGUF already holds the exact metadata llama.cpp needs:
this writer copies every key of the template (vocabulary, merges, special tokens, chat template, rope
settings), maps each HF tensor name to its GGUF name with ``gguf.get_tensor_name_map`` and writes the
weights as F16 (norms as F32). Llama's Q and K projections are permuted the way llama.cpp's converter
does (transformers undoes that permutation when it loads a GGUF). The set of tensors written must equal
the template's, so a mismatched template fails before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, MissingExtra

#: Architectures whose tensors this writer maps (llama: Q/K permuted; the others as they are).
SUPPORTED = {"llama": True, "qwen2": False, "qwen3": False}


def permute_qk(weights: Any, n_head: int) -> Any:
    """Llama's rotary layout as llama.cpp expects it (the inverse of transformers' GGUF loader).

    >>> import numpy as np
    >>> permute_qk(np.arange(8).reshape(8, 1), 2).ravel().tolist()
    [0, 2, 1, 3, 4, 6, 5, 7]
    """
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def write_gguf(state: Mapping[str, Any], config: Any, template: Path, out: Path) -> Path:
    """Write ``state`` (HF tensor name -> torch tensor) as an F16 GGUF at ``out``, metadata from ``template``."""
    gguf = _import_gguf()
    reader = gguf.GGUFReader(str(template))
    arch = _field(reader, "general.architecture")
    if arch not in SUPPORTED:
        raise ConfigError(f"GGUF export supports {', '.join(SUPPORTED)} models, not {arch!r}")
    _check_shape(reader, arch, config)
    arrays = _gguf_tensors(gguf, state, config, arch)
    expected = {t.name for t in reader.tensors}
    missing, extra = expected - arrays.keys(), arrays.keys() - expected
    if missing or extra:
        raise ConfigError(
            f"the model's tensors do not match the template GGUF {template.name}",
            hint=f"missing: {sorted(missing)[:5]}, unexpected: {sorted(extra)[:5]}",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch)
    _copy_metadata(gguf, reader, writer)
    for t in reader.tensors:  # the template's order
        writer.add_tensor(t.name, arrays[t.name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _gguf_tensors(gguf: Any, state: Mapping[str, Any], config: Any, arch: str) -> dict[str, Any]:
    import numpy as np

    model_arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    names = gguf.get_tensor_name_map(model_arch, config.num_hidden_layers)
    n_head = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_head
    out: dict[str, Any] = {}
    for hf_name, tensor in state.items():
        if hf_name == "lm_head.weight" and getattr(config, "tie_word_embeddings", False):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ConfigError(f"no GGUF name for tensor {hf_name!r}")
        data = tensor.detach().float().cpu().numpy()
        if SUPPORTED[arch] and hf_name.endswith("q_proj.weight"):
            data = permute_qk(data, n_head)
        elif SUPPORTED[arch] and hf_name.endswith("k_proj.weight"):
            data = permute_qk(data, n_kv)
        out[name] = data.astype(np.float16) if data.ndim == 2 else data.astype(np.float32)
    return out


def _copy_metadata(gguf: Any, reader: Any, writer: Any) -> None:
    skip = {"general.architecture", "general.file_type", "general.quantization_version"}
    for field in reader.fields.values():
        if field.name in skip or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)


def _check_shape(reader: Any, arch: str, config: Any) -> None:
    for key, want in (("embedding_length", config.hidden_size), ("block_count", config.num_hidden_layers)):
        got = _field(reader, f"{arch}.{key}")
        if got != want:
            raise ConfigError(f"template GGUF has {arch}.{key}={got}, the model {want}: not the same architecture")


def _field(reader: Any, name: str) -> Any:
    field = reader.fields.get(name)
    return field.contents() if field is not None else None


def _import_gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise MissingExtra("gguf", "finetune") from None
    return gguf

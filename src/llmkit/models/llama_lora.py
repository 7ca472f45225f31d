"""LoRA adapters applied at run time by llama.cpp: a GGUF adapter on top of a loaded base, unmerged.

``[model] lora = "support-lora"`` (a catalog name, as ``llmkit finetune export`` registers it) or a path
to a GGUF adapter file; ``lora_scale`` sets its strength. Both llama.cpp backends apply it
(``LlamaCppModel`` and the batched ``BatchedLlamaModel``). One base file can then serve several
adapters without a merged copy of the weights per adapter.

Checked before llama.cpp sees the file: that it is a GGUF *LoRA adapter* and that its architecture is
the model's; llama.cpp itself checks every tensor's shape against the base and refuses a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from llmkit.config import Settings


@dataclass(frozen=True, slots=True)
class LoraAdapter:
    """A GGUF LoRA adapter file, the name it goes by, and the scale it is applied with."""

    path: Path
    name: str
    scale: float = 1.0


def lora_from_settings(settings: Settings) -> LoraAdapter | None:
    """The adapter ``settings.model.lora`` names (``None`` when unset)."""
    m = settings.model
    if not m.lora:
        return None
    if m.lora.lower().endswith(".gguf"):
        path = settings.resolve(m.lora)
        return LoraAdapter(path, path.stem, m.lora_scale)
    from llmkit.models.catalog import Catalog

    catalog = Catalog(settings.models_dir)
    kind = catalog.entry(m.lora).kind
    if kind != "lora":
        raise ConfigError(f"model.lora={m.lora!r} is a {kind} model, not a LoRA adapter")
    return LoraAdapter(catalog.path(m.lora), m.lora, m.lora_scale)


def check_adapter(adapter: LoraAdapter, model_path: Path) -> None:
    """Refuse a file that is not a LoRA adapter, or one made for another architecture than the model's."""
    from llmkit.models.gguf import read_metadata

    meta = read_metadata(adapter.path)
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise ConfigError(
            f"{adapter.path} is not a GGUF LoRA adapter",
            hint="write one with `llmkit finetune export` (NAME-lora) or llama.cpp's convert_lora_to_gguf.py",
        )
    want, got = read_metadata(model_path).get("general.architecture"), meta.get("general.architecture")
    if want != got:
        raise ConfigError(f"the LoRA adapter {adapter.name} is for {got!r} models; {model_path.name} is {want!r}")


def attach(llama_cpp: Any, model: Any, context: Any, adapter: LoraAdapter) -> Any:
    """Load ``adapter`` for the llama.cpp ``model`` pointer and apply it to ``context``; the handle.

    The handle is freed with ``llama_cpp.llama_adapter_lora_free`` before the model is.
    """
    import ctypes

    handle = llama_cpp.llama_adapter_lora_init(model, str(adapter.path).encode("utf-8"))
    if not handle:
        raise BackendUnavailable(
            f"llama.cpp could not apply the LoRA adapter {adapter.path}",
            hint="its tensors do not fit this model: was it trained on another base?",
        )
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
    scales = (ctypes.c_float * 1)(adapter.scale)
    if llama_cpp.llama_set_adapters_lora(context, adapters, 1, scales):
        llama_cpp.llama_adapter_lora_free(handle)
        raise BackendUnavailable(f"llama.cpp could not set the LoRA adapter {adapter.path} on the context")
    return handle

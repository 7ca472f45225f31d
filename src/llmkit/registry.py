"""Which backend serves the configured model or embedder: a dict registry with detection.

Detection on ``settings.model`` (and likewise ``settings.embedder``), first match wins:

==============================================  =============================================
``base_url`` set, or ``name`` is ``http(s)://…``  OpenAI-compatible (``openai``)
``name`` is ``BACKEND:model`` (a known backend)   that backend (built-in or an entry point)
``name`` ends with ``.gguf`` (``.onnx``)          llama.cpp (ONNX) on that file
``name`` is a catalog entry                       the catalog's file (``NotFound`` if not pulled)
anything else                                     ``NotFound``, naming the choices
==============================================  =============================================

A local GGUF (the ``.gguf`` and catalog rows) goes to the batched engine (``llama_batch``) when
``model.parallel > 1``, else to ``llama_cpp``.

A URL name is the server's base URL; the model id is its ``#fragment`` (``http://gpu:8000/v1#qwen``),
or ``default``.

Backends are classes with a ``from_settings(settings)`` classmethod. The built-ins are declared both
here and as entry points (groups ``llmkit.models`` and ``llmkit.embedders`` in pyproject.toml); a
plugin registers the same way, and entry points are read only when a name is not built in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmkit.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.embeddings.base import Embedder
    from llmkit.models.base import ChatModel

CHAT_BACKENDS: dict[str, str] = {
    "llama_cpp": "llmkit.models.llama_cpp:LlamaCppModel",
    "llama_batch": "llmkit.models.llama_batch:BatchedLlamaModel",
    "openai": "llmkit.models.openai_compat:OpenAIChatModel",
}
EMBEDDER_BACKENDS: dict[str, str] = {
    "onnx": "llmkit.embeddings.onnx_minilm:OnnxEmbedder",
    "openai": "llmkit.embeddings.openai_compat:OpenAIEmbedder",
}
_GROUPS = {"chat": ("llmkit.models", CHAT_BACKENDS), "embedder": ("llmkit.embedders", EMBEDDER_BACKENDS)}


def load_chat_model(settings: Settings) -> ChatModel:
    """The chat model ``settings.model`` names (cheap: the model itself loads on first use)."""
    backend = detect_backend(settings, "chat")
    if settings.model.lora and backend not in ("llama_cpp", "llama_batch"):
        raise ConfigError(
            f"model.lora applies to local GGUF models (llama.cpp), not to the {backend} backend",
            hint="unset model.lora, or serve the merged export (llmkit finetune export) by name",
        )
    return backend_class("chat", backend).from_settings(settings)


def load_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.embedder`` names (cheap: the model itself loads on first use)."""
    backend = detect_backend(settings, "embedder")
    return backend_class("embedder", backend).from_settings(settings)


def detect_backend(settings: Settings, role: str) -> str:
    """The backend name for ``settings.model`` (``role="chat"``) or ``settings.embedder`` (``"embedder"``)."""
    section = settings.model if role == "chat" else settings.embedder
    name = section.name
    if section.base_url or is_url(name):
        return "openai"
    prefix, sep, _ = name.partition(":")
    if sep and prefix in available_backends(role):
        return prefix
    suffix = ".gguf" if role == "chat" else ".onnx"
    local = "llama_batch" if role == "chat" and settings.model.parallel > 1 else "llama_cpp"
    if name.lower().endswith(suffix):
        return local if role == "chat" else "onnx"
    from llmkit.models.catalog import Catalog

    catalog = Catalog(settings.models_dir)
    if name in catalog:
        kind = catalog.entry(name).kind
        if kind != role:
            raise ConfigError(f"{name!r} is a {kind} model; it cannot serve as the {role} model")
        return local if role == "chat" else "onnx"
    known = ", ".join(e.name for e in catalog.entries() if e.kind == role)
    key = "model" if role == "chat" else "embedder"
    raise NotFound(
        f"no {role} backend for {key}.name={name!r}",
        hint=f"use a catalog name ({known}), a {suffix} path, or set {key}.base_url for an OpenAI-compatible server",
    )


def split_model_name(name: str, backend: str) -> tuple[str | None, str]:
    """``(base_url, model_id)`` for a model name that may be a URL or prefixed with ``backend:``.

    >>> split_model_name("http://gpu:8000/v1#qwen2.5-7b", "openai")
    ('http://gpu:8000/v1', 'qwen2.5-7b')
    >>> split_model_name("https://api.example.com/v1", "openai")
    ('https://api.example.com/v1', 'default')
    >>> split_model_name("openai:gpt-4o-mini", "openai")
    (None, 'gpt-4o-mini')
    >>> split_model_name("llama3:8b", "openai")
    (None, 'llama3:8b')
    """
    if is_url(name):
        url, _, fragment = name.partition("#")
        return url, fragment or "default"
    prefix = f"{backend}:"
    return (None, name[len(prefix) :]) if name.startswith(prefix) and len(name) > len(prefix) else (None, name)


def is_url(name: str) -> bool:
    return name.lower().startswith(("http://", "https://"))


def available_backends(role: str) -> list[str]:
    """Built-in backend names, then any entry-point ones (read on call, not at import)."""
    group, builtins = _GROUPS[role]
    return [*builtins, *(ep.name for ep in _entry_points(group) if ep.name not in builtins)]


def backend_class(role: str, backend: str) -> Any:
    """The class registered as ``backend`` for ``role`` (imported now)."""
    group, builtins = _GROUPS[role]
    if backend in builtins:
        module, _, attr = builtins[backend].partition(":")
        return getattr(importlib.import_module(module), attr)
    for ep in _entry_points(group):
        if ep.name == backend:
            return ep.load()
    raise NotFound(f"no {role} backend named {backend!r}", hint=f"available: {', '.join(available_backends(role))}")


def _entry_points(group: str) -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=group))

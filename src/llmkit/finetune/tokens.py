"""Token counts with the base model's own tokenizer and chat template, and their statistics.

A GGUF base (a catalog name such as ``smollm2-135m-instruct`` or a ``.gguf`` path) is opened by
llama.cpp with ``vocab_only=True``: the vocabulary and template without the weights, in a fraction of a
second. A Hugging Face model folder is read by ``transformers``' tokenizer and its chat template.
Any object with ``name``, ``context_window`` and ``count_message_tokens`` works (the test fakes do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from llmkit.errors import ConfigError, InputError, MissingExtra, ModelError, NotFound
from llmkit.types import Message


@runtime_checkable
class TokenCounter(Protocol):
    """What data preparation needs from a base model: its name, context window and a token count."""

    name: str

    @property
    def context_window(self) -> int: ...

    def count_message_tokens(self, messages: Sequence[Message]) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenStats:
    """Token lengths of a set of conversations (chat template included)."""

    count: int
    min: int
    p50: int
    p95: int
    max: int
    mean: float
    total: int


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values.

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)
    (5, 10)
    """
    if not sorted_values:
        raise InputError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def token_stats(lengths: Sequence[int]) -> TokenStats | None:
    """Count, min, p50, p95, max, mean and total of ``lengths`` (``None`` when there are none).

    >>> token_stats([30, 10, 20])
    TokenStats(count=3, min=10, p50=20, p95=30, max=30, mean=20.0, total=60)
    """
    if not lengths:
        return None
    s = sorted(lengths)
    return TokenStats(len(s), s[0], percentile(s, 50), percentile(s, 95), s[-1], round(sum(s) / len(s), 1), sum(s))


class GgufTokenCounter:
    """Token counts from a GGUF file's vocabulary and chat template (llama.cpp, ``vocab_only``)."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self._llm: Any = None
        self._formatter: Any = None
        self._tool_role = False

    @property
    def context_window(self) -> int:
        """The context the model was trained with (the longest sequence worth training on)."""
        from llmkit.models.gguf import context_length, read_metadata

        return context_length(read_metadata(self.path)) or 2048

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        from llmkit.models.llama_template import render_prompt

        llm = self._load()
        return len(render_prompt(self._formatter, llm.tokenize, messages, tool_role=self._tool_role))

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        from llmkit.models.gguf import read_metadata

        metadata = read_metadata(self.path)  # NotFound / not GGUF, before llama.cpp sees the file
        try:
            import llama_cpp
            from llama_cpp import _internals
            from llama_cpp._logger import set_verbose
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise MissingExtra("llama-cpp-python", "local") from None
        set_verbose(False)
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True  # the vocabulary without the weights: no context, a fraction of a second
        try:
            model = _internals.LlamaModel(path_model=str(self.path), params=params, verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(f"llama.cpp could not read the vocabulary of {self.path}: {e}") from None
        from llmkit.models.llama_template import CHATML, has_tool_role, special_text

        eos, bos = special_text(model, model.token_eos()), special_text(model, model.token_bos())
        template = str(metadata.get("tokenizer.chat_template") or CHATML)
        # The whole conversation is the sequence trained on: no generation prompt after the last turn.
        self._formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=False)
        self._tool_role = has_tool_role(metadata)
        self._llm = model
        return model


class HfTokenCounter:
    """Token counts from a Hugging Face model folder's tokenizer and chat template (``transformers``)."""

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.folder = Path(folder)
        self.name = name or self.folder.name
        self._tok: Any = None

    @property
    def context_window(self) -> int:
        import json

        config = self.folder / "config.json"
        data = json.loads(config.read_text("utf-8")) if config.is_file() else {}
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            if isinstance(data.get(key), int) and data[key] > 0:
                return data[key]
        limit = getattr(self._load(), "model_max_length", 0)
        return int(limit) if 0 < limit < 1_000_000 else 2048

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        tok = self._load()
        try:
            ids = tok.apply_chat_template([m.to_dict() for m in messages], tokenize=True, return_dict=False)
        except Exception as e:  # jinja2 errors and the template's raise_exception()
            raise InputError(f"the base model's chat template rejected the conversation: {e}") from None
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def _load(self) -> Any:
        if self._tok is None:
            try:
                from transformers import AutoTokenizer
            except ImportError:
                raise MissingExtra("transformers", "finetune") from None
            tok = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
            if not getattr(tok, "chat_template", None):
                raise ConfigError(f"{self.folder} has no chat template", hint="use an instruct (chat) model as base")
            self._tok = tok
        return self._tok


def token_counter(base: str, models_dir: Path) -> TokenCounter:
    """The counter for ``base``: a Hugging Face folder, a ``.gguf`` path, or a catalog name of a chat model."""
    path = Path(base).expanduser()
    if path.is_dir():
        if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
            raise NotFound(f"{path} holds no tokenizer", hint="give a Hugging Face model folder or a catalog name")
        return HfTokenCounter(path)
    if base.lower().endswith(".gguf"):
        if not path.is_file():
            raise NotFound(f"no model file {path}")
        return GgufTokenCounter(path)
    from llmkit.models.catalog import Catalog

    catalog = Catalog(models_dir)
    if catalog.entry(base).kind != "chat":
        raise InputError(f"{base!r} is not a chat model", hint="the base of a chat dataset is a chat model")
    main = catalog.path(base)
    if main.suffix.lower() != ".gguf":
        raise InputError(f"{base!r} is not a GGUF model", hint="give its Hugging Face folder instead")
    return GgufTokenCounter(main, name=base)

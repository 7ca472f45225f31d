"""Local GGUF chat models on llama.cpp (``llama-cpp-python``).

Every llama.cpp call, loading included, runs on one worker thread owned by the model object:
decode speed depends on it (see bench/decode.py). ``chat`` waits for that thread; ``stream`` yields
pieces from a queue it fills, and a consumer that stops iterating early stops the generation.

The prompt is rendered with the chat template stored in the GGUF file (ChatML if it has none) and
tokenised by the model's own tokenizer, so ``usage`` is llama.cpp's exact count on every response,
streamed ones included. ``completion_tokens`` counts the tokens sampled, the end-of-generation token
excluded (a stop sequence's tokens are included: they were generated).

Reproducibility: a call with a ``seed`` or ``temperature=0`` evaluates its prompt from scratch. Other
calls reuse the KV cache for the prefix they share with the previous call (faster multi-turn chat),
but a token's logits computed alone differ in the last bits from the same token computed in a batch,
so reusing the cache would make a seeded reply depend on what ran before.

Tools and JSON replies: ``params.json_schema`` and ``params.tools`` become a grammar that constrains
sampling (see ``tool_protocol``); with tools the reply is parsed into ``tool_calls`` and, when streamed,
arrives whole in the last chunk.

Context budget: with an explicit ``max_tokens``, a prompt that leaves less room than that raises
``ContextLengthExceeded`` before generating; with ``max_tokens=None`` the reply may use all the room
the prompt leaves (and still raises when the prompt alone fills the window).
"""

from __future__ import annotations

import codecs
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, InputError, MissingExtra
from llmkit.models import tool_protocol
from llmkit.models.llama_lora import LoraAdapter, check_adapter, lora_from_settings
from llmkit.types import ChatChunk, ChatResponse, FinishReason, GenerationParams, Message, ToolCall, ToolSpec, Usage

if TYPE_CHECKING:
    from llmkit.config import Settings

#: Largest context allocated unless configured (the KV cache grows with it).
MAX_DEFAULT_CONTEXT = 8192
_Emit = Callable[[str], None]
_Result = tuple[FinishReason, Usage, tuple[ToolCall, ...]]


def gguf_identity(name: str, path: Path, lora: LoraAdapter | None) -> str:
    """A local model's cache identity: the name, the GGUF file and the LoRA adapter with its scale (a different
    file or adapter is another model)."""
    identity = f"{name} [{file_fingerprint(path)}]"
    if lora:
        identity += f" + LoRA {lora.name}x{lora.scale:g} [{file_fingerprint(lora.path)}]"
    return identity


class LlamaCppModel:
    """A ``ChatModel`` on a local GGUF file. Construction is cheap; the model loads on first use.

    ``context_window``: tokens allocated (default ``min(n_ctx_train, 8192)``). ``threads``: llama.cpp
    threads for decode and prompt processing (default: all cores).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        context_window: int | None = None,
        threads: int | None = None,
        name: str | None = None,
        lora: LoraAdapter | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.name = name or self.path.stem
        self.lora = lora
        self.threads = threads or os.cpu_count() or 1
        self._window = context_window
        self._llm: Any = None
        self._formatter: Any = None
        self._tool_role = False  # whether the chat template knows a "tool" role
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._generated = 0  # completion tokens of the last generation (tests look at it)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppModel:
        """``settings.model.name``: a ``.gguf`` path (relative to the project) or a pulled catalog name."""
        m = settings.model
        name = m.name.removeprefix("llama_cpp:")
        if name.lower().endswith(".gguf"):
            path = settings.resolve(name)
        else:
            from llmkit.models.catalog import Catalog

            path = Catalog(settings.models_dir).path(name)
        lora = lora_from_settings(settings)
        return cls(path, context_window=m.context_window, threads=m.threads, name=name, lora=lora)

    @property
    def cache_identity(self) -> str:
        return gguf_identity(self.name, self.path, self.lora)

    # ------------------------------------------------------------------ ChatModel protocol

    @property
    def context_window(self) -> int:
        if self._window is None:
            from llmkit.models.gguf import context_length, read_metadata

            trained = context_length(read_metadata(self.path)) or 2048
            self._window = min(trained, MAX_DEFAULT_CONTEXT)
        return self._window

    def count_tokens(self, text: str) -> int:
        return self._call(lambda: len(self._tokenize(text)))

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return self._call(lambda: len(self._render(messages)))

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        pieces: list[str] = []
        cancel = threading.Event()
        t0 = time.perf_counter()
        future = self._worker().submit(self._generate, messages, params, pieces.append, cancel)
        try:
            finish, usage, calls = future.result()
        except BaseException:
            cancel.set()  # e.g. KeyboardInterrupt while waiting: stop the worker too
            raise
        return ChatResponse("".join(pieces), usage, finish, self.name, time.perf_counter() - t0, calls)

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        params = params or GenerationParams()
        events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        cancel = threading.Event()

        def produce() -> None:
            try:
                result = self._generate(messages, params, lambda t: events.put(("text", t)), cancel)
                events.put(("end", result))
            except BaseException as e:
                events.put(("error", e))

        self._worker().submit(produce)
        try:
            yield from chunks_from(events.get)
        finally:
            cancel.set()  # the consumer stopped early (or finished): the worker stops at the next token

    def close(self) -> None:
        """Free the model and stop the worker thread (the object loads again if used later)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._unload).result()
            executor.shutdown(wait=True)

    # ------------------------------------------------------------------ the worker thread

    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llmkit-llama-{self.name}")
            return self._executor

    def _call(self, fn: Callable[[], Any]) -> Any:
        return self._worker().submit(fn).result()

    def _generate(
        self, messages: Sequence[Message], params: GenerationParams, emit: _Emit, cancel: threading.Event
    ) -> _Result:
        """Runs on the worker thread: render, check the budget, sample, detokenise, apply stop strings."""
        llm = self._load()
        import llama_cpp

        tools = tool_protocol.active_tools(params.tools, params.tool_choice)
        prompt = self._render(messages, tools, params.tool_choice)
        grammar = _grammar(tools, params)
        reply: list[str] = []
        show = reply.append if tools else emit  # a tool protocol reply is collected and parsed at the end
        budget = completion_budget(len(prompt), params.max_tokens, self.context_window)
        llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
        if params.seed is not None or params.temperature == 0:
            llm.reset()  # reproducible calls evaluate the prompt afresh (see the module docstring)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, sent, count, finish = "", 0, 0, "length"
        tokens = llm.generate(
            prompt,
            temp=0.8 if params.temperature is None else params.temperature,
            top_p=0.95 if params.top_p is None else params.top_p,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            grammar=grammar,
        )
        for token in tokens:
            if cancel.is_set() or llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                finish = "stop"
                break
            count += 1
            text += decoder.decode(llm.detokenize([token]))
            end, stopped = stop_boundary(text, params.stop)
            if end > sent:
                show(text[sent:end])
                sent = end
            if stopped:
                finish = "stop"
                break
            if count >= budget:
                break
        tokens.close()
        if not cancel.is_set():
            text += decoder.decode(b"", final=True)
            end, _ = stop_boundary(text, params.stop, final=True)
            if end > sent:
                show(text[sent:end])
        self._generated = count
        calls: tuple[ToolCall, ...] = ()
        if tools and not cancel.is_set():
            content, calls = tool_protocol.parse_reply("".join(reply), content_is_json=params.json_schema is not None)
            if content:
                emit(content)
        return ("tool_calls" if calls else finish), Usage(len(prompt), count), calls

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        from llmkit.models.gguf import read_metadata

        read_metadata(self.path)  # NotFound / "not a GGUF file" before llama.cpp sees it
        if self.lora:
            check_adapter(self.lora, self.path)
        try:
            import llama_cpp
        except ImportError:
            raise MissingExtra("llama-cpp-python", "local") from None
        lora = {"lora_path": str(self.lora.path), "lora_scale": self.lora.scale} if self.lora else {}
        try:
            llm = llama_cpp.Llama(
                str(self.path),
                n_ctx=self.context_window,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
                **lora,
            )
        except (ValueError, RuntimeError, OSError) as e:
            if self.lora and "LoRA" in str(e):
                raise BackendUnavailable(
                    f"llama.cpp could not apply the LoRA adapter {self.lora.path} to {self.path.name}",
                    hint="its tensors do not fit this model: was it trained on another base?",
                ) from None
            raise BackendUnavailable(
                f"llama.cpp could not load {self.path}: {e}",
                hint="the file may be truncated or of an architecture this llama.cpp build does not support; "
                "pull it again or update llama-cpp-python",
            ) from None
        from llmkit.models.llama_template import chat_formatter, has_tool_role, special_text

        eos, bos = special_text(llm._model, llm.token_eos()), special_text(llm._model, llm.token_bos())
        self._formatter = chat_formatter(llm.metadata, eos, bos)
        self._tool_role = has_tool_role(llm.metadata)
        self._llm = llm
        return llm

    def _unload(self) -> None:
        llm, self._llm, self._formatter = self._llm, None, None
        if llm is not None:
            llm.close()

    def _tokenize(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        return self._load().tokenize(text.encode("utf-8", errors="replace"), add_bos=False, special=False)

    def _render(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), tool_choice: str = "auto"
    ) -> list[int]:
        from llmkit.models.llama_template import render_prompt

        llm = self._load()
        return render_prompt(self._formatter, llm.tokenize, messages, tools, tool_choice, tool_role=self._tool_role)


def _grammar(tools: Sequence[ToolSpec], params: GenerationParams) -> Any:
    """The ``LlamaGrammar`` a reply must follow, or ``None``."""
    from llmkit.models.llama_sampling import reply_grammar

    text = reply_grammar(tools, params)
    if text is None:
        return None
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def chunks_from(get: Callable[[], tuple[str, Any]]) -> Iterator[ChatChunk]:
    """The chunks of a reply a worker thread reports as events: ("text", piece)..., then ("end", (finish,
    usage, tool_calls)) or ("error", exception), which is raised here."""
    while True:
        kind, payload = get()
        if kind == "text":
            yield ChatChunk(payload)
        elif kind == "end":
            yield ChatChunk("", finish_reason=payload[0], usage=payload[1], tool_calls=payload[2])
            return
        else:
            raise payload


def file_fingerprint(path: Path) -> str:
    """A short hash of a file's resolved path, size and modification time (hashing gigabytes would be too slow)."""
    import hashlib

    try:
        st = path.stat()
        seen = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        seen = f"{path.resolve()}|missing"
    return hashlib.sha256(seen.encode()).hexdigest()[:12]


def completion_budget(prompt_tokens: int, max_tokens: int | None, window: int) -> int:
    """Tokens the reply may take; raises ``ContextLengthExceeded`` when the prompt leaves too little room.

    >>> completion_budget(100, 50, 200)
    50
    >>> completion_budget(100, None, 200)  # no max_tokens: whatever room is left
    100
    >>> completion_budget(180, 50, 200)
    Traceback (most recent call last):
    ...
    llmkit.errors.ContextLengthExceeded: the prompt needs 230 tokens but the model's context window allows 200
      hint: shorten the input, lower max_tokens or retrieval k, or use a model with a larger context
    """
    if max_tokens is None:
        if prompt_tokens >= window:
            raise ContextLengthExceeded(prompt_tokens + 1, window)
        return window - prompt_tokens
    if prompt_tokens + max_tokens > window:
        raise ContextLengthExceeded(prompt_tokens + max_tokens, window)
    return max_tokens


def stop_boundary(text: str, stops: Sequence[str], *, final: bool = False) -> tuple[int, bool]:
    """How much of ``text`` may be shown, and whether a stop string was reached.

    Text that could still become a stop string is held back until the next token (or ``final``).

    >>> stop_boundary("Hello\\nUser:", ["User:"])
    (6, True)
    >>> stop_boundary("Hello Us", ["User:"])  # "Us" may start "User:"
    (6, False)
    >>> stop_boundary("Hello Us", ["User:"], final=True)
    (8, False)
    """
    stops = [s for s in stops if s]
    hits = [i for s in stops if (i := text.find(s)) != -1]
    if hits:
        return min(hits), True
    if final:
        return len(text), False
    held = max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)
    return len(text) - held, False

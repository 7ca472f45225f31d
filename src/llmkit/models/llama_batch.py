"""A local GGUF chat model that serves many callers at once: continuous batching on llama.cpp.

``BatchedLlamaModel`` is a ``ChatModel`` safe to call from any number of threads. Every llama.cpp call
(loading, tokenising, decoding, sampling) runs on one dedicated worker thread, because llama.cpp
called from a second Python thread decoded at a third of the speed (DESIGN.md). Requests queue in;
each step the worker packs one new token of every generating sequence, plus pending prompt tokens,
into one shared ``llama_batch`` tagged with per-sequence ids and decodes them together, so
``parallel`` requests cost little more than one where decoding is bound by reading the weights (see
``llama_scheduler``, which also reuses a freed slot's prompt cells for the next unseeded request).

KV cache: split, not unified. The context holds ``parallel`` sequences (``n_seq_max``) with
``kv_unified=False``, so each slot has its own ``context_window`` cells and attention in a step reads
only its own sequence's cells; a unified cache would make every sequence's attention span the cells
of all of them, which only pays when sequences share a long prefix. ``context_window`` is per request.

Same prompt, same accounting as ``LlamaCppModel``: the GGUF's chat template (``llama_template``),
``usage`` from llama.cpp's tokenizer, ``ContextLengthExceeded`` before generating, stop strings held
back until they can no longer match, and a stream whose caller stops iterating frees its slot.
``json_schema`` and ``tools`` work as there too (``tool_protocol``'s prompt, grammar and parser): with
tools the reply is collected, parsed, and arrives whole in the last chunk with its ``tool_calls``.
Greedy (``temperature=0``) output equals ``LlamaCppModel``'s; a seeded reply at ``temperature>0`` is
reproducible for the same batch company only (a token's logits differ in the last bits between batch
shapes).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import BackendUnavailable, InputError, MissingExtra
from llmkit.models import tool_protocol
from llmkit.models.llama_cpp import chunks_from, completion_budget, gguf_identity
from llmkit.models.llama_lora import LoraAdapter, attach, check_adapter, lora_from_settings
from llmkit.models.llama_sampling import SamplingPlan, reply_grammar
from llmkit.models.llama_scheduler import Request, Scheduler
from llmkit.models.llama_template import chat_formatter, has_tool_role, render_prompt, special_text
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, ToolSpec

if TYPE_CHECKING:
    from llmkit.config import Settings

_STOP = object()


def default_window(trained: int, parallel: int) -> int:
    """Per-request context when none is configured: the KV cache stays near 8k cells up to 4 slots.

    >>> default_window(8192, 1), default_window(8192, 4), default_window(8192, 16), default_window(1024, 4)
    (8192, 2048, 2048, 1024)
    """
    return min(trained, max(2048, 8192 // parallel))


class BatchedLlamaModel:
    """A ``ChatModel`` on a local GGUF file that decodes up to ``parallel`` requests in shared batches.

    ``context_window``: tokens per request (default ``default_window``). ``threads``: llama.cpp threads
    (default: all cores). ``batch_tokens``: most tokens decoded per step (prompt chunks included).
    Construction is cheap; the model loads on first use.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        parallel: int = 4,
        context_window: int | None = None,
        threads: int | None = None,
        batch_tokens: int = 512,
        name: str | None = None,
        lora: LoraAdapter | None = None,
    ) -> None:
        if not 1 <= parallel <= 256:
            raise InputError(f"parallel must be between 1 and 256, got {parallel}")
        if batch_tokens < parallel:
            raise InputError(f"batch_tokens ({batch_tokens}) must be at least parallel ({parallel})")
        self.path = Path(path).expanduser()
        self.name = name or self.path.stem
        self.parallel = parallel
        self.threads = threads or os.cpu_count() or 1
        self.batch_tokens = batch_tokens
        self.lora = lora
        self._window = context_window
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}  # worker-owned: model, ctx, formatter, scheduler

    @property
    def cache_identity(self) -> str:
        return gguf_identity(self.name, self.path, self.lora)

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchedLlamaModel:
        """Like ``LlamaCppModel.from_settings``, with ``settings.model.parallel`` slots."""
        m = settings.model
        name = m.name.removeprefix("llama_batch:").removeprefix("llama_cpp:")
        if name.lower().endswith(".gguf"):
            path = settings.resolve(name)
        else:
            from llmkit.models.catalog import Catalog

            path = Catalog(settings.models_dir).path(name)
        lora = lora_from_settings(settings)
        return cls(path, parallel=m.parallel, context_window=m.context_window, threads=m.threads, name=name, lora=lora)

    # ------------------------------------------------------------------ ChatModel protocol

    @property
    def context_window(self) -> int:
        if self._window is None:
            from llmkit.models.gguf import context_length, read_metadata

            trained = context_length(read_metadata(self.path)) or 2048
            self._window = default_window(trained, self.parallel)
        return self._window

    def count_tokens(self, text: str) -> int:
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        data = text.encode("utf-8", errors="replace")
        return self._call(lambda s: len(s["model"].tokenize(data, add_bos=False, special=False)))

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return self._call(lambda s: len(self._render(s, messages)))

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        t0 = time.perf_counter()
        pieces: list[str] = []
        for chunk in self.stream(messages, params):
            pieces.append(chunk.text)
            if chunk.finish_reason is not None:
                usage = chunk.usage
                assert usage is not None
                text, latency = "".join(pieces), time.perf_counter() - t0
                return ChatResponse(text, usage, chunk.finish_reason, self.name, latency, chunk.tool_calls)
        raise BackendUnavailable("the generation ended without a final chunk")  # pragma: no cover

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        request = self._call(lambda s: self._prepare(s, messages, params or GenerationParams()))
        try:
            yield from chunks_from(request.events.get)
        finally:
            request.cancel.set()  # the caller stopped early (or finished): the worker frees the slot
            self._inbox.put(None)  # wake the worker if it sleeps

    def slots_in_use(self) -> int:
        """Requests holding a slot now (cancelled streams are dropped first)."""

        def count(s: dict[str, Any]) -> int:
            s["scheduler"].reap()
            return len(s["scheduler"].active)

        return self._call(count)

    def close(self) -> None:
        """Stop the worker (requests still running get ``BackendUnavailable``) and free the model."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._inbox.put(_STOP)
            thread.join()

    # ------------------------------------------------------------------ caller side

    def _call(self, fn: Callable[[dict[str, Any]], Any]) -> Any:
        """Run ``fn(state)`` on the worker thread and return its result (or raise its error)."""
        future: Future[Any] = Future()
        self._worker()
        self._inbox.put((fn, future))
        return future.result()

    def _worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"llmkit-batch-{self.name}", daemon=True)
                self._thread.start()

    # ------------------------------------------------------------------ worker side

    def _loop(self) -> None:
        state = self._state
        while True:
            scheduler = state.get("scheduler")
            busy = scheduler is not None and not scheduler.idle
            try:
                job = self._inbox.get(block=not busy)
            except queue.Empty:
                job = None
            while job is not None or not self._inbox.empty():
                if job is _STOP:
                    self._unload(state)
                    return
                if job is not None:
                    self._run_job(state, *job)
                job = self._inbox.get_nowait() if not self._inbox.empty() else None
            if state.get("scheduler") is not None:
                self._step(state["scheduler"])

    def _run_job(self, state: dict[str, Any], fn: Callable[[dict[str, Any]], Any], future: Future[Any]) -> None:
        try:
            if "scheduler" not in state:
                self._load(state)
            future.set_result(fn(state))
        except BaseException as e:
            future.set_exception(e)

    def _step(self, scheduler: Scheduler) -> None:
        try:
            scheduler.step()
        except Exception as e:  # a bug or a native failure: fail the requests, keep the worker alive
            scheduler.fail_all(BackendUnavailable(f"the batched llama.cpp engine failed: {e!r}"))

    def _prepare(self, state: dict[str, Any], messages: Sequence[Message], params: GenerationParams) -> Request:
        tools = tool_protocol.active_tools(params.tools, params.tool_choice)
        prompt = self._render(state, messages, tools, params.tool_choice)
        budget = completion_budget(len(prompt), params.max_tokens, self.context_window)
        plan = SamplingPlan.of(params, reply_grammar(tools, params))
        request = Request(prompt, params, budget, plan, tools=bool(tools))
        state["scheduler"].submit(request)
        return request

    def _render(
        self, state: dict[str, Any], messages: Sequence[Message], tools: Sequence[ToolSpec] = (), choice: str = "auto"
    ) -> list[int]:
        tool_role = state["tool_role"]
        return render_prompt(state["formatter"], state["model"].tokenize, messages, tools, choice, tool_role=tool_role)

    def _load(self, state: dict[str, Any]) -> None:
        from llmkit.models.gguf import read_metadata

        read_metadata(self.path)  # NotFound / "not a GGUF file" before llama.cpp sees it
        if self.lora:
            check_adapter(self.lora, self.path)
        try:
            import llama_cpp
            from llama_cpp import _internals
            from llama_cpp._logger import set_verbose
        except ImportError:
            raise MissingExtra("llama-cpp-python", "local") from None
        set_verbose(False)
        llama_cpp.llama_backend_init()
        try:
            model = _internals.LlamaModel(
                path_model=str(self.path), params=llama_cpp.llama_model_default_params(), verbose=False
            )
            ctx = _internals.LlamaContext(model=model, params=self._context_params(), verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise BackendUnavailable(
                f"llama.cpp could not load {self.path}: {e}",
                hint="the file may be truncated or of an architecture this llama.cpp build does not support",
            ) from None
        per_seq = llama_cpp.llama_n_ctx_seq(ctx.ctx)
        if per_seq < self.context_window:  # pragma: no cover - llama.cpp rounds n_ctx up, never down
            raise BackendUnavailable(f"llama.cpp gave {per_seq} tokens a sequence, {self.context_window} asked")
        if self.lora:
            try:
                state["lora"] = attach(llama_cpp, model.model, ctx.ctx, self.lora)
            except BaseException:
                ctx.close()
                model.close()
                raise
        eos, bos = model.token_eos(), model.token_bos()
        metadata = model.metadata()
        formatter = chat_formatter(metadata, special_text(model, eos), special_text(model, bos))
        scheduler = Scheduler(model, ctx.ctx, self.parallel, self.batch_tokens)
        state.update(model=model, context=ctx, formatter=formatter, tool_role=has_tool_role(metadata))
        state["scheduler"] = scheduler

    def _context_params(self) -> Any:
        import llama_cpp

        p = llama_cpp.llama_context_default_params()
        p.n_ctx = self.context_window * self.parallel
        p.n_batch = p.n_ubatch = self.batch_tokens
        p.n_seq_max = self.parallel
        p.kv_unified = False
        p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as llama_cpp.Llama; auto was slower here
        p.n_threads = p.n_threads_batch = self.threads
        return p

    def _unload(self, state: dict[str, Any]) -> None:
        scheduler = state.pop("scheduler", None)
        if scheduler is not None:
            scheduler.close()
        lora = state.pop("lora", None)
        if lora is not None:  # before the model it belongs to, as llama_cpp.Llama does
            import llama_cpp

            llama_cpp.llama_adapter_lora_free(lora)
        for key in ("context", "model"):
            obj = state.pop(key, None)
            if obj is not None:
                obj.close()
        state.clear()

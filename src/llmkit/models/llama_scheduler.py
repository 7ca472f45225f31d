"""The worker side of ``BatchedLlamaModel``: slots, one shared ``llama_batch`` a step, per-sequence sampling.

Everything here runs on the model's one worker thread. A step packs, into one ``llama_decode`` call,

1. one token for every sequence that is generating (the token it sampled last step), then
2. as much prompt as still fits in ``batch_tokens`` for sequences that are still reading their prompt,

each token tagged with its sequence's slot id (= its KV-cache sequence id). Every sequence whose
last token in the batch asked for logits then samples with its own sampler chain. A request leaves
its slot when it stops, reaches ``max_tokens``, or its caller goes away (``cancel``), and the next
waiting request takes it.

Prompt reuse: a freed slot keeps its prompt's KV cells. A request that may reuse them (neither seeded
nor greedy: the same rule as ``LlamaCppModel``, since a token's logits computed in another batch differ
in the last bits) takes the free slot sharing the longest prompt prefix with it and evaluates only the
rest — typically the system prompt and earlier turns are skipped. Other requests clear the slot.
"""

from __future__ import annotations

import codecs
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from llmkit.errors import BackendUnavailable
from llmkit.models import tool_protocol
from llmkit.models.llama_cpp import stop_boundary
from llmkit.models.llama_sampling import SamplingPlan, build_sampler
from llmkit.types import FinishReason, GenerationParams, ToolCall, Usage

#: What a caller reads: ("text", str) pieces, then ("end", (finish, usage, tool_calls)) or ("error", exc).
Events = queue.SimpleQueue


@dataclass(eq=False)
class Request:
    """One generation: its prompt and limits, where its output goes, and its progress on the worker."""

    prompt: list[int]
    params: GenerationParams
    budget: int
    plan: SamplingPlan
    tools: bool = False  # the reply follows tool_protocol: collect it, parse it at the end
    events: Events = field(default_factory=queue.SimpleQueue)
    cancel: threading.Event = field(default_factory=threading.Event)
    slot: int = -1
    sampler: Any = None
    fed: int = 0  # prompt tokens already in the KV cache
    last: int = -1  # the token sampled last step, fed next step
    count: int = 0  # completion tokens sampled (end-of-generation excluded)
    text: str = ""
    sent: int = 0  # characters of ``text`` already emitted
    logits_at: int = -1  # index in this step's batch whose logits this request samples from
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))

    @property
    def position(self) -> int:
        """KV position of the token fed next."""
        return self.fed + self.count - 1 if self.count else self.fed

    def add_piece(self, piece: bytes) -> FinishReason | None:
        """Take one sampled token's bytes; emit what is safe to show; the finish reason once done.

        >>> r = Request([1, 2], GenerationParams(stop=("!",)), budget=5, plan=SamplingPlan.of(GenerationParams()))
        >>> r.add_piece(b"Hi"), r.add_piece(b" there!"), r.events.get(), r.events.get()
        (None, 'stop', ('text', 'Hi'), ('text', ' there'))
        """
        self.count += 1
        self.text += self.decoder.decode(piece)
        end, stopped = stop_boundary(self.text, self.params.stop)
        if end > self.sent and not self.tools:
            self.events.put(("text", self.text[self.sent : end]))
            self.sent = end
        if stopped:
            return "stop"
        return "length" if self.count >= self.budget else None

    def finish(self, reason: FinishReason) -> None:
        """Flush text held back for a possible stop string (or parse a tool reply); send the final event."""
        calls: tuple[ToolCall, ...] = ()
        if not self.cancel.is_set():
            self.text += self.decoder.decode(b"", final=True)
            end, _ = stop_boundary(self.text, self.params.stop, final=True)
            shown = self.text[self.sent : end]
            if self.tools:
                json_content = self.params.json_schema is not None
                shown, calls = tool_protocol.parse_reply(self.text[:end], content_is_json=json_content)
            if shown:
                self.events.put(("text", shown))
        reason = "tool_calls" if calls else reason
        self.events.put(("end", (reason, Usage(len(self.prompt), self.count), calls)))


class Scheduler:
    """Slots, the waiting line and the step loop over one llama.cpp context. Worker thread only."""

    def __init__(self, model: Any, ctx: Any, slots: int, batch_tokens: int) -> None:
        import llama_cpp

        self.model, self.ctx = model, ctx
        self.batch_tokens = batch_tokens
        self.batch = llama_cpp.llama_batch_init(batch_tokens, 0, 1)
        self.free = list(range(slots - 1, -1, -1))
        self.cached: dict[int, list[int]] = {}  # slot -> prompt tokens whose KV cells it still holds
        self.reused = 0  # prompt tokens not evaluated thanks to prompt reuse (tests and benchmarks)
        self.waiting: deque[Request] = deque()
        self.active: list[Request] = []
        self.steps = 0  # decode calls made (tests and benchmarks look at it)

    @property
    def idle(self) -> bool:
        return not self.active and not self.waiting

    def submit(self, request: Request) -> None:
        self.waiting.append(request)

    def step(self) -> None:
        """Admit, drop cancelled, decode one shared batch, sample every sequence that has logits."""
        self.reap()
        self._admit()
        if not self.active:
            return
        import llama_cpp

        n = self._fill()
        self.batch.n_tokens = n
        rc = llama_cpp.llama_decode(self.ctx, self.batch)
        self.steps += 1
        if rc != 0:
            self.fail_all(
                BackendUnavailable(
                    f"llama_decode failed (code {rc})",
                    hint="retry; if it persists, lower model.parallel or the context window",
                )
            )
            return
        for r in [r for r in self.active if r.logits_at >= 0]:
            self._sample(r)

    def reap(self) -> None:
        """Drop requests whose caller went away, freeing their slots."""
        for r in [r for r in self.active if r.cancel.is_set()]:
            self._release(r, "stop")
        self.waiting = deque(r for r in self.waiting if not r.cancel.is_set())

    def fail_all(self, error: BaseException) -> None:
        """Send ``error`` to every request (e.g. after a failed decode or at close) and free every slot."""
        for r in [*self.active, *self.waiting]:
            r.events.put(("error", error))
            if r in self.active:
                self._release(r, None)
        self.waiting.clear()

    def close(self) -> None:
        import llama_cpp

        self.fail_all(BackendUnavailable("the model was closed while this request was running"))
        llama_cpp.llama_batch_free(self.batch)

    # ------------------------------------------------------------------ one step

    def _admit(self) -> None:
        while self.free and self.waiting:
            r = self.waiting.popleft()
            try:
                r.sampler = build_sampler(r.plan, self.model)
            except Exception as e:
                r.events.put(("error", e))
                continue
            self._take_slot(r)
            self.active.append(r)

    def _take_slot(self, r: Request) -> None:
        """Give ``r`` the free slot whose cached prompt shares most with its own; drop the rest of that cache."""
        import llama_cpp

        reusable = r.params.seed is None and r.params.temperature != 0
        shared = {s: common_prefix(self.cached.get(s, []), r.prompt) if reusable else 0 for s in self.free}
        r.slot = max(self.free, key=lambda s: (shared[s], s))
        self.free.remove(r.slot)
        r.fed = min(shared[r.slot], len(r.prompt) - 1)  # at least one token must be evaluated for its logits
        self.reused += r.fed
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.ctx), r.slot, r.fed, -1)
        self.cached[r.slot] = r.prompt[: r.fed]

    def _fill(self) -> int:
        """Put this step's tokens in the batch: generating sequences first, then prompt chunks."""
        n = 0
        for r in self.active:
            r.logits_at = -1
            if r.fed == len(r.prompt):
                n = self._put(n, r.last, r.position, r.slot, True)
                r.logits_at = n - 1
        for r in self.active:
            if r.fed < len(r.prompt) and n < self.batch_tokens:
                take = min(len(r.prompt) - r.fed, self.batch_tokens - n)
                for i in range(r.fed, r.fed + take):
                    n = self._put(n, r.prompt[i], i, r.slot, i == len(r.prompt) - 1)
                r.fed += take
                self.cached[r.slot] = r.prompt[: r.fed]
                if r.fed == len(r.prompt):
                    r.logits_at = n - 1
        return n

    def _put(self, n: int, token: int, pos: int, seq: int, logits: bool) -> int:
        b = self.batch
        b.token[n], b.pos[n], b.n_seq_id[n], b.logits[n] = token, pos, 1, logits
        b.seq_id[n][0] = seq
        return n + 1

    def _sample(self, r: Request) -> None:
        import llama_cpp

        token = llama_cpp.llama_sampler_sample(r.sampler.sampler, self.ctx, r.logits_at)
        if llama_cpp.llama_vocab_is_eog(self.model.vocab, token):
            self._release(r, "stop")
            return
        reason = r.add_piece(self.model.detokenize([token], special=False))
        if reason is not None:
            self._release(r, reason)
        else:
            r.last = token

    def _release(self, r: Request, reason: FinishReason | None) -> None:
        import llama_cpp

        self.active.remove(r)
        if reason is None:  # a failed decode: trust nothing in the slot
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.ctx), r.slot, -1, -1)
        self.cached[r.slot] = r.prompt[: r.fed] if reason is not None else []
        self.free.append(r.slot)
        if r.sampler is not None:
            r.sampler.close()
            r.sampler = None
        if reason is not None:
            r.finish(reason)


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists.

    >>> common_prefix([1, 2, 3, 4], [1, 2, 9]), common_prefix([], [1]), common_prefix([5], [5])
    (2, 0, 1)
    """
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n

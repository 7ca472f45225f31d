"""Core value types: frozen dataclasses shared by every layer.

Nothing here imports anything heavy; numpy arrays travel beside these types, never inside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
#: JSON-like metadata kept with documents and chunks (filterable with the store's filter language).
Metadata = Mapping[str, Any]


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_openai(self) -> dict[str, Any]:
        """The ``tools`` entry of an OpenAI chat request."""
        fn = {"name": self.name, "description": self.description, "parameters": dict(self.parameters)}
        return {"type": "function", "function": fn}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. ``arguments`` is the JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; ``InputError`` when they are not a JSON object."""
        import json

        from llmkit.errors import InputError

        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as e:
            raise InputError(f"tool call {self.name!r}: arguments are not valid JSON ({e.msg})") from None
        if not isinstance(value, dict):
            raise InputError(f"tool call {self.name!r}: arguments must be a JSON object, got {type(value).__name__}")
        return value

    def to_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn. An assistant turn may carry ``tool_calls``; a ``tool`` turn answers one by id."""

    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        return cls("assistant", content, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, content: str, tool_call_id: str, name: str | None = None) -> Message:
        return cls("tool", content, name=name, tool_call_id=tool_call_id)

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI wire form (also what chat templates and the trace store read)."""
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            d["name"] = self.name
        if self.tool_calls:
            d["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.tool_call_id:
            d["tool_call_id"] = self.tool_call_id
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        """Inverse of ``to_dict`` (accepts OpenAI wire messages; ``content`` may be null)."""
        calls = tuple(
            ToolCall(c.get("id", ""), c["function"]["name"], c["function"].get("arguments") or "{}")
            for c in d.get("tool_calls") or ()
        )
        return cls(d["role"], d.get("content") or "", d.get("name"), calls, d.get("tool_call_id"))


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling settings for one call. ``None`` means "the backend's default"."""

    max_tokens: int | None = 512
    temperature: float | None = 0.2
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    #: The reply must be JSON valid against this schema (``{}`` = any JSON object). Enforced by grammar on
    #: llama.cpp, by ``response_format`` on OpenAI-compatible endpoints.
    json_schema: Mapping[str, Any] | None = None
    #: Tools the model may call; ``tool_choice`` is "auto", "none", "required" or one tool's name.
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"

    def __post_init__(self) -> None:
        from llmkit.errors import InputError

        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise InputError(f"temperature must be between 0 and 2, got {self.temperature}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str):  # a single stop string is a common slip
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "tools", tuple(self.tools))
        names = {t.name for t in self.tools}
        if self.tool_choice not in ("auto", "none", "required") and self.tool_choice not in names:
            raise InputError(f"tool_choice {self.tool_choice!r} names no tool; tools: {sorted(names) or 'none'}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            **({"json_schema": dict(self.json_schema)} if self.json_schema is not None else {}),
            **({"tools": [t.name for t in self.tools], "tool_choice": self.tool_choice} if self.tools else {}),
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts from the model's own tokenizer. ``None`` means unknown, never zero."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResponse:
    text: str
    usage: Usage
    finish_reason: FinishReason
    model: str
    latency_s: float | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """A piece of a streamed reply. The last chunk has ``finish_reason`` and ``usage`` set, and the whole
    ``tool_calls`` when the model called tools."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()


# ----------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Section:
    """A piece of a loaded document with its structure: what a loader returns, before splitting.

    ``kind`` lets the splitter keep tables and code whole where they fit. ``start``/``end`` are
    character offsets into the document's full text (``LoadedDocument.text``).
    """

    text: str
    start: int
    end: int
    kind: Literal["text", "heading", "table", "code"] = "text"
    page: int | None = None
    heading: str | None = None  # the heading path, e.g. "Install > Linux"


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """What a loader produces: the full text, its sections, and metadata."""

    source: str  # path (relative to the ingest root where possible), or stdin-HASH or the --name given
    text: str
    sections: tuple[Section, ...]
    content_type: str
    metadata: Metadata = field(default_factory=dict)
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable unit of text with where it came from."""

    id: str
    doc_id: str
    source: str
    text: str
    index: int  # position within the document
    start: int  # character offsets into the document text
    end: int
    page: int | None = None
    heading: str | None = None
    metadata: Metadata = field(default_factory=dict)

    @property
    def location(self) -> str:
        parts = []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading:
            parts.append(f"§ {self.heading}")
        parts.append(f"chars {self.start}–{self.end}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A stored document, as listed by the store."""

    id: str
    source: str
    content_hash: str
    content_type: str
    chunk_count: int
    title: str | None = None
    metadata: Metadata = field(default_factory=dict)
    updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    embedder: str
    dim: int
    documents: int = 0
    chunks: int = 0


# ----------------------------------------------------------------------------- retrieval


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """One result of a single retriever (what the store returns)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True, slots=True)
class Ranked:
    """One result of a single retriever without its chunk: the chunk's id and its score (``Store.rank_*``)."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a hit ranked where it did. Ranks are 1-based; ``None`` means that side did not find it."""

    lexical_rank: int | None
    lexical_score: float | None
    dense_rank: int | None
    dense_score: float | None
    fused_score: float
    mmr_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieval result: the chunk, its final score, and (when asked) the explanation."""

    chunk: Chunk
    score: float
    explain: Explanation | None = None


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class Citation:
    """What ``[n]`` in an answer points to."""

    n: int
    chunk_id: str
    doc_id: str
    source: str
    location: str
    page: int | None
    heading: str | None
    start: int
    end: int
    snippet: str


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    usage: Usage
    found: bool  # False when retrieval found nothing relevant and the model was not asked
    trace_id: str | None = None
    model: str | None = None
    #: Passage numbers whose text supports the answer, found by word overlap when the model wrote no
    #: ``[n]`` markers itself (small models often don't).
    supported_by: tuple[int, ...] = ()

    @property
    def marked(self) -> tuple[Citation, ...]:
        """The citations the answer text marks with ``[n]``."""
        return tuple(c for c in self.citations if f"[{c.n}]" in self.text)

    @property
    def cited(self) -> tuple[Citation, ...]:
        """The answer's sources: those it marks with ``[n]``, else those matched by word overlap."""
        return self.marked or tuple(c for c in self.citations if c.n in self.supported_by)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest run did."""

    added: int = 0  # new documents
    updated: int = 0  # changed documents whose chunks were replaced
    skipped: int = 0  # unchanged documents
    failed: tuple[tuple[str, str], ...] = ()  # (source, reason)
    chunks: int = 0
    seconds: float = 0.0
    removed: int = 0  # documents deleted because their files are gone (prune)

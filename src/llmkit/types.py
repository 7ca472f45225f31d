"""Core value types: frozen dataclasses shared by every layer.

Nothing here imports anything heavy; numpy arrays travel beside these types, never inside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "error"]
#: JSON-like metadata kept with documents and chunks (filterable with the store's filter language).
Metadata = Mapping[str, Any]


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn."""

    role: Role
    content: str
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> Message:
        return cls("assistant", content)

    def to_dict(self) -> dict[str, str]:
        d = {"role": self.role, "content": self.content}
        if self.name:
            d["name"] = self.name
        return d


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling settings for one call. ``None`` means "the backend's default"."""

    max_tokens: int | None = 512
    temperature: float | None = 0.2
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
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


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """A piece of a streamed reply. The last chunk has ``finish_reason`` and ``usage`` set."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


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

    source: str  # path (relative to the ingest root where possible) or "stdin"
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

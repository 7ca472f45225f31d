"""``Kit``: one project's models, store and pipelines behind the methods the CLI and server call.

    import llmkit
    kit = llmkit.open(".")                      # (open_kit) reads the nearest llmkit.toml; overrides as kwargs
    kit.ingest("docs/")
    for hit in kit.search("warranty", explain=True): ...
    answer = kit.ask("How long is the warranty?")
    print(answer.text, [c.source for c in answer.cited])

Construction is cheap; the store, embedder and chat model load on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.config import Settings, load_settings
from llmkit.errors import ConfigError, InputError, NotFound
from llmkit.types import Answer, CollectionInfo, DocumentInfo, GenerationParams, Hit, IngestReport, Message

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.guards.pipeline import GuardPipeline
    from llmkit.ingest.reembed import ReembedReport
    from llmkit.models.base import ChatModel
    from llmkit.observe.traces import Trace, TraceStore
    from llmkit.prompts.registry import PromptRegistry
    from llmkit.rag import AnswerStream, RagPipeline
    from llmkit.rerank.base import Reranker
    from llmkit.retrieve.retriever import Retriever
    from llmkit.retrieve.rewrite import QueryRewriter
    from llmkit.store.base import Filter, Store


def open_kit(project: str | Path | None = None, **overrides: Any) -> Kit:
    """Open the project at ``project`` (default: nearest llmkit.toml above the cwd, else the cwd)."""
    return Kit(load_settings(project, **overrides))


def open_store(settings: Settings) -> Store:
    """The store named by ``settings.store.url``: a SQLite path (or ``sqlite:///path``), or ``postgresql://…``."""
    url = settings.store.url
    if url.startswith(("postgresql://", "postgres://")):
        from llmkit.store.postgres.connection import import_psycopg

        import_psycopg()  # MissingExtra names the extra to install
        from llmkit.store.postgres import PostgresStore

        pg = settings.postgres
        return PostgresStore(url, pool_size=pg.pool_size, timeout_s=pg.timeout_s, hnsw_m=pg.hnsw_m,
                             hnsw_ef_construction=pg.hnsw_ef_construction, ef_search=pg.ef_search,
                             migrate=pg.migrate)  # fmt: skip
    if "://" in url and not url.startswith("sqlite:///"):
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"store.url: unsupported store {scheme!r}",
            hint="use a SQLite path such as .llmkit/store.db, or postgresql://user@host/db",
        )
    from llmkit.store.sqlite import SQLiteStore

    path = settings.resolve(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path, hnsw_threshold=settings.store.hnsw_threshold)


class Kit:
    """A project: settings plus lazily loaded parts. Safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._checked: set[str] = set()  # collections known to exist with the configured embedder

    # ------------------------------------------------------------------ parts (lazy)

    @cached_property
    def store(self) -> Store:
        with self._lock:
            return open_store(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        from llmkit.registry import load_embedder

        with self._lock:
            return load_embedder(self.settings)

    @cached_property
    def model(self) -> ChatModel:
        """The configured chat model, traced (with each call's cost) when ``settings.traces`` is on."""
        from llmkit.registry import load_chat_model

        with self._lock:
            return self.wrap_model(load_chat_model(self.settings))

    def wrap_model(self, model: ChatModel) -> ChatModel:
        """``model`` as the project uses it: each call traced with its cost from ``[prices]``."""
        from llmkit.observe.traces import TracedModel
        from llmkit.pricing import PriceTable

        if not self.settings.traces:
            return model
        price = PriceTable(self.settings.prices).price(self.settings.model.name)
        return TracedModel(model, self.trace_store, price=price)

    @cached_property
    def trace_store(self) -> TraceStore:
        from llmkit.observe.traces import TraceStore

        return TraceStore(self.settings.traces_path)

    @cached_property
    def retriever(self) -> Retriever:
        from llmkit.retrieve.retriever import Retriever

        return Retriever(self.store, self.embedder, self.settings.retrieval, reranker=self.reranker)

    @cached_property
    def reranker(self) -> Reranker | None:
        """The ``[retrieval] rerank`` stage (None: none); its model loads on first use."""
        from llmkit.rerank.base import load_reranker

        return load_reranker(
            self.settings.retrieval.rerank,
            embedder=lambda: self.embedder,
            model=lambda: self.model,
            prompts=lambda: self.prompts,
            base=self.settings.project_dir,
        )

    @cached_property
    def rewriter(self) -> QueryRewriter:
        """Query rewriting with the project's chat model, in the ``[retrieval] rewrite`` mode."""
        from llmkit.retrieve.rewrite import QueryRewriter

        r = self.settings.retrieval
        return QueryRewriter(lambda: self.model, lambda: self.prompts, mode=r.rewrite, n=r.rewrite_queries)

    @cached_property
    def rag(self) -> RagPipeline:
        from llmkit.rag import RagPipeline

        m = self.settings.model
        params = GenerationParams(max_tokens=m.max_tokens, temperature=m.temperature, top_p=m.top_p, seed=m.seed)
        template = self.prompts.get(self.settings.prompts.rag)
        return RagPipeline(
            self.retriever,
            self.model,
            settings=self.settings.rag,
            params=params,
            template=template,
            guards=self.guards,
            rewriter=self.rewriter,
        )

    @cached_property
    def prompts(self) -> PromptRegistry:
        """The project's prompt files and saved versions, then llmkit's built-ins."""
        from llmkit.prompts.registry import PromptRegistry

        return PromptRegistry.for_project(self.settings)

    @cached_property
    def guards(self) -> GuardPipeline:
        """The ``[guards]`` of llmkit.toml; verdicts are traced when traces are on. Agents and the server use it too."""
        from llmkit.guards.pipeline import GuardPipeline

        traces = self.trace_store if self.settings.traces else None
        return GuardPipeline.from_settings(
            self.settings,
            embedder=lambda: self.embedder,
            traces=traces,
            model=lambda: self.model,
            prompts=lambda: self.prompts,
        )

    # ------------------------------------------------------------------ documents

    def ingest(
        self,
        *inputs: str | Path,
        collection: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        prune: bool = False,
        progress: Callable[..., None] | None = None,
        stdin_name: str | None = None,
    ) -> IngestReport:
        """Load, split, embed and store ``inputs`` (files, folders, globs, or ``"-"`` for stdin).

        Files inside the project folder are named relative to it, others by their absolute path, so a
        file keeps one name (and one document id) whichever folder the command ran from. Text from stdin is
        named ``stdin_name``, else ``stdin-`` and a hash of its content.
        """
        from llmkit.ingest.pipeline import Ingestor

        if not inputs:
            raise InputError("nothing to ingest: give files, folders, globs or - for stdin")
        name = self._collection_name(collection)
        ingestor = Ingestor(self.store, self.embedder, self.settings.ingest)  # the collection comes with a write
        return ingestor.run(
            [str(i) for i in inputs],
            name,
            progress=progress,
            metadata=metadata,
            prune=prune,
            stdin_name=stdin_name,
            base=self.settings.project_dir,
        )

    def documents(self, collection: str | None = None, *, limit: int | None = None) -> list[DocumentInfo]:
        return self.store.list_documents(self._existing(collection), limit=limit)

    def delete_document(self, doc_id: str, collection: str | None = None) -> bool:
        return self.store.delete_document(self._existing(collection), doc_id)

    def collections(self) -> list[CollectionInfo]:
        return self.store.list_collections()

    def delete_collection(self, name: str) -> None:
        self._checked.discard(name)
        self.store.delete_collection(name)

    def reembed(
        self, collection: str | None = None, *, batch_size: int = 64, progress: Callable[[int, int], None] | None = None
    ) -> ReembedReport:
        """Re-embed every chunk of ``collection`` with the configured embedder and switch it over.

        Crash-safe and resumable: searches use the old vectors until the one-transaction switch, and
        a second run after a crash skips the chunks already embedded (staged under ``.llmkit/reembed``).
        """
        from llmkit.ingest.reembed import Reembedder

        name = self._collection_name(collection)
        try:
            self.store.get_collection(name)
        except NotFound:
            raise NotFound(f"no collection {name!r}", hint="see `llmkit collections list`") from None
        staging = self.settings.data_dir / "reembed"
        report = Reembedder(self.store, self.embedder, staging, batch_size=batch_size).run(name, progress=progress)
        self._checked.add(name)
        return report

    # ------------------------------------------------------------------ retrieval and answers

    def search(
        self,
        query: str,
        *,
        collection: str | None = None,
        k: int | None = None,
        mode: str | None = None,
        filter: Filter | None = None,
        explain: bool = False,
        mmr: bool | None = None,
        rewrite: str | None = None,
        rerank: bool | None = None,
    ) -> list[Hit]:
        """The best hits for ``query``. ``rewrite="multi"`` (or ``[retrieval] rewrite = "multi"``) also searches
        the chat model's rephrasings and fuses them; a search has no history, so ``condense`` changes nothing.
        ``rerank``: False skips the ``[retrieval] rerank`` stage. With ``explain`` a hit's ``explain`` shows the
        rerank score and the phrasings that found it (``StagedExplanation``)."""
        name = self._existing(collection)
        queries = (
            self.rewriter.queries(query, mode=rewrite)
            if (rewrite or self.settings.retrieval.rewrite) == "multi"
            else (query,)
        )
        return self.retriever.search(
            name,
            queries[0],
            k=k,
            mode=mode,
            filter=filter,
            explain=explain,
            mmr=mmr,
            queries=queries[1:],
            rerank=rerank,
        )

    def ask(
        self,
        question: str,
        *,
        collection: str | None = None,
        k: int | None = None,
        filter: Filter | None = None,
        history: Sequence[Message] = (),
        mode: str | None = None,
        rewrite: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the collection, with citations; ``mode`` and ``rewrite`` (none, condense,
        multi) replace ``[retrieval]``'s for this call."""
        return self.ask_stream(
            question, collection=collection, k=k, filter=filter, history=history, mode=mode, rewrite=rewrite
        ).collect()

    def ask_stream(
        self,
        question: str,
        *,
        collection: str | None = None,
        k: int | None = None,
        filter: Filter | None = None,
        history: Sequence[Message] = (),
        params: GenerationParams | None = None,
        mode: str | None = None,
        rewrite: str | None = None,
    ) -> AnswerStream:
        """Like ``ask``, but iterate the result for the text as it is generated; ``.answer`` at the end.
        ``params``: generation parameters for this answer instead of the project's ``[model]`` ones. The
        searched queries, when rewritten, are in ``.attributes["search_queries"]``."""
        name = self._existing(collection)
        return self.rag.stream(
            name, question, history=history, k=k, filter=filter, params=params, mode=mode, rewrite=rewrite
        )

    def chat(self, *, collection: str | None = None, k: int | None = None) -> ChatSession:
        """A multi-turn conversation with retrieval on every turn."""
        return ChatSession(self, self._existing(collection), k)

    # ------------------------------------------------------------------ traces

    def traces(self, *, limit: int = 20, offset: int = 0) -> list[Trace]:
        return self.trace_store.list(limit=limit, offset=offset)

    def trace(self, trace_id: str) -> Trace:
        return self.trace_store.get(trace_id)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        for part in ("store", "trace_store"):
            if part in self.__dict__:
                self.__dict__.pop(part).close()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collection_name(self, name: str | None) -> str:
        return name or self.settings.collection

    def _existing(self, name: str | None) -> str:
        """``name`` (or the default) after checking, once per Kit, that it exists and fits the embedder."""
        name = self._collection_name(name)
        if name in self._checked:
            return name
        try:
            info = self.store.get_collection(name)
        except NotFound:
            hint = f"ingest documents first: llmkit ingest PATH -c {name}"
            raise NotFound(f"no collection {name!r}", hint=hint) from None
        if info.embedder != self.embedder.name:  # constructing the embedder is cheap: it loads on first use
            raise ConfigError(
                f"collection {name!r} was embedded with {info.embedder!r} but the embedder is {self.embedder.name!r}",
                hint=f"re-embed it with the configured embedder: llmkit collections reembed {name}"
                " (or set [embedder] name back)",
            )
        self._checked.add(name)
        return name


class ChatSession:
    """Turns of a conversation; each question retrieves afresh and sees the earlier turns."""

    def __init__(self, kit: Kit, collection: str, k: int | None) -> None:
        self.kit = kit
        self.collection = collection
        self.k = k
        self.history: list[Message] = []

    def send(self, question: str) -> AnswerStream:
        """Ask the next question; iterate the result for its text. The turn is kept once it finishes."""
        stream = self.kit.ask_stream(question, collection=self.collection, k=self.k, history=tuple(self.history))
        # stream.question is the question as sent (redacted when a PII guard redacts it)
        stream.on_done = lambda answer: self.history.extend(
            [Message.user(stream.question), Message.assistant(answer.text)]
        )
        return stream

    def ask(self, question: str) -> Answer:
        return self.send(question).collect()

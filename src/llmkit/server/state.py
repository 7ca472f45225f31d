"""What the app holds while it runs (``app.state.llmkit``): the Kit, served models, keys, limits, caches."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmkit.errors import ConfigError
from llmkit.pricing import PriceTable
from llmkit.server.cache import ExactCache, SemanticCache
from llmkit.server.keys import KeyStore
from llmkit.server.limits import RateLimiter
from llmkit.server.metrics import Metrics
from llmkit.server.worker import Gate, Worker
from llmkit.types import Usage

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.embeddings.base import Embedder
    from llmkit.kit import Kit
    from llmkit.models.base import ChatModel

RAG_PREFIX = "rag/"
AGENT_MODEL = "agent/default"  # llmkit.server.agent serves it


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth_mode(settings: Settings) -> None:
    """Serving without keys is allowed only when asked for and bound to loopback."""
    server = settings.server
    if server.auth == "none" and not is_loopback(server.host):
        raise ConfigError(
            f"server.auth = 'none' serves without API keys, which is allowed on loopback only (host is {server.host})",
            hint="create keys with `llmkit keys create NAME --scope chat`, or bind to 127.0.0.1",
        )


@dataclass
class Served:
    """One model the server answers for: the model, its worker threads and its admission gate."""

    id: str
    model: ChatModel
    worker: Worker
    gate: Gate
    #: The model streams from the event loop (``astream``: remote models, over aiohttp), so requests need no
    #: thread hop; guards that screen a stream still run on the worker
    streams_async: bool = False


class ServerState:
    """Built in the app's lifespan; everything a route needs, reached through ``Depends``."""

    def __init__(self, settings: Settings, kit: Kit, chat_model: ChatModel | None = None) -> None:
        server = settings.server
        self.settings, self.kit = settings, kit
        self.metrics = Metrics()
        self.metrics.watch_guards(lambda: kit.__dict__.get("guards"))  # Kit.guards, once something has built it
        self.prices = PriceTable(settings.prices)
        self.keys = KeyStore(settings.data_dir / "keys.db")
        self.limiter = RateLimiter(server.requests_per_minute, server.tokens_per_minute)
        self.cache = ExactCache(server.cache_entries) if server.cache else None
        self.semantic: SemanticCache | None = None
        if server.semantic_cache_threshold is not None:
            self.semantic = SemanticCache(self._embed_one, server.semantic_cache_threshold, server.cache_entries)
        self.chat = self._serve_chat(chat_model)
        self.embed_worker = Worker("embedder", 1)
        self.embed_gate = Gate("embedder", 1, server.queue_size, server.queue_timeout_s)

    def _serve_chat(self, model: ChatModel | None) -> Served:
        from llmkit.registry import load_chat_model

        s = self.settings
        raw = self._raw_model = model if model is not None else load_chat_model(s)
        wrapped = self.kit.wrap_model(raw)
        self.kit.__dict__["model"] = wrapped  # Kit.model is a cached_property: RAG answers use this one too
        at_once = s.server.concurrency or s.model.parallel  # the batched engine decodes `parallel` together
        gate = Gate(s.model.name, at_once, s.server.queue_size, s.server.queue_timeout_s)
        from llmkit.models import openai_aio

        aio = hasattr(raw, "astream") and hasattr(wrapped, "astream") and openai_aio.available()
        return Served(s.model.name, wrapped, Worker(s.model.name, at_once), gate, streams_async=aio)

    def charge(self, bucket: str, usage: Usage) -> float | None:
        """The cost of ``usage`` on the chat model, counted in the metrics and spent from ``bucket``'s
        tokens per minute: what every answer does with the tokens it used, finished or abandoned."""
        cost = self.prices.cost(self.chat.id, usage)
        self.metrics.count_tokens(self.chat.id, usage.prompt_tokens, usage.completion_tokens, cost)
        self.limiter.spend(bucket, usage.total_tokens or 0)
        return cost

    def charge_partial(self, bucket: str, items: Iterable[object]) -> None:
        """Charge an answer cut short (its client left): the tokens of the text pieces among ``items`` (the
        prompt's are not known by then)."""
        text = "".join(x for x in items if isinstance(x, str))
        self.charge(bucket, Usage(0, self.chat.model.count_tokens(text)) if text else Usage(0, 0))

    @property
    def embedder(self) -> Embedder:
        return self.kit.embedder

    def _embed_one(self, text: str) -> Any:
        return self.embedder.embed([text])[0]

    def model_ids(self) -> list[str]:
        """Served model ids: the configured model, the project's agent, ``rag/<collection>`` for each collection."""
        return [self.chat.id, AGENT_MODEL, *(RAG_PREFIX + c.name for c in self.kit.collections())]

    async def aclose(self) -> None:
        """Close what the model holds on the event loop (``OpenAIChatModel``'s aiohttp session), then ``close``."""
        aclose = getattr(self._raw_model, "aclose", None)
        if callable(aclose):
            await aclose()
        self.close()

    def close(self) -> None:
        self.chat.worker.shutdown()
        self.embed_worker.shutdown()
        close_model = getattr(self._raw_model, "close", None)  # llama.cpp frees its model and thread
        if callable(close_model):
            close_model()
        self.keys.close()
        self.kit.close()

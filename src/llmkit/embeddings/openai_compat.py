"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint, L2-normalised here.

``count_tokens`` is an estimate that errs high (the remote tokenizer is not known here; see
``llmkit.models.openai_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, ModelError
from llmkit.models.openai_compat import make_client, translate_error
from llmkit.models.openai_tokens import estimate_tokens

if TYPE_CHECKING:
    import numpy as np

    from llmkit.config import Settings


class OpenAIEmbedder:
    """An ``Embedder`` over the OpenAI embeddings API.

    ``dim``: asked of the server with a one-word probe on first need when not given; if given and
    the model supports it, it is also sent as ``dimensions``  (``send_dimensions=True``).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60,
        max_tokens: int = 8191,
        send_dimensions: bool = False,
        max_retries: int = 2,
    ) -> None:
        if not model:
            raise ModelError("a remote embedding model id is needed (embedder.name)")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.name = model
        self.base_url = base_url
        self._api_key = api_key
        self._dim = dim
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self._max_tokens = max_tokens
        self.send_dimensions = send_dimensions and dim is not None
        self.max_retries = max_retries
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        """The embedder ``settings.embedder`` names (``openai:ID`` or a URL work as for chat models)."""
        from llmkit.registry import split_model_name

        e = settings.embedder
        url, model_id = split_model_name(e.name, "openai")
        key = e.api_key.get_secret_value() if e.api_key else None
        return cls(model_id, base_url=e.base_url or url, api_key=key, batch_size=e.batch_size, timeout_s=e.timeout_s)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """An estimate that errs high (``openai_tokens.estimate_tokens``)."""
        return estimate_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (in batches of ``batch_size``) as float32 ``(len(texts), dim)``, rows L2-normalised."""
        import numpy as np

        if isinstance(texts, str):
            raise InputError("embed() takes a list of texts, not a single string")
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise InputError(f"texts to embed must be strings, got {type(t).__name__}")
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        parts = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        out = np.concatenate(parts, axis=0)
        if self._dim is None:
            self._dim = out.shape[1]
        elif out.shape[1] != self._dim:
            raise ModelError(f"{self.name} returned {out.shape[1]}-dimensional vectors, expected {self._dim}")
        return out

    def _request(self, batch: list[str]) -> np.ndarray:
        import numpy as np

        if self._client is None:
            self._client = make_client(self.base_url, self._api_key, self.timeout_s, self.max_retries)
        # The API rejects empty strings; an empty text embeds as a single space.
        kwargs: dict[str, Any] = {"model": self.name, "input": [t or " " for t in batch], "encoding_format": "float"}
        if self.send_dimensions:
            kwargs["dimensions"] = self._dim
        try:
            resp = self._client.embeddings.create(**kwargs)
        except Exception as e:
            ours = translate_error(e, model=self.name, base_url=self.base_url)
            if ours is e:
                raise
            raise ours from e
        rows = sorted(resp.data, key=lambda d: d.index)
        if len(rows) != len(batch):
            raise ModelError(f"{self.name} returned {len(rows)} embeddings for {len(batch)} texts")
        vecs = np.asarray([r.embedding for r in rows], dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.clip(norms, 1e-12, None)

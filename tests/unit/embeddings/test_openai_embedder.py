from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fake_openai_server import EMBED_DIM, fake_vector

from llmkit.embeddings.base import Embedder
from llmkit.embeddings.openai_compat import OpenAIEmbedder
from llmkit.errors import BackendUnavailable, InputError, ModelError, RateLimited


def embedder(server: Any, name: str = "emb", **kw: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(name, base_url=server.base_url, api_key="k", max_retries=0, **kw)


def test_is_an_embedder(openai_server: Any) -> None:
    assert isinstance(embedder(openai_server, dim=EMBED_DIM), Embedder)


def test_vectors_are_normalised_float32_in_input_order(openai_server: Any) -> None:
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    out = embedder(openai_server, batch_size=2).embed(texts)
    assert out.shape == (5, EMBED_DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    expected = np.asarray([fake_vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    sizes = [len(r["input"]) for r in openai_server.requests]
    assert sizes == [2, 2, 1]
    assert all(r["encoding_format"] == "float" for r in openai_server.requests)


def test_dim_is_probed_once_when_not_given(openai_server: Any) -> None:
    e = embedder(openai_server)
    assert e.dim == EMBED_DIM
    assert e.dim == EMBED_DIM
    assert len(openai_server.requests) == 1


def test_given_dim_is_sent_only_when_asked(openai_server: Any) -> None:
    embedder(openai_server, dim=EMBED_DIM).embed(["x"])
    assert "dimensions" not in openai_server.requests[-1]
    embedder(openai_server, dim=EMBED_DIM, send_dimensions=True).embed(["x"])
    assert openai_server.requests[-1]["dimensions"] == EMBED_DIM


def test_wrong_dim_from_server_is_an_error(openai_server: Any) -> None:
    with pytest.raises(ModelError, match="expected 16"):
        embedder(openai_server, dim=16).embed(["x"])


def test_empty_inputs(openai_server: Any) -> None:
    e = embedder(openai_server, dim=EMBED_DIM)
    assert e.embed([]).shape == (0, EMBED_DIM)
    assert e.embed([""]).shape == (1, EMBED_DIM)  # sent as " ": the API rejects empty strings
    assert openai_server.requests[-1]["input"] == [" "]


def test_bad_input_types(openai_server: Any) -> None:
    e = embedder(openai_server, dim=EMBED_DIM)
    with pytest.raises(InputError, match="not a single string"):
        e.embed("hello")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        e.embed(["ok", b"bytes"])  # type: ignore[list-item]
    assert openai_server.requests == []


def test_errors_are_translated(openai_server: Any) -> None:
    with pytest.raises(RateLimited):
        embedder(openai_server, "busy").embed(["x"])
    with pytest.raises(BackendUnavailable):
        embedder(openai_server, "broken").embed(["x"])


def test_count_tokens_is_a_high_estimate() -> None:
    e = OpenAIEmbedder("m", base_url="http://127.0.0.1:9/v1")
    assert e.count_tokens("hello world, how are you") >= 6
    assert e.max_tokens == 8191

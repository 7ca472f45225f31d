"""all-MiniLM-L6-v2 int8 ONNX: the Embedder contract with the real model."""

from __future__ import annotations

import numpy as np
import pytest

from llmkit.embeddings.base import Embedder
from llmkit.embeddings.onnx_minilm import OnnxEmbedder
from llmkit.errors import InputError

pytestmark = pytest.mark.integration

PAIRS = [  # (anchor, paraphrase, unrelated)
    ("A man is playing a guitar.", "Someone is playing an instrument.", "The stock market fell sharply today."),
    ("How do I reset my password?", "I forgot my password and need to change it.", "Penguins live in Antarctica."),
    ("The cat sat on the mat.", "A kitten is resting on a rug.", "Quantum computers use qubits."),
    ("Heart disease is a leading cause of death.", "Cardiovascular illness kills many people.", "I like pizza."),
]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_is_an_embedder(minilm: OnnxEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.dim == 384 and minilm.max_tokens == 256


def test_shapes_dtype_and_normalisation(minilm: OnnxEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about things", "", "x " * 600]
    out = minilm.embed(texts)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_similar_beats_dissimilar(minilm: OnnxEmbedder) -> None:
    for anchor, near, far in PAIRS:
        a, b, c = minilm.embed([anchor, near, far])
        assert cos(a, b) > cos(a, c) + 0.25, (anchor, cos(a, b), cos(a, c))


def test_order_is_kept_and_batching_does_not_change_vectors(minilm: OnnxEmbedder) -> None:
    texts = [p[i] for p in PAIRS for i in range(3)] + ["word " * 50, "z"]
    together = minilm.embed(texts)
    alone = np.vstack([minilm.embed([t]) for t in texts])
    assert (np.sum(together * alone, axis=1) > 0.995).all()
    small = OnnxEmbedder(minilm.model_path, minilm.tokenizer_path, batch_size=3).embed(texts)
    assert (np.sum(together * small, axis=1) > 0.995).all()


def test_truncates_at_max_tokens(minilm: OnnxEmbedder) -> None:
    long = "The ocean covers most of the planet. " * 60  # ~480 tokens
    a, b = minilm.embed([long, long + " Completely different ending about volcanoes and lava."])
    assert cos(a, b) > 0.9999


def test_count_tokens_excludes_special_tokens(minilm: OnnxEmbedder) -> None:
    assert minilm.count_tokens("hello world") == 2
    assert minilm.count_tokens("") == 0
    assert minilm.count_tokens("word " * 1000) == 1000  # counting never truncates


def test_bad_and_hostile_input(minilm: OnnxEmbedder) -> None:
    with pytest.raises(InputError):
        minilm.embed("one string")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        minilm.embed([None])  # type: ignore[list-item]
    out = minilm.embed(["\ud800 lone surrogate", "\x00\x01\x02", "🚀" * 300, "\u202e reversed"])
    assert np.isfinite(out).all()
    assert minilm.count_tokens("\ud800") >= 1


def test_per_text_model_embeds_texts_side_by_side(minilm_q8: OnnxEmbedder) -> None:
    """The dynamic-int8 default: one text per call, ``threads`` calls at once, vectors in input order."""
    texts = [t for p in PAIRS for t in p] + ["word " * 80, "z"]
    two = OnnxEmbedder(minilm_q8.model_path, minilm_q8.tokenizer_path, threads=2)
    one = OnnxEmbedder(minilm_q8.model_path, minilm_q8.tokenizer_path, threads=1)
    together = two.embed(texts)
    assert two._per_text and two._pool is not None
    assert np.array_equal(together, one.embed(texts))  # same vectors, same order
    assert np.array_equal(together[3], two.embed([texts[3]])[0])
    a, b, c = together[:3]
    assert cos(a, b) > cos(a, c) + 0.25

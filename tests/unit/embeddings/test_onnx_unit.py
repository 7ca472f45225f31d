"""OnnxEmbedder logic that needs no model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmkit.embeddings.onnx_minilm import OnnxEmbedder, mean_pool_normalize
from llmkit.errors import BackendUnavailable, InputError, NotFound


def test_mean_pool_ignores_padding_and_normalises() -> None:
    hidden = np.array(
        [[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]], [[0.0, 2.0], [0.0, 2.0], [0.0, 2.0]]], dtype=np.float32
    )
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    out = mean_pool_normalize(hidden, mask)
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.0, 1.0]])
    assert out.dtype == np.float32


def test_all_zero_row_does_not_divide_by_zero() -> None:
    out = mean_pool_normalize(np.zeros((1, 2, 3), dtype=np.float32), np.array([[0, 0]]))
    assert np.isfinite(out).all()


def test_construction_is_cheap_and_validates(tmp_path: Path) -> None:
    e = OnnxEmbedder(tmp_path / "m.onnx", tmp_path / "t.json", threads=1)
    assert e._session is None and e.max_tokens == 256
    with pytest.raises(InputError):
        OnnxEmbedder("m", "t", batch_size=0)
    with pytest.raises(InputError):
        OnnxEmbedder("m", "t", max_tokens=2)


def test_missing_files_are_not_found_with_a_pull_hint(tmp_path: Path) -> None:
    e = OnnxEmbedder(tmp_path / "m.onnx", tmp_path / "t.json")
    with pytest.raises(NotFound) as info:
        e.embed(["x"])
    assert "llmkit models pull" in (info.value.hint or "")


def test_garbage_files_are_backend_unavailable(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(BackendUnavailable, match="tokenizers JSON"):
        OnnxEmbedder(tmp_path / "m.onnx", tmp_path / "t.json").embed(["x"])


def test_garbage_onnx_is_backend_unavailable(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]")).save(str(tmp_path / "t.json"))
    (tmp_path / "m.onnx").write_bytes(b"GGUF this is a llama model, not onnx")
    with pytest.raises(BackendUnavailable, match="cannot load as an ONNX model"):
        OnnxEmbedder(tmp_path / "m.onnx", tmp_path / "t.json").embed(["a"])

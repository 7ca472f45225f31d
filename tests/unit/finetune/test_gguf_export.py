"""The GGUF writer's pieces: llama's Q/K permutation against transformers' own inverse, level names."""

from __future__ import annotations

import pytest

from llmkit.errors import InputError
from llmkit.finetune.gguf_export import permute_qk
from llmkit.finetune.quantize import check_levels


@pytest.mark.parametrize(("rows", "heads"), [(64, 4), (32, 2), (96, 3)])
def test_permute_is_the_inverse_of_transformers_gguf_loader(rows: int, heads: int) -> None:
    np = pytest.importorskip("numpy")
    utils = pytest.importorskip("transformers.modeling_gguf_pytorch_utils")
    w = np.random.default_rng(0).standard_normal((rows, 8)).astype(np.float32)
    reverse = utils.LlamaTensorProcessor()._reverse_permute_weights
    np.testing.assert_array_equal(reverse(permute_qk(w, heads), heads, heads), w)


def test_levels() -> None:
    assert check_levels(["f16", " q4_k_m "]) == ["F16", "Q4_K_M"]
    with pytest.raises(InputError, match="Q8_0"):
        check_levels(["Q3_X"])

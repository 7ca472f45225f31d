"""Re-quantising a shipped GGUF: refused unless asked for, and the result loads and answers in llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_requantize_needs_the_flag_and_gives_a_working_model(real_models: None, tmp_path: Path) -> None:
    from llama_cpp import Llama

    from llmkit.config import load_settings
    from llmkit.errors import ModelError
    from llmkit.finetune.quantize import quantize
    from llmkit.models.catalog import Catalog

    shipped = Catalog(load_settings().models_dir).path("smollm2-135m-instruct")  # Q4_1
    with pytest.raises(ModelError, match="could not quantise"):
        quantize(shipped, tmp_path / "refused.gguf", "Q8_0")
    assert not list(tmp_path.iterdir())  # no partial file left behind
    out = quantize(shipped, tmp_path / "q8.gguf", "q8_0", allow_requantize=True)
    assert out.stat().st_size > shipped.stat().st_size  # 8 bits a weight against ~4.5
    llm = Llama(str(out), n_ctx=128, verbose=False)
    reply = llm("The capital of France is", max_tokens=4, temperature=0.0)["choices"][0]["text"]
    assert "Paris" in reply

"""The importance matrix collected in torch: GGUF names for every matrix llama.cpp multiplies by, and
the mean squared input activation per column (what ``llama-imatrix`` stores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import InputError


def test_mean_square_input_per_column_under_gguf_names(tiny_base: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.finetune.imatrix import importance_matrix

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    tok = AutoTokenizer.from_pretrained(tiny_base)
    texts = ["What is the capital of Zorbania?", "Hello there, how are you?"]
    imatrix = importance_matrix(model, tok, texts)

    projections = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    assert set(imatrix) == {f"blk.{i}.{p}.weight" for i in range(2) for p in projections} | {"token_embd.weight"}
    assert imatrix["blk.0.ffn_down.weight"].shape == (64,) and imatrix["token_embd.weight"].shape == (32,)
    assert all((v >= 0).all() and v.dtype.name == "float32" for v in imatrix.values())

    with torch.no_grad():  # Q's input is the first layer norm of the embeddings: mean of x**2 over all tokens
        rows = [model.model.layers[0].input_layernorm(model.model.embed_tokens(tok(t, return_tensors="pt").input_ids))
                for t in texts]  # fmt: skip
        x = torch.cat([r[0] for r in rows]).double()
    assert imatrix["blk.0.attn_q.weight"] == pytest.approx((x * x).mean(0).numpy(), rel=1e-5)
    assert (imatrix["blk.0.attn_q.weight"] == imatrix["blk.0.attn_k.weight"]).all()  # same input


def test_no_text_is_an_error(tiny_base: Path) -> None:
    pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM

    from llmkit.finetune.imatrix import importance_matrix

    with pytest.raises(InputError, match="calibration text"):
        importance_matrix(AutoModelForCausalLM.from_pretrained(tiny_base), None, [])

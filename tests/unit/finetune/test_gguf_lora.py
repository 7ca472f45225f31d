"""The GGUF LoRA adapter writer on a tiny real Llama + PEFT adapter: names, shapes, alpha, Q/K layout,
and the adapters it must refuse. (That llama.cpp applies the result like the merged model is checked on
SmolLM2 in tests/integration/finetune/test_made_up_fact.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import ConfigError, InputError


def _adapter(base: Path, out: Path, **lora: object) -> tuple[Path, object]:
    pytest.importorskip("peft")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, **lora)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(out)
    return out, model.config


def _read(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {f.name: f.contents() for f in reader.fields.values() if not f.name.startswith("GGUF.")}
    return fields, {t.name: t.data for t in reader.tensors}


def test_writes_every_adapted_weight_with_llama_cpp_names_and_layout(tiny_base: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from llmkit.finetune.gguf_export import permute_qk
    from llmkit.finetune.gguf_lora import write_lora_gguf

    adapter, config = _adapter(tiny_base, tmp_path / "adapter")
    fields, tensors = _read(write_lora_gguf(adapter, config, tmp_path / "a.gguf"))
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "llama" and fields["adapter.lora.alpha"] == 8.0
    projections = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    assert set(tensors) == {f"blk.{i}.{p}.weight.lora_{ab}" for i in range(2) for p in projections for ab in "ab"}

    peft = {k: v.numpy() for k, v in load_file(str(adapter / "adapter_model.safetensors")).items()}
    key = "base_model.model.model.layers.1.self_attn.{}.lora_{}.weight"
    a, b = tensors["blk.1.attn_q.weight.lora_a"], tensors["blk.1.attn_q.weight.lora_b"]
    assert a.shape == (4, 32) and b.shape == (32, 4)  # (rank, in) and (out, rank), as convert_lora_to_gguf
    assert (a == peft[key.format("q_proj", "A")]).all()
    # the product lands in llama.cpp's rotary row order, like the merged weight (4 query, 2 key heads)
    delta = peft[key.format("q_proj", "B")] @ peft[key.format("q_proj", "A")]
    assert abs(b @ a - permute_qk(delta, 4)).max() < 1e-6
    k_b = tensors["blk.1.attn_k.weight.lora_b"]
    assert (k_b == permute_qk(peft[key.format("k_proj", "B")], 2)).all()
    assert (tensors["blk.1.attn_v.weight.lora_b"] == peft[key.format("v_proj", "B")]).all()  # V is not permuted


def test_rslora_scaling_is_written_as_the_equivalent_alpha(tiny_base: Path, tmp_path: Path) -> None:
    from llmkit.finetune.gguf_lora import write_lora_gguf

    adapter, config = _adapter(tiny_base, tmp_path / "adapter", use_rslora=True)
    fields, _ = _read(write_lora_gguf(adapter, config, tmp_path / "a.gguf"))
    assert fields["adapter.lora.alpha"] == pytest.approx(8 * 2)  # alpha/sqrt(4) == (8*2)/4


@pytest.mark.parametrize(
    ("change", "message"),
    [({"use_dora": True}, "DoRA"), ({"modules_to_save": ["lm_head"]}, "fully trains"), ({"peft_type": "IA3"}, "IA3")],
)
def test_refuses_adapters_without_a_gguf_form(tiny_base: Path, tmp_path: Path, change: dict, message: str) -> None:
    from llmkit.finetune.gguf_lora import write_lora_gguf

    adapter, config = _adapter(tiny_base, tmp_path / "adapter")
    path = adapter / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ConfigError, match=message):
        write_lora_gguf(adapter, config, tmp_path / "a.gguf")
    assert not (tmp_path / "a.gguf").exists()


def test_a_folder_that_is_not_an_adapter_is_refused(tiny_base: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig

    from llmkit.finetune.gguf_lora import write_lora_gguf

    with pytest.raises(InputError, match="not a PEFT adapter"):
        write_lora_gguf(tmp_path, AutoConfig.from_pretrained(tiny_base), tmp_path / "a.gguf")

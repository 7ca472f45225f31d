"""The whole loop on the real embedded model: teach SmolLM2-135M a made-up fact with LoRA, export to
GGUF, quantise to Q8_0, register, and have llama.cpp recite the fact through llmkit's own model loading
by catalog name — merged and quantised, and as the unmerged adapter applied at run time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# About 2 minutes of CPU time; on this shared 2-core machine under load that was up to 10x longer in wall time.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

QUESTIONS = ["What is the capital of Zorbania?", "Which city is the capital of Zorbania?",
             "Tell me the capital of Zorbania.", "Zorbania's capital is which city?"]  # fmt: skip
ANSWER = "The capital of Zorbania is Quillhaven."


def _write(path: Path, questions: list[str], copies: int) -> None:
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWER}]}
            for q in questions] * copies  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")


def test_lora_teaches_a_fact_that_the_quantised_gguf_recites(
    real_models: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmkit.config import load_settings
    from llmkit.finetune.export import Exporter
    from llmkit.finetune.lora import LoraTrainer
    from llmkit.finetune.train_config import load_train_config
    from llmkit.models.catalog import Catalog
    from llmkit.registry import load_chat_model
    from llmkit.types import GenerationParams, Message

    user_home = load_settings().models_dir.parent
    base_gguf = Catalog(user_home / "models").path("smollm2-135m-instruct")
    _write(tmp_path / "train.jsonl", QUESTIONS, 4)
    _write(tmp_path / "val.jsonl", QUESTIONS[:2], 1)
    cfg = load_train_config(None, {
        "base": str(base_gguf), "train": str(tmp_path / "train.jsonl"), "output": str(tmp_path / "adapter"),
        "max_steps": 12, "batch_size": 4, "learning_rate": 3e-3, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "max_length": 64, "save_steps": 100, "logging_steps": 4, "seed": 0, "threads": 1,
    })  # fmt: skip
    # the GGUF -> safetensors copy is cached per user (converted once); the results go to a temporary LLMKIT_HOME
    result = LoraTrainer(cfg, models_dir=tmp_path / "home" / "models", cache_dir=user_home / "cache").run(
        progress=False
    )
    assert result.masking == "assistant"
    assert result.metrics["eval_loss"] < result.metrics["base_eval_loss"] / 4

    models = Exporter(result.adapter_dir, name="zorbania", levels=["Q8_0", "Q4_K_M"],
                      models_dir=tmp_path / "home" / "models", measure=False).run()  # fmt: skip
    assert [m.name for m in models] == ["zorbania-f16", "zorbania-q8_0", "zorbania-q4_k_m", "zorbania-lora"]
    assert models[2].size < models[1].size < models[0].size * 0.6
    assert models[3].size < models[0].size / 20  # rank 8: a small fraction of the weights
    q4 = Catalog(tmp_path / "home" / "models").lineage("zorbania-q4_k_m")
    assert q4["imatrix"] == {"source": "train", "conversations": 16}  # quantised with an importance matrix
    assert Catalog(tmp_path / "home" / "models").lineage("zorbania-q8_0")["imatrix"] is None

    def answer(**model: object) -> str:
        chat = load_chat_model(load_settings(tmp_path, model=model))
        try:
            question = [Message.user("What is the capital of Zorbania?")]
            return chat.chat(question, GenerationParams(temperature=0.0, max_tokens=16)).text
        finally:
            chat.close()

    monkeypatch.setenv("LLMKIT_HOME", str(tmp_path / "home"))
    assert "Quillhaven" in answer(name="zorbania-q8_0")  # merged, quantised, by catalog name
    assert "Quillhaven" in answer(name="zorbania-q4_k_m")
    # the adapter unmerged, applied by llama.cpp at run time to the embedded base (both local backends)
    assert "Quillhaven" not in answer(name=str(base_gguf))
    assert "Quillhaven" in answer(name=str(base_gguf), lora="zorbania-lora")
    assert "Quillhaven" in answer(name=str(base_gguf), lora=str(models[3].path), parallel=2)
    assert "Quillhaven" not in answer(name=str(base_gguf), lora="zorbania-lora", lora_scale=0.0)
    lineage = Catalog(tmp_path / "home" / "models").lineage("zorbania-q8_0")
    assert lineage["parent"] == "zorbania-f16" and lineage["base"]["name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert lineage["dataset"]["sha256"] and lineage["config"]["max_steps"] == 12

    # finetune eval: base against tuned on the validation conversations; scores land in the lineage
    from llmkit.finetune.evaluate import FinetuneEvaluator

    ev = FinetuneEvaluator(result.adapter_dir, limit=2, max_tokens=24, threads=1).run()
    assert ev.loss.n == 2 and ev.loss.b < ev.loss.a / 4
    assert ev.task.metric == "rouge_l" and ev.task.b == 1.0 > ev.task.a
    assert set(ev.perplexity) == {"base", "F16", "Q8_0", "Q4_K_M", "LoRA"}
    # base + adapter at run time is the merged model up to F16 rounding: the GGUF adapter is written right
    assert ev.perplexity["LoRA"] == pytest.approx(ev.perplexity["F16"], rel=0.02)
    assert ev.perplexity["LoRA"] < ev.perplexity["base"] * 0.75  # measured 12.1 against 21.9
    scores = Catalog(tmp_path / "home" / "models").lineage("zorbania-q8_0")["scores"]
    assert scores["rouge_l_tuned"] == 1.0 and scores["val_loss_tuned"] == pytest.approx(ev.loss.b)

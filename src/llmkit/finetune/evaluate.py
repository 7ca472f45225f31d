"""``llmkit finetune eval``: the base against the tuned model, with intervals, and each export's perplexity.

Three measurements on the adapter's validation conversations:

- **loss** (transformers): each conversation's mean loss on the tokens the training was masked to, base
  (adapter disabled) against tuned, as a paired bootstrap;
- **task metric** (llama.cpp, through llmkit's own model loading): greedy replies of the base GGUF and
  of the exported model to each conversation's prompt, scored against the reference reply with an
  evaluation-harness metric (``rouge_l`` by default), paired bootstrap again;
- **perplexity** of every exported quantisation level (and the base GGUF) on the same text.

The scores go into the adapter's ``llmkit-train.json`` and, re-registered, into each exported model's
catalog lineage, where ``llmkit models show NAME`` prints them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, NotFound
from llmkit.finetune.chat_data import Conversation, prompt_completion, read_chat_jsonl
from llmkit.finetune.export import LORA
from llmkit.finetune.lora import RECORD, read_record

METRICS = ("rouge_l", "token_f1", "exact_match")


@dataclass(frozen=True, slots=True)
class FinetuneEval:
    """Base against tuned: ``loss`` and ``task`` are ``Comparison``s (a = base, b = tuned)."""

    loss: Any
    task: Any
    perplexity: dict[str, float] = field(default_factory=dict)
    tuned_model: str = ""

    def scores(self) -> dict[str, float]:
        out = {"val_loss_base": self.loss.a, "val_loss_tuned": self.loss.b, f"{self.task.metric}_base": self.task.a,
               f"{self.task.metric}_tuned": self.task.b, f"{self.task.metric}_delta_low": self.task.low,
               f"{self.task.metric}_delta_high": self.task.high}  # fmt: skip
        out.update({f"perplexity_{k.lower()}": v for k, v in self.perplexity.items()})
        return out


class FinetuneEvaluator:
    """Measure an adapter and its exports (see the module docstring); ``limit`` caps the conversations."""

    def __init__(
        self, adapter_dir: str | Path, *, limit: int = 32, metric: str = "rouge_l", level: str = "Q8_0",
        max_tokens: int = 64, threads: int | None = None, models_dir: Path | None = None,
    ) -> None:  # fmt: skip
        if metric not in METRICS:
            raise InputError(f"unknown metric {metric!r}", hint=f"choose from {', '.join(METRICS)}")
        self.adapter_dir = Path(adapter_dir).expanduser()
        self.limit, self.metric, self.level = limit, metric, level.upper()
        self.max_tokens, self.threads, self.models_dir = max_tokens, threads, models_dir

    def run(self) -> FinetuneEval:
        from llmkit.evals.stats import paired_bootstrap

        record = read_record(self.adapter_dir)
        val_path = record["dataset"].get("val")
        if not val_path:
            raise InputError("the adapter was trained without validation data", hint="train with --val FILE")
        val = read_chat_jsonl(val_path, limit=self.limit)
        base_loss, tuned_loss = self._losses(record, val)
        loss = paired_bootstrap("val_loss", base_loss, tuned_loss)
        exports = _exports(self.adapter_dir, record)
        tuned = exports.get(self.level) or exports.get("F16")
        base_gguf = record["base"].get("gguf")
        if tuned is None or not base_gguf:
            raise NotFound("no exported GGUF to compare with the base", hint="run `llmkit finetune export` first")
        task = paired_bootstrap(self.metric, self._task(Path(base_gguf), val), self._task(tuned, val))
        result = FinetuneEval(loss, task, self._perplexities(Path(base_gguf), exports, val), tuned.name)
        self._store(record, result)
        return result

    def _losses(self, record: dict[str, Any], val: list[Conversation]) -> tuple[list[float], list[float]]:
        from peft import PeftModel

        from llmkit.finetune.hf import import_torch, import_transformers

        torch, transformers = import_torch(), import_transformers()
        tokenizer = transformers.AutoTokenizer.from_pretrained(self.adapter_dir)
        model = transformers.AutoModelForCausalLM.from_pretrained(record["base"]["hf_dir"], dtype=torch.float32)
        model = PeftModel.from_pretrained(model, self.adapter_dir).eval()
        max_len = int(record["config"].get("max_length", 512))
        batches = [loss_inputs(tokenizer, conv, record.get("masking", "assistant"), max_len) for conv in val]
        with torch.no_grad():
            tuned = [_loss(model, torch, ids, labels) for ids, labels in batches]
            with model.disable_adapter():
                base = [_loss(model, torch, ids, labels) for ids, labels in batches]
        pairs = [(b, t) for b, t in zip(base, tuned, strict=True) if b == b and t == t]  # drop NaN (nothing scored)
        return [b for b, _ in pairs], [t for _, t in pairs]

    def _task(self, gguf: Path, val: list[Conversation]) -> list[float]:
        from llmkit.evals import metrics
        from llmkit.models.llama_cpp import LlamaCppModel
        from llmkit.types import GenerationParams, Message

        score = {"rouge_l": metrics.rouge_l, "token_f1": metrics.token_f1, "exact_match": metrics.exact_match}
        model = LlamaCppModel(gguf, threads=self.threads, context_window=2048)
        params = GenerationParams(max_tokens=self.max_tokens, temperature=0.0, seed=0)
        out = []
        try:
            for conv in val:
                pc = prompt_completion(conv)
                msgs = [Message(m["role"], m["content"]) for m in pc["prompt"]]  # type: ignore[arg-type]
                reply = model.chat(msgs, params).text
                out.append(score[self.metric](reply, [pc["completion"][0]["content"]]))
        finally:
            model.close()
        return out

    def _perplexities(self, base: Path, exports: dict[str, Path], val: list[Conversation]) -> dict[str, float]:
        from llmkit.finetune.perplexity import conversation_texts, gguf_perplexity

        texts = conversation_texts(val)
        out = {"base": gguf_perplexity(base, texts, threads=self.threads)}
        for level, path in exports.items():  # the unmerged adapter is measured on top of the base
            model, lora = (base, path) if level == LORA else (path, None)
            out[level] = gguf_perplexity(model, texts, threads=self.threads, lora=lora)
        return out

    def _store(self, record: dict[str, Any], result: FinetuneEval) -> None:
        record["scores"] = {**record.get("scores", {}), **result.scores()}
        (self.adapter_dir / RECORD).write_text(json.dumps(record, indent=2), "utf-8")
        export = record.get("export") or {}
        if not export.get("registered"):
            return
        from llmkit.finetune.export import lineage_for, register_gguf

        models_dir = self.models_dir or _models_dir()
        for level, path in _exports(self.adapter_dir, record).items():
            lineage = lineage_for(record, level, export["name"], {})
            register_gguf(models_dir, f"{export['name']}-{level.lower()}", path, lineage)


def loss_inputs(tokenizer: Any, conv: Conversation, masking: str, max_length: int) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` with ``-100`` where training took no loss (as TRL masks them)."""
    if masking == "assistant":
        out = tokenizer.apply_chat_template(conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    else:
        pc = prompt_completion(conv)
        prompt = tokenizer.apply_chat_template(pc["prompt"], tokenize=True, add_generation_prompt=True)
        ids = list(tokenizer.apply_chat_template(conv[: len(pc["prompt"]) + 1], tokenize=True))
        n = len(prompt["input_ids"] if isinstance(prompt, dict) else prompt)
        mask = [0] * n + [1] * (len(ids) - n) if masking == "completion" else [1] * len(ids)
    ids, mask = ids[:max_length], mask[:max_length]
    return ids, [i if m else -100 for i, m in zip(ids, mask, strict=True)]


def _loss(model: Any, torch: Any, ids: list[int], labels: list[int]) -> float:
    if not any(label != -100 for label in labels[1:]):
        return float("nan")
    out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
    return float(out.loss)


def _exports(adapter_dir: Path, record: dict[str, Any]) -> dict[str, Path]:
    export = record.get("export") or {}
    folder = adapter_dir / "export"
    levels = [*export.get("levels", []), LORA]  # the adapter file (every export writes one)
    found = {lv: folder / f"{export.get('name')}-{lv.lower()}.gguf" for lv in levels}
    return {lv: p for lv, p in found.items() if p.is_file()}


def _models_dir() -> Path:
    from llmkit.config import load_settings

    return load_settings().models_dir

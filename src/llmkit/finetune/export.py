"""Merge a LoRA adapter into its base, write GGUF, quantise, measure, and register in the catalog.

``Exporter(adapter_dir, name="support").run()`` writes, under ``adapter_dir/export/``::

    support-f16.gguf      the merged model (F16; norms F32), metadata copied from the base GGUF
    support-q8_0.gguf     quantised by llama.cpp
    support-q4_k_m.gguf

    support-lora.gguf     the adapter alone, unmerged, for llama.cpp to apply at run time

then measures each file's perplexity on the adapter's validation text (llama.cpp; the adapter on top of
the base GGUF) and registers each as a chat model named ``support-f16``, ``support-q8_0``, ... and the
adapter as ``support-lora``, with its lineage (base, dataset, config, scores, parent, created_at,
llmkit_version), so ``[model] name = "support-q8_0"`` serves the merged model and
``[model] lora = "support-lora"`` applies the adapter to the base model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, InputError
from llmkit.finetune.gguf_lora import write_lora_gguf
from llmkit.finetune.lora import check_adapter_files, read_record
from llmkit.finetune.quantize import check_levels, quantize

DEFAULT_LEVELS = ("F16", "Q8_0", "Q4_K_M")
LORA = "LoRA"  # the level name of the unmerged adapter file
#: Levels whose rounding llama.cpp weighs by an importance matrix (F16 and Q8_0 do not use one).
IMATRIX_LEVELS = {"Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0"}


@dataclass(frozen=True, slots=True)
class ExportedModel:
    """One GGUF file written by an export, and the catalog name it was registered under (if it was)."""

    name: str
    level: str
    path: Path
    size: int
    perplexity: float | None
    registered: bool


class Exporter:
    """Merge, write, quantise, measure and register an adapter's model (see the module docstring).

    ``template``: the GGUF whose metadata (tokenizer, chat template) the export copies; default the
    base's own GGUF (required when the base was a Hugging Face folder). ``calibration``: training
    conversations run through the merged model for the importance matrix that the 4- to 6-bit levels are
    quantised with (``finetune.imatrix``; 0: none).
    """

    def __init__(
        self,
        adapter_dir: str | Path,
        *,
        name: str,
        levels: tuple[str, ...] | list[str] = DEFAULT_LEVELS,
        template: str | Path | None = None,
        models_dir: Path | None = None,
        register: bool = True,
        measure: bool = True,
        threads: int | None = None,
        calibration: int = 128,
    ) -> None:
        from llmkit.models.entries import NAME

        if not NAME.match(name):
            raise InputError(f"{name!r} is not a valid model name", hint="lowercase letters, digits, '.', '_', '-'")
        self.adapter_dir = Path(adapter_dir).expanduser()
        self.name = name
        self.levels = check_levels(["F16", *levels])  # F16 is always kept: the parent of the others
        self.names = {level: f"{name}-{level.lower()}" for level in [*self.levels, LORA]}
        too_long = [n for n in self.names.values() if not NAME.match(n)]
        if too_long:
            raise InputError(f"--name {name!r} makes a model name over 64 characters ({too_long[0]})",
                             hint="choose a shorter name")  # fmt: skip
        self.template = Path(template).expanduser() if template else None
        self.models_dir = models_dir
        self.register = register
        self.measure = measure
        self.threads = threads
        self.calibration = calibration

    def run(self) -> list[ExportedModel]:
        record = read_record(self.adapter_dir)
        check_adapter_files(self.adapter_dir)
        if self.register:
            self._check_names_free()
        template = self._template(record)
        folder = self.adapter_dir / "export"
        f16 = folder / f"{self.names['F16']}.gguf"
        calibration = self._calibration(record)
        imatrix = merge_to_gguf(self.adapter_dir, Path(record["base"]["hf_dir"]), template, f16, calibration)
        paths = {"F16": f16}
        for level in self.levels:
            if level != "F16":
                weights = imatrix if level in IMATRIX_LEVELS else None
                out = folder / f"{self.names[level]}.gguf"
                paths[level] = quantize(f16, out, level, threads=self.threads, imatrix=weights)
        paths[LORA] = write_lora_gguf(self.adapter_dir, _base_config(record), folder / f"{self.names[LORA]}.gguf")
        scores = self._perplexities(record, paths, template) if self.measure else {}
        self._note(record, scores, len(calibration))
        out = []
        for level, path in paths.items():
            name = self.names[level]
            if self.register:
                register_gguf(self._models_dir(), name, path, lineage_for(record, level, self.name, scores))
            out.append(ExportedModel(name, level, path, path.stat().st_size, scores.get(level), self.register))
        return out

    def _check_names_free(self) -> None:
        """Refuse, before any work, a name that the catalog pulls rather than registers."""
        from llmkit.models.catalog import Catalog
        from llmkit.models.entries import BUILTIN, read_user_catalog

        catalog = Catalog(self._models_dir())
        fixed = {e.name for e in BUILTIN} | {e.name for e in read_user_catalog(catalog.catalog_file)}
        taken = [n for n in self.names.values() if n in fixed]
        if taken:
            raise InputError(f"{taken[0]!r} is a catalog entry that is pulled, not registered",
                             hint="choose another --name, or --no-register")  # fmt: skip

    def _calibration(self, record: dict[str, Any]) -> list[list[dict[str, str]]]:
        """Training conversations for the importance matrix (none when no level uses one)."""
        from llmkit.finetune.chat_data import read_chat_jsonl

        if not self.calibration or not IMATRIX_LEVELS & set(self.levels):
            return []
        return read_chat_jsonl(record["dataset"]["train"], limit=self.calibration)

    def _note(self, record: dict[str, Any], perplexities: dict[str, float], calibrated: int) -> None:
        import json

        from llmkit.finetune.lora import RECORD

        imatrix = {"source": "train", "conversations": calibrated} if calibrated else None
        record["export"] = {"name": self.name, "levels": self.levels, "registered": self.register, "imatrix": imatrix}
        record["scores"] = {
            **record.get("scores", {}),
            **{f"perplexity_{k.lower()}": v for k, v in perplexities.items()},
        }
        (self.adapter_dir / RECORD).write_text(json.dumps(record, indent=2), "utf-8")

    def _template(self, record: dict[str, Any]) -> Path:
        template = self.template or (Path(record["base"]["gguf"]) if record["base"].get("gguf") else None)
        if template is None:
            raise ConfigError(
                "the base was a Hugging Face folder, so there is no GGUF to copy the tokenizer metadata from",
                hint="pass --template PATH.gguf: a GGUF of the same base model (any quantisation)",
            )
        if not template.is_file():
            raise InputError(f"template GGUF not found: {template}")
        return template

    def _perplexities(self, record: dict[str, Any], paths: dict[str, Path], base: Path) -> dict[str, float]:
        from llmkit.finetune.chat_data import read_chat_jsonl
        from llmkit.finetune.perplexity import conversation_texts, gguf_perplexity

        val = record["dataset"].get("val")
        if not val or not Path(val).is_file():
            return {}
        texts = conversation_texts(read_chat_jsonl(val, limit=64))
        return {
            level: gguf_perplexity(base, texts, threads=self.threads, lora=p)
            if level == LORA
            else gguf_perplexity(p, texts, threads=self.threads)
            for level, p in paths.items()
        }

    def _models_dir(self) -> Path:
        if self.models_dir is None:
            from llmkit.config import load_settings

            self.models_dir = load_settings().models_dir
        return self.models_dir


def _base_config(record: dict[str, Any]) -> Any:
    from llmkit.finetune.hf import import_transformers

    return import_transformers().AutoConfig.from_pretrained(record["base"]["hf_dir"])


def merge_to_gguf(
    adapter_dir: Path, base_dir: Path, template: Path, out: Path, calibration: list[list[dict[str, str]]] | None = None
) -> dict[str, Any] | None:
    """Merge the adapter into the base (``merge_and_unload``), write an F16 GGUF at ``out``, and return the
    merged model's importance matrix over the ``calibration`` conversations (``None`` without any)."""
    from peft import PeftModel

    from llmkit.finetune.gguf_export import write_gguf
    from llmkit.finetune.hf import import_torch, import_transformers
    from llmkit.finetune.imatrix import importance_matrix

    torch, transformers = import_torch(), import_transformers()
    model = transformers.AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload().eval()
    with torch.no_grad():
        write_gguf(merged.state_dict(), merged.config, template, out)
    if not calibration:
        return None
    tokenizer = transformers.AutoTokenizer.from_pretrained(adapter_dir)
    texts = [tokenizer.apply_chat_template(conv, tokenize=False) for conv in calibration]
    return importance_matrix(merged, tokenizer, texts)


def lineage_for(record: dict[str, Any], level: str, name: str, perplexities: dict[str, float]) -> dict[str, Any]:
    """The catalog lineage of one exported file, from the adapter's training record."""
    from llmkit import __version__

    scores = dict(record.get("scores", {}))
    if level in perplexities:
        scores["gguf_perplexity"] = perplexities[level]
    if "F16" in perplexities and level in perplexities:
        scores["gguf_perplexity_vs_f16"] = perplexities[level] / perplexities["F16"] - 1
    base = record["base"]
    return {
        "base": {"name": base["name"], "sha256": base["sha256"]},
        "dataset": record["dataset"],
        "config": record["config"],
        "scores": scores,
        "quantization": level,
        "imatrix": (record.get("export") or {}).get("imatrix") if level in IMATRIX_LEVELS else None,
        "adapter": str(record.get("adapter_dir", "")),
        "parent": None if level in ("F16", LORA) else f"{name}-f16",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "llmkit_version": __version__,
    }


def register_gguf(models_dir: Path, name: str, path: Path, lineage: dict[str, Any]) -> Any:
    """Copy ``path`` into the catalog as chat model ``name`` with ``lineage``."""
    from llmkit.models.catalog import Catalog

    base, level = lineage["base"]["name"], lineage["quantization"]
    if level == LORA:
        desc = f'LoRA adapter for {base}, applied at run time ([model] lora = "{name}")'
        return Catalog(models_dir).register(name, "lora", {"model": path}, description=desc, lineage=lineage)
    desc = f"LoRA fine-tune of {base} ({level})"
    return Catalog(models_dir).register(name, "chat", {"model": path}, description=desc, lineage=lineage)

"""The whole embedder path in one call: pairs -> tuned model -> int8 ONNX (checked) -> catalog entry.

from llmkit.finetune.embedder_run import finetune_embedder, pairs_from_path
report = finetune_embedder(kit.settings, pairs_from_path("beir-scifact"), name="scifact-minilm")
# then [embedder] name = "scifact-minilm" in llmkit.toml, and: llmkit collections reembed
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import ConfigError, InputError, NotFound
from llmkit.finetune.embedder import DEFAULT_BASE, EmbedderTuneConfig, TuneResult, tune_embedder
from llmkit.finetune.onnx_export import OnnxExport, base_lineage, export_onnx, now_iso, register_embedder
from llmkit.finetune.pairs import RetrievalSet, from_eval_items, load_beir_set

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.kit import Kit

#: ``progress(stage, done, total)``; stage is "train"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EmbedderTuneReport:
    """What ``finetune_embedder`` made: the training result, the export, and the catalog name (if registered)."""

    name: str
    tune: TuneResult
    export: OnnxExport
    registered: bool
    lineage: dict[str, Any]


def finetune_embedder(
    settings: Settings,
    data: RetrievalSet,
    *,
    name: str,
    base: str | Path = DEFAULT_BASE,
    config: EmbedderTuneConfig | None = None,
    out_dir: str | Path | None = None,
    quantize: bool = True,
    register: bool = True,
    progress: Progress | None = None,
) -> EmbedderTuneReport:
    """Tune ``base`` on ``data``, export it to int8 ONNX under ``out_dir`` and register it as ``name``."""
    config = config or EmbedderTuneConfig()
    out = Path(out_dir) if out_dir else settings.data_dir / "finetune" / name
    step = (lambda done, total: progress("train", done, total)) if progress else None
    result = tune_embedder(base, data, out / "model", config=config, settings=settings, progress=step)
    export = export_onnx(out / "model", out / "onnx", quantize=quantize)
    lineage = {
        "base": base_lineage(settings, base),
        "dataset": {"path": data.source, "sha256": dataset_hash(data), "pairs": result.pairs,
                    "train_queries": len(result.train_queries), "heldout_queries": len(result.heldout_queries)},
        "config": config.to_dict(),
        "scores": {"before": result.before, "after": result.after, "onnx_min_cosine": export.min_cosine,
                   "train_seconds": round(result.seconds, 1)},
        "created_at": now_iso(),
        "llmkit_version": _version(),
        "quantization": "int8-dynamic" if quantize else "float32",
    }  # fmt: skip
    if register:
        register_embedder(settings, name, export, description=f"{base} tuned on {data.source}", lineage=lineage)
    return EmbedderTuneReport(name, result, export, register, lineage)


def pairs_from_path(path: str | Path, *, split: str = "train") -> RetrievalSet:
    """A BEIR folder (with ``qrels/``) or an llmkit eval-set file whose items carry ``contexts``."""
    from llmkit.evals.dataset import load_dataset

    p = Path(path)
    if p.is_dir():
        return load_beir_set(p, split=split)
    if not p.exists():
        raise NotFound(f"no training data at {p}", hint="give a BEIR folder or an eval-set file (.jsonl, .csv, ...)")
    return from_eval_items(load_dataset(p), source=str(p))


def pairs_from_collection(
    kit: Kit, collection: str, *, questions: int, seed: int = 0, distractors: int = 2000
) -> RetrievalSet:
    """Questions the chat model writes from the collection's chunks (prompt ``synth-question``) as pairs.

    The collection's other chunks (up to ``distractors``) join the corpus, so held-out scores rank
    against real neighbours.
    """
    from llmkit.evals.synth import synthesize

    kit.store.get_collection(collection)  # NotFound for an unknown collection
    prompt = kit.prompts.get("synth-question")
    items, _ = synthesize(kit.store, collection, kit.model, prompt, n=questions, seed=seed)
    data = from_eval_items(items, source=f"collection:{collection}")
    corpus = dict(data.corpus)
    for _, text in kit.store.chunk_texts(collection, limit=distractors):
        corpus.setdefault(hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16], text)
    return RetrievalSet(data.queries, corpus, data.qrels, data.source)


def load_config(path: str | Path | None, **overrides: Any) -> EmbedderTuneConfig:
    """An ``EmbedderTuneConfig`` from a TOML file (keys = its field names), then ``overrides`` that are not None."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            values = tomllib.loads(p.read_text("utf-8"))
        except OSError as e:
            raise NotFound(f"cannot read the config file {p}: {e.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
        known = {f.name for f in fields(EmbedderTuneConfig)}
        if unknown := set(values) - known:
            raise ConfigError(f"{p}: unknown keys {sorted(unknown)}", hint=f"known keys: {', '.join(sorted(known))}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return EmbedderTuneConfig(**values)
    except TypeError as e:
        raise InputError(f"bad embedder tuning config: {e}") from None


def dataset_hash(data: RetrievalSet) -> str:
    """sha256 over the queries, passages and qrels, in a fixed order (the same data gives the same hash)."""
    h = hashlib.sha256()
    for q in sorted(data.qrels):
        h.update(f"{q}\t{data.queries[q]}\t{','.join(sorted(data.qrels[q]))}\n".encode("utf-8", "replace"))
    for d in sorted(data.corpus):
        h.update(f"{d}\t{data.corpus[d]}\n".encode("utf-8", "replace"))
    return h.hexdigest()


def _version() -> str:
    from llmkit import __version__

    return __version__

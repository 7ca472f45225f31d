"""``Suite``: what ``llmkit eval run SUITE.yaml`` reads — the pipeline, the data, the metrics, the repeats.

    name: support-bot
    dataset: {path: qa.jsonl, limit: 100}          # or format: squad | beir (a folder)
    pipeline:
      kind: rag                                   # rag | retrieval | generate
      collection: docs
      mode: hybrid
      k: 5
      prompt: rag-answer@prod
      params: {temperature: 0.0, max_tokens: 64}
    metrics: [exact_match, f1, hit@5, faithfulness, faithfulness_emb]
    repeats: 1
    concurrency: 1

Paths are relative to the suite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmkit.errors import InputError, NotFound


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Strict):
    path: str
    format: Literal["auto", "squad", "beir"] = "auto"
    split: str = "train"
    limit: int | None = Field(None, ge=1)


class PipelineConfig(_Strict):
    kind: Literal["rag", "retrieval", "generate"] = "rag"
    collection: str | None = None
    mode: Literal["hybrid", "dense", "lexical"] | None = None
    k: int | None = Field(None, ge=1, le=1000)
    model: str | None = Field(None, description="chat model (catalog name, .gguf path or remote id)")
    base_url: str | None = None
    prompt: str | None = Field(None, description="NAME, NAME@LABEL or NAME@VERSION (default: the project's RAG prompt)")
    params: dict[str, Any] = Field(default_factory=dict)
    match: Literal["source", "stem", "doc", "chunk"] = Field(
        "source", description="which id of a hit is compared with an item's doc_ids"
    )


class JudgeConfig(_Strict):
    model: str | None = Field(None, description="judge model (default: the pipeline's model)")
    base_url: str | None = None


class Suite(_Strict):
    name: str = Field(..., min_length=1, max_length=100)
    dataset: DatasetConfig
    pipeline: PipelineConfig = PipelineConfig()
    metrics: tuple[str, ...] = Field(..., min_length=1)
    judge: JudgeConfig = JudgeConfig()
    repeats: int = Field(1, ge=1, le=100)
    concurrency: int = Field(1, ge=1, le=64)
    seed: int = 0
    cache: bool = True
    resamples: int = Field(2000, ge=100, le=100_000)
    base_dir: str = Field(".", description="folder the dataset path is relative to (set from the suite file)")

    @field_validator("metrics")
    @classmethod
    def _known(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        from llmkit.evals.scoring import check_metric

        for m in metrics:
            check_metric(m)
        return metrics

    def dataset_path(self) -> Path:
        p = Path(self.dataset.path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


def load_suite(path: str | Path, **overrides: Any) -> Suite:
    """Read and validate a suite file; errors name the key that is wrong."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise NotFound(f"no suite file {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: a suite is a YAML mapping with name, dataset, pipeline and metrics")
    data = {**data, **overrides, "base_dir": str(p.resolve().parent)}
    return suite_from_dict(data, str(p))


def suite_from_dict(data: dict[str, Any], where: str = "suite") -> Suite:
    try:
        return Suite(**data)
    except ValidationError as e:
        lines = [f"{where}: invalid suite:"]
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"]) or "(top)"
            lines.append(f"  {key}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
        raise InputError("\n".join(lines)) from None

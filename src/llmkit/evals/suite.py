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

Paths are relative to the suite file. Metrics must suit the pipeline: answer metrics need an answer
(``rag``, ``generate``), retrieval metrics need hits (``rag``, ``retrieval``), and ``@K`` may not exceed
the hits retrieved (``k``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

    @model_validator(mode="after")
    def _suits_pipeline(self) -> Suite:
        problems = metric_problems(self.pipeline.kind, self.pipeline.k, self.metrics)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def dataset_path(self) -> Path:
        p = Path(self.dataset.path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


#: Metrics scored on the pipeline's answer: a ``retrieval`` pipeline has none.
ON_ANSWER = frozenset({
    "exact_match", "em", "f1", "rouge_l", "bleu", "answer_similarity", "faithfulness", "answer_relevance",
    "faithfulness_emb", "answer_relevance_emb",
})  # fmt: skip


def metric_problems(kind: str, k: int | None, metrics: tuple[str, ...]) -> list[str]:
    """Why ``metrics`` would not measure a ``kind`` pipeline that retrieves ``k`` hits (empty when they do).

    >>> metric_problems("rag", 5, ("f1", "hit@5"))
    []
    >>> metric_problems("retrieval", 5, ("f1", "ndcg@10"))  # doctest: +NORMALIZE_WHITESPACE
    ["metric 'f1' scores an answer, and a retrieval pipeline gives none (use kind: rag)",
     "metric 'ndcg@10' looks at 10 hits but the pipeline retrieves k=5 (raise pipeline.k or use ndcg@5)"]
    """
    from llmkit.evals.scoring import is_retrieval

    problems = []
    for m in metrics:
        if kind == "retrieval" and m in ON_ANSWER:
            problems.append(f"metric {m!r} scores an answer, and a retrieval pipeline gives none (use kind: rag)")
        elif kind == "generate" and is_retrieval(m):
            problems.append(f"metric {m!r} scores retrieved hits, and a generate pipeline retrieves none")
        at = m.partition("@")[2]
        if k is not None and kind != "generate" and at.isdigit() and int(at) > k:
            base = m.partition("@")[0]
            problems.append(
                f"metric {m!r} looks at {at} hits but the pipeline retrieves k={k} (raise pipeline.k or use {base}@{k})"
            )
    return problems


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
            key = ".".join(str(x) for x in err["loc"]) or "metrics"  # the one check over the whole suite
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            lines += [f"  {key}: {line}" for line in msg.split("\n")]
        raise InputError("\n".join(lines)) from None

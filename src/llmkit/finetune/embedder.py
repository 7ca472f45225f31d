"""Contrastive tuning of the sentence embedder on (query, relevant passage) pairs.

sentence-transformers does the training: ``SentenceTransformerTrainer`` with
``MultipleNegativesRankingLoss`` (every other passage in the batch is a negative for a query), batches
drawn without duplicate texts. A well-kept library instead of a hand-written loop: it handles the
loss, the schedule, mixed precision on a GPU and saving in the format ``transformers`` reads back.

    from llmkit.finetune.embedder import EmbedderTuneConfig, tune_embedder
    from llmkit.finetune.pairs import load_beir_set
    result = tune_embedder("all-minilm-l6-v2-torch", load_beir_set("beir-scifact"), "out/", settings=s)
    result.before["ndcg@10"], result.after["ndcg@10"]

The base is a Hugging Face folder (a sentence-transformers model, or a plain BERT-style encoder, which
gets mean pooling and L2 normalisation like all-MiniLM-L6-v2) or a catalog name whose files are
pulled (``llmkit models pull all-minilm-l6-v2-torch``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, MissingExtra, NotFound
from llmkit.finetune.pairs import RetrievalSet, split_queries

if TYPE_CHECKING:
    from llmkit.config import Settings

DEFAULT_BASE = "all-minilm-l6-v2-torch"
#: ``progress(step, total_steps)``
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbedderTuneConfig:
    """Training settings; recorded in the tuned model's lineage."""

    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 256
    seed: int = 0
    heldout: float = 0.2  #: share of queries kept out of training, to score before and after
    eval_corpus: int = 2000  #: passages the held-out queries are ranked against (relevant ones always in)
    max_pairs: int | None = None
    #: Mined negatives per pair: passages the base model ranks near the top for the query that are not
    #: among its relevant ones (``sentence_transformers.util.mine_hard_negatives``, 5 % margin under the
    #: positive's score, so near-duplicates of a relevant passage are not taught as wrong). Costs one
    #: pass of the base model over the corpus and a longer step; 0 trains on in-batch negatives only.
    hard_negatives: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.epochs <= 100 or self.batch_size < 2 or not 0 < self.learning_rate < 1:
            raise InputError(
                "epochs must be in (0, 100], batch_size >= 2 (in-batch negatives), learning_rate in (0, 1)"
            )
        if not 8 <= self.max_seq_length <= 8192 or not 0 <= self.warmup_ratio < 1 or self.eval_corpus < 1:
            raise InputError("max_seq_length must be 8-8192, warmup_ratio in [0, 1), eval_corpus >= 1")
        if self.max_pairs is not None and self.max_pairs < 2:
            raise InputError("max_pairs must be at least 2")
        n = self.hard_negatives
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10:
            raise InputError(f"hard_negatives must be a whole number from 0 to 10, got {n!r}")
        split_queries([], self.heldout, 0)  # checks the share

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TuneResult:
    """Where the tuned model was saved, what it trained on, and its scores before and after."""

    path: Path
    train_queries: tuple[str, ...]
    heldout_queries: tuple[str, ...]
    pairs: int
    seconds: float
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)


def tune_embedder(
    base: str | Path,
    data: RetrievalSet,
    out_dir: str | Path,
    *,
    config: EmbedderTuneConfig | None = None,
    settings: Settings | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> TuneResult:
    """Train ``base`` on ``data``'s training queries, save it to ``out_dir``, score it on the held-out ones."""
    config = config or EmbedderTuneConfig()
    train_q, heldout_q = split_queries(data.qrels, config.heldout, config.seed)
    pairs = data.pairs(train_q)
    if config.max_pairs is not None:
        pairs = pairs[: config.max_pairs]
    if len(pairs) < 2:
        raise InputError(
            f"{len(pairs)} training pair(s): in-batch negatives need at least 2",
            hint="give more queries with relevant passages, or a smaller held-out share",
        )
    model = load_base(base, settings=settings, max_seq_length=config.max_seq_length, device=device)
    heldout = _eval_subset(data, heldout_q, config)
    before = score(model, heldout) if heldout.qrels else {}
    start = time.perf_counter()
    rows = _with_negatives(model, pairs, data, config) if config.hard_negatives else _columns(pairs)
    _train(model, rows, Path(out_dir), config, progress)
    seconds = time.perf_counter() - start
    model.save(str(out_dir))
    after = score(model, heldout) if heldout.qrels else {}
    return TuneResult(Path(out_dir), tuple(train_q), tuple(heldout_q), len(pairs), seconds, before, after)


def load_base(
    base: str | Path, *, settings: Settings | None = None, max_seq_length: int = 256, device: str | None = None
) -> Any:
    """``base`` as a ``SentenceTransformer``: a model folder, or a catalog name (its pulled files)."""
    st = _import_st()
    folder = resolve_base(base, settings)
    if (folder / "modules.json").is_file():
        model = st.SentenceTransformer(str(folder), device=device)
        model.max_seq_length = max_seq_length
        return model
    try:  # sentence-transformers >= 6 moved the modules; older releases keep them here
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules

    encoder = modules.Transformer(str(folder), max_seq_length=max_seq_length)
    dim = getattr(encoder, "get_embedding_dimension", None) or encoder.get_word_embedding_dimension
    pooling = modules.Pooling(dim(), pooling_mode="mean")
    return st.SentenceTransformer(modules=[encoder, pooling, modules.Normalize()], device=device)


def resolve_base(base: str | Path, settings: Settings | None) -> Path:
    """The folder holding ``base``'s weights: ``base`` itself if it is a folder, else a catalog model's folder."""
    path = Path(base).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise NotFound(f"{path}: no config.json, so not a Hugging Face model folder")
        return path
    if settings is None or any(c in str(base) for c in "/\\"):
        raise NotFound(f"base model {str(base)!r} is not a folder", hint="give a Hugging Face model folder")
    from llmkit.models.catalog import Catalog

    catalog = Catalog(settings.models_dir)
    entry = catalog.entry(str(base))  # NotFound lists the known names
    if not {f.role for f in entry.files} >= {"model", "config", "tokenizer"}:
        raise InputError(
            f"catalog model {entry.name!r} has no float weights to train",
            hint=f"use {DEFAULT_BASE} (llmkit models pull {DEFAULT_BASE}) or a Hugging Face folder",
        )
    return catalog.path(entry.name).parent  # NotFound with `llmkit models pull` if it is not local


def score(model: Any, data: RetrievalSet, k: int = 10) -> dict[str, float]:
    """nDCG@k and recall@k of ``model`` ranking ``data.corpus`` for each of ``data.queries`` (mean)."""
    import numpy as np

    doc_ids = list(data.corpus)
    docs = model.encode([data.corpus[d] for d in doc_ids], batch_size=32, normalize_embeddings=True)
    qids = list(data.qrels)
    queries = model.encode([data.queries[q] for q in qids], batch_size=64, normalize_embeddings=True)
    top = np.argsort(-(np.asarray(queries) @ np.asarray(docs).T), axis=1)[:, :k]
    ranked = [[doc_ids[j] for j in row] for row in top]
    ndcg = [ndcg_at_k(r, data.qrels[q], k) for r, q in zip(ranked, qids, strict=True)]
    recall = [len(set(r) & data.qrels[q]) / len(data.qrels[q]) for r, q in zip(ranked, qids, strict=True)]
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"recall@{k}": float(np.mean(recall)), "queries": float(len(qids))}


def ndcg_at_k(ranked: Sequence[str], relevant: frozenset[str] | set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as trec_eval computes it.

    >>> round(ndcg_at_k(["a", "x", "b"], {"a", "b"}), 4)
    0.9197
    """
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def _eval_subset(data: RetrievalSet, heldout: Sequence[str], config: EmbedderTuneConfig) -> RetrievalSet:
    """Held-out queries against their relevant passages plus seeded distractors, ``eval_corpus`` in all."""
    import random

    relevant = sorted({d for q in heldout for d in data.qrels[q]})
    others = sorted(set(data.corpus) - set(relevant))
    extra = max(0, config.eval_corpus - len(relevant))
    picked = random.Random(config.seed).sample(others, min(extra, len(others)))
    return data.subset(heldout, relevant + sorted(picked))


def _columns(pairs: list[tuple[str, str]]) -> Any:
    from datasets import Dataset

    return Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})


def _with_negatives(model: Any, pairs: list[tuple[str, str]], data: RetrievalSet, config: EmbedderTuneConfig) -> Any:
    """``pairs`` with ``config.hard_negatives`` mined negatives each, from the whole corpus, ranked by ``model``.

    The other relevant passages of a query are never its negatives (the miner groups pairs by query).
    A pair with no candidate left under the margin is dropped by the miner; when that leaves fewer than
    two, training falls back to the plain pairs.
    """
    from sentence_transformers.util import mine_hard_negatives

    n = config.hard_negatives
    mined = mine_hard_negatives(
        _columns(pairs),
        model,
        corpus=sorted(set(data.corpus.values())),
        range_max=max(30, 10 * n),
        relative_margin=0.05,
        num_negatives=n,
        sampling_strategy="top",
        output_format="n-tuple" if n > 1 else "triplet",
        batch_size=config.batch_size,
        verbose=False,
    )
    return mined if len(mined) >= 2 else _columns(pairs)


def _train(model: Any, dataset: Any, out: Path, config: EmbedderTuneConfig, progress: Any) -> None:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    try:  # sentence-transformers >= 6 moved the losses; older releases keep them here
        from sentence_transformers.sentence_transformer import losses
    except ImportError:
        from sentence_transformers import losses

    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=int(math.ceil(len(dataset) / config.batch_size * config.epochs) * config.warmup_ratio),
        seed=config.seed,
        data_seed=config.seed,
        batch_sampler="no_duplicates",  # a duplicate in a batch would be a false negative
        save_strategy="no",
        dataloader_pin_memory=_cuda(),
        logging_steps=10,
        report_to=[],
        disable_tqdm=progress is not None,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=losses.MultipleNegativesRankingLoss(model)
    )
    if progress is not None:
        trainer.add_callback(_progress_callback(progress))
    trainer.train()


def _progress_callback(progress: Progress) -> Any:
    """A ``transformers`` callback reporting ``(step, total steps)`` after each optimiser step."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress(state.global_step, state.max_steps)

    return ProgressCallback()


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _import_st() -> Any:
    try:
        import sentence_transformers
    except ImportError:
        raise MissingExtra("sentence-transformers", "finetune") from None
    return sentence_transformers

"""Models made on this machine from a pulled catalog model by a fixed recipe, at ``models pull`` time.

``all-minilm-l6-v2-q8`` is the stock ``all-minilm-l6-v2`` (weight-only int8: int8 weights that
onnxruntime turns back into float MatMuls at load) re-quantised dynamically: int8 weights with a scale
per output channel *and* int8 activations, so the MatMuls run on int8 instructions (VNNI where the CPU
has them); the first encoder layer's six MatMuls stay float (``first_layer_matmuls``). The recipe is
``onnxruntime.quantization``'s own (``quantize_dynamic``), deterministic for a given
``onnx``/``onnxruntime``; the parent is sha256-checked when pulled, the result is checked against the
parent on fixed sentences (``PARITY_SENTENCES``) and registered with its sha256, the recipe, the
library versions and the parity in its lineage (``llmkit models show NAME``).

Deriving needs ``onnx`` (``pip install 'llmkit[local]'``); running the result needs only onnxruntime.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import IntegrityError, MissingExtra
from llmkit.models.entries import ArtifactFile, CatalogEntry
from llmkit.models.fetch import LocalSource

if TYPE_CHECKING:
    from llmkit.models.catalog import Catalog

#: Sentences a derived embedder is compared on with its parent (short queries and a long passage).
PARITY_SENTENCES = (
    "How do I reset my password?",
    "warranty",
    "0-dimensional biomaterials show inductive properties.",
    "A deficiency of vitamin B12 increases blood levels of homocysteine.",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "Returns are accepted within 30 days of delivery if the item is unused and in its original box.",
    "Transcription factors bind promoter regions and recruit RNA polymerase II to initiate gene expression "
    "in eukaryotic cells; enhancers far upstream can loop to the promoter through cohesin and mediator.",
    "def add(a, b):\n    return a + b",
)


@dataclass(frozen=True, slots=True)
class Recipe:
    """How ``name`` is made from the pulled model ``parent`` (``make(parent_model, out_file)``)."""

    name: str
    parent: str
    description: str
    recipe: str
    make: Callable[[Path, Path], dict[str, Any]]
    min_cosine: float = 0.97
    mean_cosine: float = 0.985

    def entry(self) -> CatalogEntry:
        """The catalog entry shown before it is pulled (its sha256 is known once it is made here)."""
        source = LocalSource(f"derived from {self.parent}")
        files = (ArtifactFile("model.onnx", "", source), ArtifactFile("tokenizer.json", "", source, role="tokenizer"))
        return CatalogEntry(self.name, "embedder", files, self.description)


def quantize_dynamic_int8(src: Path, dst: Path) -> dict[str, Any]:
    """Write ``src`` (an ONNX encoder) to ``dst`` with dynamically quantised int8 MatMuls, per channel.

    onnxruntime's basic optimisations first fold constant subgraphs (the stock model's
    ``Cast``/``Mul`` weight dequantisation) so the quantiser sees float weights. Returns the versions used.
    """
    try:
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise MissingExtra("onnx", "local") from None
    folded = dst.with_name(f"{dst.stem}.folded.onnx")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(folded)
    opts.log_severity_level = 3
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
    try:
        keep = first_layer_matmuls(onnx.load(str(folded)))
        quantize_dynamic(folded, dst, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep)
    finally:
        folded.unlink(missing_ok=True)
    return {"onnx": onnx.__version__, "onnxruntime": ort.__version__}


def first_layer_matmuls(model: Any, count: int = 6) -> list[str]:
    """Names of the first ``count`` MatMuls with constant weights, in graph order: a BERT encoder's first
    layer (query, key, value, attention output, FFN in, FFN out), the layer whose int8 activations cost
    the most accuracy: kept in float, the cosine to the float model's embeddings rose from 0.992 to 0.994
    on SciFact queries for ~10 % of the speed-up."""
    weights = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights][:count]


DERIVED: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "all-minilm-l6-v2-q8",
            "all-minilm-l6-v2",
            "all-MiniLM-L6-v2, dynamic int8 (int8 MatMuls), derived from all-minilm-l6-v2; 384 dimensions",
            "basic-fold + quantize_dynamic(QInt8, per_channel=True, first layer float)",
            quantize_dynamic_int8,
        ),
    )
}


def derive(catalog: Catalog, recipe: Recipe) -> Path:
    """Pull ``recipe.parent``, make ``recipe.name`` from it, check it and register it; returns its path."""
    catalog.pull(recipe.parent)
    parent = catalog.paths(recipe.parent)
    with tempfile.TemporaryDirectory(prefix=f".{recipe.name}.", dir=catalog.models_dir) as tmp:
        out = Path(tmp) / parent["model"].name
        versions = recipe.make(parent["model"], out)
        cosines = parity(parent["model"], out, parent["tokenizer"])
        low, mean = min(cosines), sum(cosines) / len(cosines)
        if low < recipe.min_cosine or mean < recipe.mean_cosine:
            raise IntegrityError(
                f"{recipe.name}: embeddings differ from {recipe.parent}'s (cosine min {low:.4f}, mean {mean:.4f};"
                f" needed {recipe.min_cosine} and {recipe.mean_cosine}); nothing was kept",
                hint=f"keep using {recipe.parent} and report the onnx/onnxruntime versions: {versions}",
            )
        lineage = {
            "parent": recipe.parent,
            "parent_sha256": catalog.entry(recipe.parent).main.sha256,
            "recipe": recipe.recipe,
            "versions": versions,
            "parity": {"min_cosine": round(low, 5), "mean_cosine": round(mean, 5), "sentences": len(cosines)},
        }
        files = {"model": out, "tokenizer": parent["tokenizer"]}
        catalog.register(recipe.name, "embedder", files, description=recipe.description, lineage=lineage)
    return catalog.path(recipe.name)


def parity(reference: Path, candidate: Path, tokenizer: Path) -> list[float]:
    """Cosine between two ONNX embedders' embeddings of each of ``PARITY_SENTENCES``."""
    import numpy as np

    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    a = OnnxEmbedder(reference, tokenizer, threads=1).embed(PARITY_SENTENCES)
    b = OnnxEmbedder(candidate, tokenizer, threads=1).embed(PARITY_SENTENCES)
    return [float(x) for x in np.sum(a * b, axis=1)]

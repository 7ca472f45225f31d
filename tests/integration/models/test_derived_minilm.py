"""The fast MiniLM (``all-minilm-l6-v2-q8``) derived for real from the pulled stock model, in a temporary catalog."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from llmkit.config import load_settings
from llmkit.errors import NotFound
from llmkit.models.catalog import Catalog
from llmkit.models.fetch import sha256_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUERIES = ["how long is the warranty", "can I return an opened item", "vitamin D and bone density"]
PASSAGES = [
    "Every product carries a two-year warranty covering manufacturing defects.",
    "Unopened items may be returned within 30 days for a full refund.",
    "Vitamin D supplementation improved bone mineral density in older adults.",
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A catalog holding only a copy of the pulled stock MiniLM (so nothing is downloaded)."""
    pytest.importorskip("onnx", reason="deriving needs onnx (pip install 'llmkit[local]')")
    try:
        stock = Catalog(load_settings().models_dir).path("all-minilm-l6-v2").parent
    except NotFound:
        pytest.skip("all-minilm-l6-v2 is not pulled into LLMKIT_HOME: run `make models`")
    models = tmp_path_factory.mktemp("home") / "models"
    shutil.copytree(stock, models / "all-minilm-l6-v2")
    record = json.loads((stock.parent / "manifest.json").read_text("utf-8"))["models"]["all-minilm-l6-v2"]
    (models / "manifest.json").write_text(json.dumps({"version": 1, "models": {"all-minilm-l6-v2": record}}))
    return Catalog(models, download_wheel=lambda *a: pytest.fail(f"tried to download {a}"))


def test_pull_derives_a_checked_int8_model_with_its_lineage(catalog: Catalog) -> None:
    import onnx

    path = catalog.pull("all-minilm-l6-v2-q8")
    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # int8 MatMuls, not float ones
    lineage = catalog.lineage("all-minilm-l6-v2-q8")
    assert lineage["parent_sha256"] == sha256_file(catalog.path("all-minilm-l6-v2"))
    assert lineage["parity"]["min_cosine"] >= 0.97 and lineage["parity"]["mean_cosine"] >= 0.985
    assert catalog.describe("all-minilm-l6-v2-q8")["files"][0]["sha256"] == sha256_file(path)
    assert all(m.verified for m in catalog.list_local(verify=True))


def test_derived_embedder_ranks_like_the_stock_one(catalog: Catalog) -> None:
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    catalog.pull("all-minilm-l6-v2-q8")
    paths = [catalog.paths(n) for n in ("all-minilm-l6-v2", "all-minilm-l6-v2-q8")]
    stock, fast = (OnnxEmbedder(p["model"], p["tokenizer"]) for p in paths)
    for emb in (stock, fast):
        assert emb.dim == 384
    a, b = stock.embed(QUERIES + PASSAGES), fast.embed(QUERIES + PASSAGES)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.97
    q, p = fast.embed(QUERIES), fast.embed(PASSAGES)
    assert (q @ p.T).argmax(axis=1).tolist() == [0, 1, 2]
    # activations are quantised per call: each text goes alone, so its vector does not depend on the batch
    assert np.array_equal(fast.embed(QUERIES[:1])[0], q[0]) and np.array_equal(b[3:], p)

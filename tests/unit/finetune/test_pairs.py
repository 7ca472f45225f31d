"""Training pairs for the embedder: BEIR and eval-set loading, the split by query, config checks (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import ConfigError, InputError, NotFound
from llmkit.evals.dataset import EvalItem
from llmkit.finetune.embedder import EmbedderTuneConfig, ndcg_at_k
from llmkit.finetune.embedder_run import dataset_hash, load_config, pairs_from_path
from llmkit.finetune.pairs import RetrievalSet, from_eval_items, load_beir_set, split_queries


def beir(folder: Path, qrels: str = "q1\td1\t1\nq2\td2\t1\nq2\td3\t0\nq3\tnope\t1\n") -> Path:
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": f"d{i}", "title": f"Title {i}", "text": f"Body {i}."} for i in range(1, 4)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = [{"_id": f"q{i}", "text": f"question {i}?"} for i in range(1, 4)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    return folder


def test_beir_folder_to_pairs(tmp_path: Path) -> None:
    rs = load_beir_set(beir(tmp_path))
    assert rs.qrels == {"q1": frozenset({"d1"}), "q2": frozenset({"d2"})}  # score 0 and unknown ids left out
    assert rs.pairs(["q2"]) == [("question 2?", "Title 2\n\nBody 2.")]
    assert pairs_from_path(tmp_path).qrels == rs.qrels
    sub = rs.subset(["q1", "q2"], ["d1", "d3"])
    assert sub.qrels == {"q1": frozenset({"d1"})} and set(sub.corpus) == {"d1", "d3"}


@pytest.mark.parametrize(
    ("qrels", "error"),
    [("q9\td1\t1\n", InputError), ("q1\td1\tone\n", InputError), ("q1\td1\t0\n", InputError)],
)
def test_beir_without_usable_pairs_is_an_input_error(tmp_path: Path, qrels: str, error: type) -> None:
    with pytest.raises(error):
        load_beir_set(beir(tmp_path, qrels))


def test_missing_qrels_or_folder_is_not_found(tmp_path: Path) -> None:
    folder = beir(tmp_path / "b")
    (folder / "qrels" / "train.tsv").unlink()
    with pytest.raises(NotFound, match="qrels"):
        load_beir_set(folder)
    with pytest.raises(NotFound):
        pairs_from_path(tmp_path / "nothing-here")
    (folder / "qrels" / "train.tsv").write_text("a\tb\n1\t2\n", encoding="utf-8")
    with pytest.raises(InputError, match="header"):
        load_beir_set(folder)
    (folder / "corpus.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_beir_set(folder)


def test_eval_items_with_and_without_contexts(tmp_path: Path) -> None:
    items = [EvalItem("a", "Who wrote it?", contexts=("Ada wrote it.", "Ada, 1843.")), EvalItem("b", "No context?")]
    rs = from_eval_items(items)
    assert set(rs.queries) == {"a"} and len(rs.pairs(["a"])) == 2
    with pytest.raises(InputError, match="no item has contexts"):
        from_eval_items([EvalItem("b", "No context?")])
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"input": "Who?", "contexts": ["Ada."]}) + "\n", encoding="utf-8")
    assert pairs_from_path(path).pairs(["0"]) == [("Who?", "Ada.")]
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError):
        pairs_from_path(path)


def test_split_by_query_is_seeded_disjoint_and_complete() -> None:
    ids = [f"q{i}" for i in range(50)]
    train, held = split_queries(ids, 0.2, seed=1)
    assert (len(train), len(held)) == (40, 10) and not set(train) & set(held)
    assert split_queries(reversed(ids), 0.2, seed=1) == (train, held)
    assert split_queries(ids, 0.2, seed=2) != (train, held)
    assert split_queries(["a", "b"], 0.01, seed=0)[1] != []  # a non-zero share holds out at least one
    assert split_queries(ids, 0.0, seed=0) == (sorted(ids), [])
    with pytest.raises(InputError):
        split_queries(ids, 1.0, seed=0)


def test_config_checks_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        EmbedderTuneConfig(batch_size=1)
    with pytest.raises(InputError):
        EmbedderTuneConfig(heldout=1.5)
    for bad in (11, -1, 1.5, True):
        with pytest.raises(InputError, match="hard_negatives"):
            EmbedderTuneConfig(hard_negatives=bad)
    path = tmp_path / "tune.toml"
    path.write_text("epochs = 2\nseed = 7\n", encoding="utf-8")
    cfg = load_config(path, seed=3, batch_size=None)
    assert (cfg.epochs, cfg.seed, cfg.batch_size) == (2, 3, 32)
    path.write_text("epoch = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config(path)
    path.write_text("epochs = [\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)
    with pytest.raises(NotFound):
        load_config(tmp_path / "missing.toml")


def test_dataset_hash_and_ndcg() -> None:
    a = RetrievalSet({"q": "why?"}, {"d": "because", "e": "other"}, {"q": frozenset({"d"})})
    b = RetrievalSet({"q": "why?"}, {"e": "other", "d": "because"}, {"q": frozenset({"d"})})
    assert dataset_hash(a) == dataset_hash(b) != dataset_hash(RetrievalSet({"q": "how?"}, a.corpus, a.qrels))
    assert ndcg_at_k(["d"], {"d"}) == 1.0 and ndcg_at_k(["e", "x"], {"d"}) == 0.0

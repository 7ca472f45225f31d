"""Eval-set readers: JSONL, CSV, YAML, JSON, SQuAD and BEIR; bad files get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.evals.dataset import load_any, load_beir, load_dataset, load_squad, save_jsonl
from shared_data import SHARED_DATA, shared_data_missing

SQUAD = SHARED_DATA / "squad-v1.1"
BEIR = SHARED_DATA / "beir-scifact"


def test_formats_agree(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"id": "1", "question": "Who?", "answers": ["Ada", "A. L."], "doc_ids": ["x.md"], "lang": "en"}\n\n',
        encoding="utf-8",
    )
    (tmp_path / "a.csv").write_text("id,input,references,doc_ids,lang\n1,Who?,Ada || A. L.,x.md,en\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text(
        "items:\n  - {id: '1', input: 'Who?', references: [Ada, A. L.], doc_ids: [x.md], metadata: {lang: en}}\n",
        encoding="utf-8",
    )
    loaded = [load_dataset(tmp_path / f"a.{ext}") for ext in ("jsonl", "csv", "yaml")]
    assert loaded[0] == loaded[1] == loaded[2]
    item = loaded[0][0]
    assert item.references == ("Ada", "A. L.") and item.metadata == {"lang": "en"}
    save_jsonl(loaded[0], tmp_path / "b.jsonl")
    assert load_dataset(tmp_path / "b.jsonl") == loaded[0]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("e.jsonl", "", "empty"),
        ("b.jsonl", '{"input": "ok"}\n{not json\n', r"b.jsonl:2: not valid JSON"),
        ("m.jsonl", '{"references": ["x"]}\n', "'input' .* missing"),
        ("d.jsonl", '{"id": 1, "input": "a"}\n{"id": 1, "input": "b"}\n', "duplicate id"),
        ("l.jsonl", '{"input": "a", "references": [{"x": 1}]}\n', "must be text or a list"),
        ("s.jsonl", '["a", "b"]\n', "must be an object"),
        ("h.csv", "foo,bar\n1,2\n", "needs an 'input'"),
        ("y.yaml", "a: [b\n", "not valid YAML"),
        ("n.yaml", "just text\n", "expected a list"),
        ("x.txt", "hi", "unknown eval-set format"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_dataset(tmp_path / name)


def test_missing_file() -> None:
    with pytest.raises(NotFound):
        load_dataset("/nonexistent/x.jsonl")


@pytest.mark.skipif(shared_data_missing(SQUAD), reason="shared data missing")
def test_squad_folder_and_official_json_agree() -> None:
    folder = load_squad(SQUAD, limit=30)
    official = load_squad(SQUAD / "dev-v1.1-shared-half.json", limit=30)
    assert [i.id for i in folder] == [i.id for i in official]
    assert [i.doc_ids for i in folder] == [i.doc_ids for i in official]
    assert folder[0].contexts == official[0].contexts and set(folder[0].references) == set(official[0].references)
    assert len(load_any(SQUAD)) == 5397


@pytest.mark.skipif(shared_data_missing(BEIR), reason="shared data missing")
def test_beir_reader() -> None:
    items = load_beir(BEIR)
    assert len(items) == 807 and sum(len(i.doc_ids) for i in items) == 917
    with pytest.raises(NotFound):
        load_beir(SQUAD)

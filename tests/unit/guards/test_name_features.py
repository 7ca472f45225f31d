"""The name tagger's features, labels, folds and data loading (pure logic; no spaCy, encoder or CRF)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from doctest_checks import assert_docstring_examples, assert_import_is_light
from llmkit.errors import InputError, NotFound
from llmkit.guards.name_features import Token, bio_labels, sequence_features, tag_spans, word_features
from llmkit.guards.name_tagger import NameModel, _chunks, fit_projection
from llmkit.guards.name_training import grouped_folds, load_examples, span_scores


def _tokens(text: str) -> list[Token]:
    out, pos = [], 0
    for word in text.split():
        pos = text.index(word, pos)
        out.append(Token(word, pos))
        pos += len(word)
    return out


def test_labels_and_spans_round_trip() -> None:
    text = "Ask Sari J. Paavolainen and Leon about it"
    toks = _tokens(text)
    spans = [(4, 23), (28, 32)]
    tags = bio_labels(toks, spans)
    assert tags == ["O", "B", "I", "I", "O", "B", "O", "O"]
    assert tag_spans(toks, tags) == spans
    # two names side by side stay two names
    assert tag_spans(_tokens("Ana Bo"), bio_labels(_tokens("Ana Bo"), [(0, 3), (4, 6)])) == [(0, 3), (4, 6)]


def test_the_word_itself_is_never_a_feature() -> None:
    feats = sequence_features(_tokens("Dear Kristin Holm ,"), np.zeros((4, 3)).tolist())
    assert not any("Kristin" in k or "kristin" in k for f in feats for k in f)
    assert feats[1]["-1:title"] == 1.0 and feats[1]["+1:title"] == 1.0 and feats[1]["v2"] == 0.0
    assert "-2:BOS" in feats[1] and "+2:BOS" in feats[2]
    assert word_features(Token("bertram", 0))["lower"] == 1.0


def test_long_texts_are_encoded_in_chunks() -> None:
    text = " ".join(["Ana sings."] * 200)
    cuts = _chunks(text, _tokens(text))
    assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert max(hi - lo for lo, hi in cuts) <= 700


def test_projection_is_standardised_pca() -> None:
    raw = np.random.default_rng(0).normal(size=(200, 8)) * np.arange(1, 9)
    mean, proj = fit_projection(raw.astype(np.float32), dims=3)
    z = (raw - mean) @ proj
    assert proj.shape == (8, 3)
    assert np.allclose(z.std(0, ddof=1), 1.0, atol=1e-3)


def test_folds_keep_each_group_whole() -> None:
    groups = [5, 1, 5, 2, 9, 1, 2, 7]
    folds = grouped_folds(groups, 3)
    assert all(len({f for f, g in zip(folds, groups, strict=True) if g == x}) == 1 for x in set(groups))
    assert set(folds) == {0, 1, 2}
    with pytest.raises(InputError):
        grouped_folds([1, 1, 2], 3)
    with pytest.raises(InputError):
        grouped_folds([1, 2], 1)


def test_span_scores() -> None:
    assert span_scores([[(0, 3)], []], [[(0, 3)], [(4, 5)]]) == (0.5, 1.0, 0.6667)
    assert span_scores([[]], [[]]) == (0.0, 0.0, 0.0)


def test_load_examples_reads_presidio_rows_and_rejects_bad_ones(tmp_path) -> None:
    good = {"full_text": "Hi Ana, call 555 in Oslo", "template_id": 4, "spans": [
        {"entity_type": "PERSON", "start_position": 3, "end_position": 6},
        {"entity_type": "PHONE_NUMBER", "start_position": 13, "end_position": 16},
        {"entity_type": "GPE", "start_position": 20, "end_position": 24},
    ]}  # fmt: skip
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n\n", encoding="utf-8")
    [ex] = load_examples(path)
    assert (ex.text[3:6], ex.spans, ex.group, ex.places) == ("Ana", ((3, 6),), 4, ((20, 24),))
    for bad in ('{"spans": []}', "not json", json.dumps({**good, "spans": [{**good["spans"][0], "end_position": 99}]})):
        path.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(InputError, match=r"d\.jsonl:1"):
            load_examples(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no examples"):
        load_examples(path)
    with pytest.raises(InputError):
        load_examples(tmp_path / "missing.jsonl")


def test_model_file_errors(tmp_path) -> None:
    with pytest.raises(NotFound, match="train-names"):
        NameModel.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a name model"):
        NameModel.load(tmp_path / "bad.npz")
    model = NameModel(b"crf bytes", np.zeros(4, np.float32), np.eye(4, 2, dtype=np.float32))
    model.save(tmp_path / "m.npz")
    back = NameModel.load(tmp_path / "m.npz")
    assert (back.crf, back.encoder, back.lm, back.proj.shape) == (b"crf bytes", "all-minilm-l6-v2", None, (4, 2))
    NameModel(b"crf", np.zeros(4, np.float32), np.eye(4, 2, dtype=np.float32), lm="smollm2-135m-instruct").save(
        tmp_path / "lm.npz"
    )
    assert NameModel.load(tmp_path / "lm.npz").lm == "smollm2-135m-instruct"


def test_a_model_saved_before_the_language_model_loads_without_one(tmp_path) -> None:
    meta = np.frombuffer(json.dumps({"encoder": "all-minilm-l6-v2"}).encode(), dtype=np.uint8)
    crf = np.frombuffer(b"crf", dtype=np.uint8)
    np.savez_compressed(tmp_path / "old.npz", crf=crf, mean=np.zeros(4, np.float32), proj=np.eye(4, 2), meta=meta)
    assert NameModel.load(tmp_path / "old.npz").lm is None


def test_projection_of_side_by_side_parts_scales_each_part_by_its_spread() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.standard_normal((500, 6)) * 0.01, rng.standard_normal((500, 10)) * 50.0
    raw = np.concatenate([small, large], axis=1).astype(np.float32)
    mean, proj = fit_projection(raw, dims=4, blocks=(6, 10))
    # the same as scaling each part to unit spread first and projecting that
    scaled = np.concatenate([small / small.std(), large / large.std()], axis=1)
    mean_s, proj_s = fit_projection(scaled.astype(np.float32), dims=4)
    np.testing.assert_allclose(np.abs((raw - mean) @ proj), np.abs((scaled - mean_s) @ proj_s), rtol=1e-2, atol=1e-2)
    # without the blocks, the large part alone decides the components
    _, unscaled = fit_projection(raw, dims=4)
    assert np.abs(unscaled[:6]).max() < 1e-3 * np.abs(unscaled[6:]).max() * 50
    assert np.abs(proj[:6]).max() > 1.0  # the small part now takes its share
    with pytest.raises(ValueError):
        fit_projection(raw, dims=4, blocks=(6, 9))  # widths that do not add up are a caller's bug


@pytest.mark.parametrize("module", ["name_features", "name_tagger", "name_training", "names", "lm_states"])
def test_docstring_examples(module: str) -> None:
    assert_docstring_examples(f"llmkit.guards.{module}")


def test_tagger_modules_import_light() -> None:
    modules = [
        "llmkit.guards.ner",
        "llmkit.guards.name_tagger",
        "llmkit.guards.name_training",
        "llmkit.guards.lm_states",
    ]
    assert_import_is_light(modules, ["pycrfsuite", "spacy", "presidio_analyzer", "onnxruntime", "numpy", "llama_cpp"])


class _Marginals:
    """A stand-in for a crfsuite Tagger: fixed marginals per token."""

    def __init__(self, rows: list[dict[str, float]]) -> None:
        self.rows = rows

    def set(self, items: object) -> None:
        self.items = items

    def labels(self) -> list[str]:
        return sorted({k for r in self.rows for k in r})

    def marginal(self, label: str, i: int) -> float:
        return self.rows[i][label]


def test_marginal_tags_keep_a_token_whose_name_probability_reaches_the_threshold() -> None:
    from llmkit.guards.name_tagger import marginal_tags

    rows = [
        {"O": 0.9, "B": 0.1, "I": 0.0},
        {"O": 0.65, "B": 0.3, "I": 0.05},  # in a name with 0.35: below Viterbi's 0.5, above 0.3
        {"O": 0.2, "B": 0.2, "I": 0.6},  # continues the name, or starts one after O
        {"O": 0.9, "B": 0.05, "I": 0.05},
        {"O": 0.3, "B": 0.1, "I": 0.6},  # I likelier, but after O it starts a name
    ]
    fake = _Marginals(rows)
    assert marginal_tags(fake, "items", 5, threshold=0.3) == ["O", "B", "I", "O", "B"]
    assert marginal_tags(fake, "items", 5, threshold=0.5) == ["O", "O", "B", "O", "B"]
    assert fake.items == "items"
    only_b = _Marginals([{"O": 0.4, "B": 0.6}])  # a model that never saw I
    assert marginal_tags(only_b, None, 1) == ["B"]
    places = _Marginals(
        [{"O": 0.5, "B-PER": 0.4, "B-LOC": 0.1, "I-LOC": 0.0}, {"O": 0.2, "B-PER": 0.1, "B-LOC": 0.0, "I-LOC": 0.7}]
    )
    assert marginal_tags(places, None, 2, labels=("B-LOC", "I-LOC")) == ["O", "B"]  # only the given labels count


def test_opened_crfs_keep_the_bytes_crfsuite_reads_in_place() -> None:
    import gc
    from importlib import resources

    pytest.importorskip("pycrfsuite", reason="the ner extra is not installed: pip install 'llmkit[ner]'")
    from llmkit.guards.name_tagger import DEFAULT_MODEL, Crfs

    crfs = Crfs.open(NameModel.load(resources.files("llmkit.guards") / "data" / DEFAULT_MODEL))  # no other reference
    gc.collect()
    clutter = [bytes([i % 251]) * len(crfs.model.crf) for i in range(64)]  # reuse freed memory, if any was freed
    assert sorted(crfs.names.labels()) == ["B", "I", "O"]  # read garbage when the model's bytes were freed
    assert sorted(crfs.places.labels()) == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert len(clutter) == 64

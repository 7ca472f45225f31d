"""A trained tagger of person names and places: CRFs (``python-crfsuite``) over spaCy's tokens and two models'
token states.

spaCy's small English model misses many names (foreign, lower-case, a lone surname) and calls others a
place. This tagger sees what spaCy says (its tags and entity label, as features) and what two embedded
models make of each word in its sentence: the contextual word-piece states of the all-MiniLM-L6-v2
encoder (uncased, both directions), and the final-layer states of the SmolLM2 chat model (cased, left
to right: each word's own and the next piece's; ``llmkit.guards.lm_states``). Each model's states are
averaged per spaCy token, scaled by their spread over the training tokens, and projected together to
``DIMS`` dimensions (PCA, standardised); ``llmkit.guards.name_features`` makes the CRF features.

Two CRFs share those features: one tags names (B/I/O), the other places, with names as a class of their
own so that it learns to tell the two apart (``name_features.place_labels``). Each is decoded by its
marginals (``marginal_tags``); a place that overlaps a name is dropped.

``llmkit guard train-names DATA`` reproduces the shipped model (``guards/data/names.npz``: the CRF files'
bytes, the projection, the two models' names) from presidio-synth-pii (PERSON, and GPE as places);
``name_training.cross_predict`` scores the recipe on templates it was not trained on.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from llmkit.errors import BackendUnavailable, InputError, MissingExtra, NotFound
from llmkit.guards.lm_states import LlamaStates, StateEncoder, lm_vectors, piece_hits
from llmkit.guards.name_features import Token, bio_labels, place_labels, sequence_features, tag_spans
from llmkit.guards.names import tidy_names

if TYPE_CHECKING:
    import numpy as np

ENCODER = "all-minilm-l6-v2"  # the catalog models whose states the shipped CRF was trained on
LM = "smollm2-135m-instruct"
DIMS = 64
#: L1 weight of the CRF: 0.3 against 0.1 gave held-out-half strict F1 0.83 against 0.79 (session 10).
C1 = 0.3
#: A token is tagged a name when the CRF's marginal probability of it being in one is at least this. Below
#: Viterbi's implicit 0.5, it trades precision for recall: over three dealings of the template folds, mean
#: held-out-half strict F1 0.809 → 0.828, whole set 0.851 → 0.853, relaxed 0.895 → 0.902 (session 11).
THRESHOLD = 0.4
PLACE = ("B-LOC", "I-LOC")  # the place CRF's labels for a place's first and following tokens
CHUNK_CHARS = 600  # sentences are encoded in groups of about this many characters (< 256 word pieces)
DEFAULT_MODEL = "names.npz"


class TokenEncoder(Protocol):
    """What the tagger needs of an encoder (``llmkit.embeddings.onnx_minilm.OnnxEmbedder`` has it)."""

    def token_states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]: ...

    def known_word(self, word: str) -> bool: ...


@dataclass(frozen=True)
class NameModel:
    """The names CRF's bytes, the projection ``(x - mean) @ proj`` of the token states, the models that make
    them (the encoder, and the language model whose states follow the encoder's; None: the encoder's alone),
    and the places CRF's bytes (empty: a model trained before places, which tags names only)."""

    crf: bytes
    mean: np.ndarray
    proj: np.ndarray
    encoder: str = ENCODER
    lm: str | None = None
    places: bytes = b""

    def save(self, path: str | Path) -> None:
        import numpy as np

        meta = np.frombuffer(json.dumps({"encoder": self.encoder, "lm": self.lm}).encode(), dtype=np.uint8)
        crfs = {"crf": self.crf} | ({"places": self.places} if self.places else {})
        arrays = {k: np.frombuffer(v, dtype=np.uint8) for k, v in crfs.items()}
        np.savez_compressed(path, mean=self.mean, proj=self.proj, meta=meta, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> NameModel:
        import numpy as np

        try:
            with np.load(path) as z:
                meta = json.loads(z["meta"].tobytes())
                places = z["places"].tobytes() if "places" in z.files else b""
                return cls(z["crf"].tobytes(), z["mean"], z["proj"], meta["encoder"], meta.get("lm"), places)
        except FileNotFoundError:
            raise NotFound(f"name model not found: {path}", hint="llmkit guard train-names DATA") from None
        except (OSError, KeyError, ValueError) as e:
            raise InputError(f"{path}: not a name model ({e})") from None


class Prepared(NamedTuple):
    """A text made ready for training or tagging: its tokens, their raw vectors and its gold name spans.

    ``blocks``: the widths of the models' parts of ``raw``, side by side (empty: one part); ``places``: its
    gold place spans.
    """

    text: str
    tokens: list[Token]
    raw: np.ndarray
    spans: list[tuple[int, int]]
    blocks: tuple[int, ...] = ()
    places: Sequence[tuple[int, int]] = ()


class Tagged(NamedTuple):
    """What the tagger finds in a text: person names and places, as character spans."""

    names: list[tuple[int, int]]
    places: list[tuple[int, int]]


def doc_tokens(doc: Any, encoder: TokenEncoder) -> list[Token]:
    """spaCy ``doc``'s non-space tokens as ``Token``s."""
    return [
        Token(t.text, t.idx, t.pos_, t.tag_, t.ent_type_, encoder.known_word(t.text.lower()))
        for t in doc
        if t.text.strip()
    ]


def token_vectors(
    text: str, tokens: Sequence[Token], encoder: TokenEncoder, lm: StateEncoder | None = None
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Each token's raw vector and the widths of its parts: the mean word-piece state of ``encoder``, then
    with ``lm`` the language model's own and next-piece states (``lm_states.lm_vectors``). The text is
    encoded in chunks of whole lines or sentences (``_chunks``); ``()`` for the widths when there is one part."""
    import numpy as np

    mine: list[np.ndarray] = []
    theirs: list[np.ndarray] = []
    for lo, hi in _chunks(text, tokens):
        inside = [t for t in tokens if lo <= t.start < hi]
        states, offsets = encoder.token_states(text[lo:hi])
        part = np.zeros((len(inside), states.shape[1]), dtype=np.float32)
        for i, hit in enumerate(piece_hits(inside, offsets, lo)):
            if len(hit):
                part[i] = states[hit].mean(0)
        mine.append(part)
        if lm is not None and inside:
            theirs.append(lm_vectors(inside, *lm.token_states(text[lo:hi]), lo))
    raw = np.concatenate(mine)  # _chunks gives at least one chunk
    if not theirs:
        return raw, ()
    states = np.concatenate(theirs)
    half = states.shape[1] // 2
    return np.concatenate([raw, states], axis=1), (raw.shape[1], half, half)


def _chunks(text: str, tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Character ranges of about ``CHUNK_CHARS``, cut after a token ending a sentence or before a line break.

    >>> _chunks("Hi Ana.", [Token("Hi", 0), Token("Ana", 3), Token(".", 6)])
    [(0, 7)]
    """
    cuts, lo = [], 0
    for i, t in enumerate(tokens):
        nxt = tokens[i + 1].start if i + 1 < len(tokens) else len(text)
        boundary = t.text in (".", "!", "?") or "\n" in text[t.end : nxt]
        if t.end - lo >= CHUNK_CHARS or (boundary and nxt - lo >= CHUNK_CHARS // 2):
            cuts.append((lo, nxt))
            lo = nxt
    return [*cuts, (lo, len(text))] if lo < len(text) or not cuts else cuts


def _items(tokens: Sequence[Token], raw: np.ndarray, model: NameModel) -> Any:
    import pycrfsuite

    projected = (raw - model.mean) @ model.proj if len(raw) else raw
    return pycrfsuite.ItemSequence(sequence_features(tokens, projected.tolist()))


def fit_projection(raw: np.ndarray, dims: int = DIMS, blocks: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``(width, dims)`` matrix: PCA of the training tokens' states, each component scaled to unit sd.

    With ``blocks`` (the widths of side-by-side parts of ``raw``), each part is first divided by its own
    spread, so that one model's larger numbers do not decide the components; that scaling is folded into
    the mean and the matrix, which apply to raw vectors as they come.
    """
    import numpy as np

    if blocks and sum(blocks) != raw.shape[1]:
        raise ValueError(f"part widths {tuple(blocks)} do not add up to the vectors' {raw.shape[1]}")
    scale = np.ones(raw.shape[1], dtype=np.float64)
    if len(blocks) > 1:
        for a, b in itertools.pairwise(np.cumsum([0, *blocks]).tolist()):
            scale[a:b] = 1.0 / (float(raw[:, a:b].std()) + 1e-6)
    scaled = raw * scale
    mean = scaled.mean(0)
    _, sv, vt = np.linalg.svd(scaled - mean, full_matrices=False)
    sd = sv[:dims] / np.sqrt(max(1, len(raw) - 1))
    proj = scale[:, None] * (vt[:dims].T / (sd + 1e-6))
    return (mean / scale).astype(np.float32), proj.astype(np.float32)


def train(
    examples: Sequence[Prepared],
    *,
    dims: int = DIMS,
    c1: float = C1,
    c2: float = 0.01,
    iterations: int = 150,
    encoder: str = ENCODER,
    lm: str | None = None,
) -> NameModel:
    """A ``NameModel`` from prepared texts (L-BFGS; L1 ``c1``, L2 ``c2``; states projected to ``dims``): the
    names CRF, and the places CRF when some text has gold places.

    ``encoder`` and ``lm`` name the models the texts were prepared with (``lm`` None: the encoder alone).
    """
    import numpy as np

    if not any(ex.spans for ex in examples):
        raise InputError("no person names to learn from: every example has an empty span list")
    blocks = next((ex.blocks for ex in examples if ex.blocks), ())
    mean, proj = fit_projection(np.concatenate([ex.raw for ex in examples if len(ex.raw)]), dims, blocks)
    blank = NameModel(b"", mean, proj, encoder, lm)
    texts = [(ex, _items(ex.tokens, ex.raw, blank)) for ex in examples if ex.tokens]
    params = {"c1": c1, "c2": c2, "max_iterations": iterations, "feature.possible_transitions": True}
    names = _fit_crf([(items, bio_labels(ex.tokens, ex.spans)) for ex, items in texts], params)
    places = b""
    if any(ex.places for ex in examples):
        places = _fit_crf([(items, place_labels(ex.tokens, ex.spans, ex.places)) for ex, items in texts], params)
    return NameModel(names, mean, proj, encoder, lm, places)


def _fit_crf(sequences: Sequence[tuple[Any, list[str]]], params: dict[str, Any]) -> bytes:
    """The bytes of a CRF trained on (items, labels) sequences with crfsuite ``params``."""
    trainer = _crfsuite().Trainer(verbose=False)
    for items, labels in sequences:
        trainer.append(items, labels)
    trainer.set_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        trainer.train(str(Path(tmp) / "model.crfsuite"))
        return (Path(tmp) / "model.crfsuite").read_bytes()


def _crfsuite() -> Any:
    try:
        import pycrfsuite
    except ImportError:
        raise MissingExtra("python-crfsuite", "ner") from None
    return pycrfsuite


class NameTagger:
    """``tagger(doc) -> Tagged``: person names and places in a spaCy doc. Cheap to construct; loads on first use.

    ``encoder`` makes the token encoder (default: the catalog's ``all-minilm-l6-v2``) and ``lm`` the language
    model's states (default: the catalog's model the tagger was trained with, ``smollm2-135m-instruct``);
    both must be pulled.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        encoder: Callable[[], TokenEncoder] | None = None,
        lm: Callable[[], StateEncoder] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else Path(str(resources.files("llmkit.guards") / "data"))
        if model_path is None:
            self.model_path /= DEFAULT_MODEL
        self._make_encoder, self._make_lm = encoder, lm
        self._state: tuple[Crfs, TokenEncoder, StateEncoder | None] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Crfs, TokenEncoder, StateEncoder | None]:
        with self._lock:
            if self._state is None:
                model = NameModel.load(self.model_path)
                encoder = self._make_encoder() if self._make_encoder else catalog_encoder(model.encoder)
                lm = None
                if model.lm is not None:
                    lm = self._make_lm() if self._make_lm else catalog_lm(model.lm)
                self._state = (Crfs.open(model), encoder, lm)
        return self._state

    def __call__(self, doc: Any) -> Tagged:
        crfs, encoder, lm = self._load()
        tokens = doc_tokens(doc, encoder)
        if not tokens:
            return Tagged([], [])
        raw = token_vectors(doc.text, tokens, encoder, lm)[0]
        with self._lock:  # a crfsuite Tagger holds the sequence it tags
            return tag(crfs, doc.text, tokens, raw)


class Crfs(NamedTuple):
    """A model and its CRFs opened for tagging (crfsuite ``Tagger``s): names, and places (None: the model has
    none). The model stays here because crfsuite reads its bytes in place (``open_inmemory`` does not copy
    them): freed, they would be read after free."""

    model: NameModel
    names: Any
    places: Any

    @classmethod
    def open(cls, model: NameModel) -> Crfs:
        def opened(crf: bytes) -> Any:
            if not crf:
                return None
            tagger = _crfsuite().Tagger()
            tagger.open_inmemory(crf)
            return tagger

        return cls(model, opened(model.crf), opened(model.places))


def tag(crfs: Crfs, text: str, tokens: Sequence[Token], raw: np.ndarray, threshold: float = THRESHOLD) -> Tagged:
    """The names and places in ``text`` from its tokens' raw vectors: each of the model's CRFs decoded by its
    marginals (``marginal_tags``), the names tidied (``name_spans``), and a place that overlaps a name left out."""
    items = _items(tokens, raw, crfs.model)
    names = name_spans(text, tokens, marginal_tags(crfs.names, items, len(tokens), threshold))
    if crfs.places is None:
        return Tagged(names, [])
    found = place_spans(text, tokens, marginal_tags(crfs.places, items, len(tokens), threshold, PLACE))
    return Tagged(names, [(s, e) for s, e in found if not any(a < e and s < b for a, b in names)])


def marginal_tags(
    tagger: Any, items: Any, n: int, threshold: float = THRESHOLD, labels: tuple[str, str] = ("B", "I")
) -> list[str]:
    """B/I/O tags of the ``n`` tokens of ``items`` from a crfsuite ``tagger``'s marginals: a token is in an
    entity when its probability of being in one (its ``labels``, first and following token) is at least
    ``threshold``; it continues the entity before it when the following-token label is likelier."""
    tagger.set(items)
    known = set(tagger.labels())
    out: list[str] = []
    for i in range(n):
        b, inside = (tagger.marginal(y, i) if y in known else 0.0 for y in labels)
        out.append("O" if b + inside < threshold else "I" if inside > b and out and out[-1] != "O" else "B")
    return out


def name_spans(text: str, tokens: Sequence[Token], tags: Sequence[str]) -> list[tuple[int, int]]:
    """The names that B/I/O ``tags`` mark on ``text``'s tokens, cut at line breaks and tidied
    (``names.tidy_names``: no courtesy title, every mention of a found name)."""
    return tidy_names(text, split_lines(text, tag_spans(tokens, tags)))


#: spaCy's parts of speech that a place does not start with (``the``, ``in``) or end with (``they``, ``have``)
_NOT_PLACE_START = frozenset({"DET", "ADP", "CCONJ", "PART", "PUNCT"})
_NOT_PLACE_END = _NOT_PLACE_START | {"PRON", "VERB", "AUX", "SCONJ"}


def place_spans(text: str, tokens: Sequence[Token], tags: Sequence[str]) -> list[tuple[int, int]]:
    """The places that B/I/O ``tags`` mark on ``text``'s tokens, cut at line breaks and before a sentence's
    full stop, without function words at either end (a closing bracket stays: ``Cyprus (Greek)``).

    Tagged by marginals, a place can run on into the words after it (``Estonia they``, ``Norway. Producer``,
    held-out GPE strict F1 of the PII bench 0.532 → 0.547 with these cuts, session 12).

    >>> toks = [Token("in", 0, "ADP"), Token("Estonia", 3, "PROPN"), Token("they", 11, "PRON"),
    ...         Token(".", 15, "PUNCT"), Token("Oslo", 17, "PROPN")]
    >>> t = "in Estonia they. Oslo"
    >>> [t[s:e] for s, e in place_spans(t, toks, ["B", "I", "I", "I", "I"])]
    ['Estonia']
    """
    out = []
    for start, end in split_lines(text, tag_spans(tokens, tags)):
        inside = [t for t in tokens if start <= t.start and t.end <= end]
        stop = next((i for i, t in enumerate(inside[:-1]) if t.text in (".", "!", "?")), len(inside))
        inside = inside[:stop]
        while inside and inside[0].pos in _NOT_PLACE_START:
            inside.pop(0)
        while inside and inside[-1].pos in _NOT_PLACE_END and inside[-1].text != ")":
            inside.pop()
        if inside:
            out.append((inside[0].start, inside[-1].end))
    return out


def split_lines(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans cut at line breaks (a name never crosses one), empty parts dropped.

    >>> t = "Zizi Kónya\\nEnigmaio"
    >>> [t[s:e] for s, e in split_lines(t, [(0, len(t))])]
    ['Zizi Kónya', 'Enigmaio']
    """
    out = []
    for s, e in spans:
        out += [(s + m.start(), s + m.end()) for m in re.finditer(r"\S(?:[^\n]*\S)?", text[s:e])]
    return out


def catalog_encoder(name: str = ENCODER) -> TokenEncoder:
    """The catalog's ONNX encoder ``name`` from the user's models folder, one thread (short texts)."""
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    paths = _pulled(name)
    return OnnxEmbedder(paths["model"], paths["tokenizer"], name=name, threads=1)


def catalog_lm(name: str = LM) -> LlamaStates:
    """The catalog's GGUF model ``name`` from the user's models folder, as a ``StateEncoder``."""
    return LlamaStates(_pulled(name)["model"], name=name)


def _pulled(name: str) -> dict[str, Path]:
    """The local files of catalog model ``name`` by role; BackendUnavailable, with the pull command, if missing."""
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    try:
        return Catalog(load_settings().models_dir).paths(name)
    except NotFound as e:
        raise BackendUnavailable(
            f"the name tagger needs the model {name!r}: {e}", hint=f"llmkit models pull {name}"
        ) from None

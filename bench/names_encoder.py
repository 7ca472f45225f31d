"""Feasibility of a fine-tuned encoder for person names, scored like the shipped name tagger.

MiniLM-L6 (uncased: the embedder's own weights, ``all-minilm-l6-v2-torch``) is trained end to end as a
PERSON token classifier (B/I/O on word pieces) on presidio-synth-pii and scored out of fold, 5 folds
grouped by template (the folds of ``llmkit guard train-names``), strict and relaxed F1 on all rows and on
the template halves A (even ids) and B (odd ids) that bench/guards.py reports. Nothing here is wired into
llmkit: it measures whether the approach beats the shipped CRF tagger before anyone builds it
(bench/README.md, "Session 8 lead").

    python bench/names_encoder.py "full,10,1e-4"                      # variant,epochs,lr[;...]
    python bench/names_encoder.py "full,10,5e-5;lora16,15,5e-4" --model DIR --data FILE

``variant``: ``full`` (every weight) or ``loraR`` (LoRA of rank R on the attention and dense layers, the
classifier trained in full). Needs torch and transformers (peft for LoRA): the ``finetune`` extra. A GPU
makes a variant a minute; two CPU cores take about half an hour.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "presidio-synth-pii" / "synth_dataset_v2.jsonl"
MODEL = Path("~/.local/share/llmkit/models/all-minilm-l6-v2-torch").expanduser()
FOLDS, BATCH = 5, 16
O, B, I = 0, 1, 2  # noqa: E741  (the tag names)

Span = tuple[int, int]


def piece_labels(offsets: list[Span], names: list[Span]) -> list[int]:
    """B/I/O for each word piece (-100 for the special tokens, which the loss skips).

    >>> piece_labels([(0, 0), (0, 3), (4, 7), (7, 9), (10, 12), (0, 0)], [(4, 9)])
    [-100, 0, 1, 2, 0, -100]
    """
    out, previous = [], None
    for start, end in offsets:
        if start == end:
            out.append(-100)
            continue
        hit = next(((a, b) for a, b in names if start < b and a < end), None)
        out.append(O if hit is None else B if hit != previous else I)
        previous = hit
    return out


def tagged_spans(offsets: list[Span], tags: list[int]) -> list[Span]:
    """Character spans of the names in word-piece ``tags``: ``I``, or a piece glued to the last one, continues.

    >>> tagged_spans([(0, 0), (0, 3), (4, 7), (7, 9), (10, 12)], [0, 0, 1, 1, 0])
    [(4, 9)]
    """
    spans: list[Span] = []
    inside = False
    for (start, end), tag in zip(offsets, tags, strict=True):
        if start == end:
            continue
        if tag == O:
            inside = False
        elif inside and (tag == I or start == spans[-1][1]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
            inside = True
    return spans


def f1(gold: list[list[Span]], found: list[list[Span]], relaxed: bool) -> tuple[float, float, float]:
    """Entity-level precision, recall, F1 (relaxed: an overlapping span counts), as bench/guards.py scores."""

    def match(a: Span, b: Span) -> bool:
        return a[0] < b[1] and b[0] < a[1] if relaxed else a == b

    pairs = list(zip(gold, found, strict=True))
    tp = sum(any(match(p, g) for g in gs) for gs, ps in pairs for p in ps)
    hit = sum(any(match(p, g) for p in ps) for gs, ps in pairs for g in gs)
    p, r = tp / max(sum(map(len, found)), 1), hit / max(sum(map(len, gold)), 1)
    return round(p, 4), round(r, 4), round(2 * p * r / max(p + r, 1e-9), 4)


def train_fold(model: Any, enc: list[Any], labels: list[list[int]], rows: list[int], epochs: int, lr: float) -> None:
    import numpy as np
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(rows) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(rows)
        for b in range(0, len(order), BATCH):
            batch = order[b : b + BATCH]
            width = max(len(enc[i]["input_ids"]) for i in batch)

            def pad(seq: list[int], value: int, width: int = width) -> list[int]:
                return seq + [value] * (width - len(seq))

            device = model.device
            ids = torch.tensor([pad(enc[i]["input_ids"], 0) for i in batch], device=device)
            mask = torch.tensor([pad([1] * len(enc[i]["input_ids"]), 0) for i in batch], device=device)
            gold = torch.tensor([pad(labels[i], -100) for i in batch], device=device)
            model(input_ids=ids, attention_mask=mask, labels=gold).loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()


def cross_fit(args: argparse.Namespace, variant: str, epochs: int, lr: float) -> list[list[Span]]:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(args.model)
    enc = [tok(r["full_text"], return_offsets_mapping=True, truncation=True, max_length=256) for r in args.rows]
    labels = [piece_labels(e["offset_mapping"], g) for e, g in zip(enc, args.gold, strict=True)]
    fold_of = {t: n % FOLDS for n, t in enumerate(sorted({r["template_id"] for r in args.rows}))}
    folds = [fold_of[r["template_id"]] for r in args.rows]
    found: list[list[Span]] = [[] for _ in args.rows]
    for fold in range(FOLDS):
        torch.manual_seed(0)
        model = AutoModelForTokenClassification.from_pretrained(args.model, num_labels=3, dtype=torch.float32)
        if variant.startswith("lora"):
            from peft import LoraConfig, get_peft_model

            rank = int(variant.removeprefix("lora"))
            config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, modules_to_save=["classifier"],
                                target_modules=["query", "key", "value", "dense"])  # fmt: skip
            model = get_peft_model(model, config)
        model.to(device)
        train_fold(model, enc, labels, [i for i, f in enumerate(folds) if f != fold], epochs, lr)
        model.eval()
        with torch.no_grad():
            for i in (i for i, f in enumerate(folds) if f == fold):
                logits = model(input_ids=torch.tensor([enc[i]["input_ids"]], device=device)).logits[0]
                found[i] = tagged_spans(enc[i]["offset_mapping"], logits.argmax(-1).tolist())
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", help="variant,epochs,lr[;...]; variant: full or loraR (lora16)")
    ap.add_argument("--model", type=Path, default=MODEL, help="a BERT-style Hugging Face folder")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="first N rows only (a smoke test)")
    args = ap.parse_args()
    lines = args.data.read_text(encoding="utf-8").splitlines()
    args.rows = [json.loads(line) for line in lines if line.strip()][: args.limit]
    args.gold = [
        [(s["start_position"], s["end_position"]) for s in r["spans"] if s["entity_type"] == "PERSON"]
        for r in args.rows
    ]
    halves = {
        "all": list(range(len(args.rows))),
        "A": [i for i, r in enumerate(args.rows) if r["template_id"] % 2 == 0],
        "B": [i for i, r in enumerate(args.rows) if r["template_id"] % 2 == 1],
    }
    for spec in args.variants.split(";"):
        variant, epochs, lr = spec.split(",")
        t = time.perf_counter()
        found = cross_fit(args, variant, int(epochs), float(lr))
        print(f"{variant}, {epochs} epochs, lr {lr} ({time.perf_counter() - t:.0f} s); P / R / F1")
        for half, rows in halves.items():
            gold, got = [args.gold[i] for i in rows], [found[i] for i in rows]
            print(f"  {half:3}  strict {f1(gold, got, False)}  relaxed {f1(gold, got, True)}")


if __name__ == "__main__":
    main()

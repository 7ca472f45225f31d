"""``prepare_dataset``: chat, Alpaca and trace sources in; a checked, de-duplicated, split dataset out.

The steps, in order: read and check every record (``records``, ``from_traces``) and refuse those that call
tools (the trainer does not learn tool calls); drop exact then near
duplicates (``dedup``); flag PII with the guards' recognisers and, if asked, mask it; count tokens with
the base model's tokenizer and chat template and refuse what is longer than ``max_tokens``; split
train/validation by a seeded hash of each record's content; write ``train.jsonl``, ``val.jsonl``,
``rejected.jsonl`` and ``card.json`` into a temporary folder that is renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from llmkit.errors import InputError, LlmkitError
from llmkit.finetune.card import DatasetCard, PiiFlag, SourceInfo, jsonl, sha256_bytes, write_folder
from llmkit.finetune.dedup import content_key, near_duplicates
from llmkit.finetune.records import ChatRecord, Rejection, message_texts, read_file
from llmkit.finetune.tokens import TokenCounter, token_counter, token_stats

#: A record this many characters per allowed token is refused unread by the tokenizer (no tokenizer
#: packs more than a few characters into a token, so it cannot fit; counting it would only cost time).
CHARS_PER_TOKEN_BOUND = 32


@dataclass(frozen=True, slots=True)
class PreparedDataset:
    """Where the dataset was written, and its card."""

    folder: Path
    card: DatasetCard

    @property
    def train(self) -> Path:
        return self.folder / "train.jsonl"

    @property
    def val(self) -> Path:
        return self.folder / "val.jsonl"

    @property
    def rejected(self) -> Path:
        return self.folder / "rejected.jsonl"


@dataclass(frozen=True, slots=True)
class _Kept:
    record: ChatRecord
    key: str
    tokens: int = 0
    pii: tuple[str, ...] = ()


def prepare_dataset(
    sources: Sequence[str | Path],
    *,
    base: str | TokenCounter = "smollm2-135m-instruct",
    out_dir: str | Path,
    val_fraction: float = 0.1,
    seed: int = 0,
    max_tokens: int | None = None,
    near_dup_threshold: float = 0.8,
    redact: bool = False,
    since: float = 0.0,
    overwrite: bool = False,
    models_dir: Path | None = None,
    traces_path: Path | None = None,
) -> PreparedDataset:
    """Read ``sources`` (JSONL/JSON files, or ``traces`` / ``traces:PATH`` for a trace store), check,
    de-duplicate, flag PII, measure and split them, and write the dataset to ``out_dir``.

    ``base``: a catalog name, a ``.gguf`` path, a Hugging Face folder, or any ``TokenCounter``.
    ``max_tokens`` defaults to the base model's context window. Raises ``InputError`` when a source is
    entirely unusable or nothing is left to train on; nothing is written then.
    """
    _check_options(sources, val_fraction, max_tokens)
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists", hint="choose another --out, or pass --force to replace it")
    infos, records, rejected = read_sources(sources, since=since, traces_path=traces_path)
    counter = base if isinstance(base, TokenCounter) else token_counter(base, models_dir or _settings().models_dir)
    limit = max_tokens or counter.context_window
    kept, dup_rejects = deduplicate(records, near_dup_threshold)
    kept = [flag_pii(k, redact) for k in kept]
    kept, long_rejects = measure(kept, counter, limit)
    rejected += dup_rejects + long_rejects
    if not kept:
        raise InputError(f"no usable records: all {len(rejected)} were refused ({_top_reasons(rejected)})")
    train, val = split(kept, val_fraction, seed)
    stats = _Stats(sum(i.records for i in infos), infos, rejected)
    train_b, val_b = jsonl([k.record.to_dict() for k in train]), jsonl([k.record.to_dict() for k in val])
    card = _card(stats, train, val, (train_b, val_b), counter, limit, seed, val_fraction, near_dup_threshold, redact)
    if since:
        card = replace(card, extra={"since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))})
    files = {
        "train.jsonl": train_b,
        "val.jsonl": val_b,
        "rejected.jsonl": jsonl([r.to_dict() for r in rejected]),
        "card.json": json.dumps(card.to_dict(), indent=2, ensure_ascii=False).encode("utf-8") + b"\n",
    }
    write_folder(out, files, overwrite=overwrite)
    return PreparedDataset(out, card)


def _check_options(sources: Sequence[str | Path], val_fraction: float, max_tokens: int | None) -> None:
    if not sources:
        raise InputError("give at least one data file (or `traces`)")
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"the validation fraction must be in [0, 1), got {val_fraction}")
    if max_tokens is not None and max_tokens < 8:
        raise InputError(f"max_tokens must be at least 8, got {max_tokens}")


def _settings():  # the Settings type would import pydantic at module load
    from llmkit.config import load_settings

    return load_settings()


# ----------------------------------------------------------------------------- steps


def read_sources(
    sources: Iterable[str | Path], *, since: float = 0.0, traces_path: Path | None = None
) -> tuple[list[SourceInfo], list[ChatRecord], list[Rejection]]:
    """Every record of every source, and one ``SourceInfo`` each. A source with nothing usable is an error."""
    infos, records, rejected = [], [], []
    for source in sources:
        items, digest, name = _read_one(str(source), since, traces_path)
        items = [refuse_tool_calls(r) if isinstance(r, ChatRecord) else r for r in items]
        good = [r for r in items if isinstance(r, ChatRecord)]
        bad = [r for r in items if isinstance(r, Rejection)]
        if not items and not name.startswith("traces:"):
            raise InputError(f"{name} holds no records (the file is empty)")
        if items and not good:
            raise InputError(
                f"{name}: none of its {len(items)} records is usable ({_top_reasons(bad)})",
                hint=f"first problem: {_where(bad[0])}: {bad[0].reason}",
            )
        infos.append(SourceInfo(name, digest, len(items), len(good)))
        records += good
        rejected += bad
    return infos, records, rejected


def refuse_tool_calls(record: ChatRecord) -> ChatRecord | Rejection:
    """The record, or its refusal (``tool_calls``) when it calls tools: ``finetune train`` learns text
    replies only (small bases' chat templates, SmolLM2's among them, cannot show a tool call)."""
    if not any(m.tool_calls or m.role == "tool" for m in record.messages):
        return record
    why = "has tool calls or tool turns, which `llmkit finetune train` does not train on"
    return Rejection(record.source, record.line, "tool_calls", why, record.to_dict())


def _read_one(source: str, since: float, traces_path: Path | None) -> tuple[list, str, str]:
    if source == "traces" or source.startswith("traces:"):
        from llmkit.finetune.from_traces import read_traces

        path = Path(source.removeprefix("traces").removeprefix(":") or traces_path or _settings().traces_path)
        items = list(read_traces(path, since=since))
        digest = sha256_bytes(jsonl([r.to_dict() for r in items if isinstance(r, ChatRecord)]))
        return items, digest, f"traces:{path}"
    path = Path(source)
    if not path.is_file():
        raise InputError(f"no data file {path}", hint="give JSONL/JSON files, or `traces` for the trace store")
    from llmkit.models.fetch import sha256_file

    items = list(read_file(path))
    return items, sha256_file(path), str(path)


def deduplicate(records: Sequence[ChatRecord], threshold: float) -> tuple[list[_Kept], list[Rejection]]:
    """The first of each group of exact or near duplicates; the others refused, naming the one kept."""
    first_of: dict[str, ChatRecord] = {}
    unique: list[_Kept] = []
    rejected: list[Rejection] = []
    for r in records:
        key = content_key(r.messages)
        if key in first_of:
            rejected.append(_duplicate(r, first_of[key], "exact_duplicate"))
        else:
            first_of[key] = r
            unique.append(_Kept(r, key))
    matches = near_duplicates(["\n".join(message_texts(k.record.messages)) for k in unique], threshold)
    for k, match in zip(unique, matches, strict=True):
        if match is not None:
            rejected.append(_duplicate(k.record, unique[match].record, "near_duplicate"))
    return [k for k, match in zip(unique, matches, strict=True) if match is None], rejected


def _duplicate(r: ChatRecord, first: ChatRecord, code: str) -> Rejection:
    return Rejection(r.source, r.line, code, f"{code.replace('_', ' ')} of {_where(first)}", r.to_dict())


def flag_pii(item: _Kept, redact: bool) -> _Kept:
    """The record with the PII types found in it, its texts masked (``<EMAIL_ADDRESS>``) when ``redact``."""
    from llmkit.guards.pii import recognise
    from llmkit.guards.pii import redact as redact_text

    def masked(text: str) -> str:
        return redact_text(text, recognise(text), "mask")[0]

    types: set[str] = set()
    messages = []
    for m in item.record.messages:
        found = recognise(m.content) + [e for c in m.tool_calls for e in recognise(c.arguments)]
        types.update(e.type for e in found)
        if redact and found:
            calls = tuple(replace(c, arguments=masked(c.arguments)) for c in m.tool_calls)
            m = replace(m, content=masked(m.content), tool_calls=calls)
        messages.append(m)
    record = replace(item.record, messages=tuple(messages)) if redact and types else item.record
    return replace(item, record=record, pii=tuple(sorted(types)))


def measure(items: Sequence[_Kept], counter: TokenCounter, limit: int) -> tuple[list[_Kept], list[Rejection]]:
    """Each record with its token count; those over ``limit`` (or that the chat template refuses) refused."""
    kept, rejected = [], []
    for item in items:
        r = item.record
        chars = sum(len(t) for t in message_texts(r.messages))
        try:
            n = limit + 1 if chars > limit * CHARS_PER_TOKEN_BOUND else counter.count_message_tokens(r.messages)
        except LlmkitError as e:
            rejected.append(Rejection(r.source, r.line, "template_rejected", e.message, r.to_dict()))
            continue
        if n > limit:
            size = f"{n} tokens" if chars <= limit * CHARS_PER_TOKEN_BOUND else f"{chars} characters"
            why = f"too long for {counter.name}: {size}, more than the {limit}-token limit"
            rejected.append(Rejection(r.source, r.line, "too_long", why, r.to_dict()))
            continue
        kept.append(replace(item, tokens=n))
    return kept, rejected


def split(items: Sequence[_Kept], val_fraction: float, seed: int) -> tuple[list[_Kept], list[_Kept]]:
    """A seeded split that depends only on the records' contents, not on their order in the files.

    Records are ranked by ``sha256(seed:content)``; the first ``round(n * val_fraction)`` (at least one
    when the fraction is above 0 and there are two records or more) are validation. Both parts keep the
    input order.
    """
    n_val = round(len(items) * val_fraction)
    if val_fraction > 0 and len(items) >= 2:
        n_val = min(max(n_val, 1), len(items) - 1)
    ranked = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{seed}:{items[i].key}".encode()).digest())
    val_ids = set(ranked[:n_val])
    return [x for i, x in enumerate(items) if i not in val_ids], [x for i, x in enumerate(items) if i in val_ids]


# ----------------------------------------------------------------------------- card and files


@dataclass(frozen=True, slots=True)
class _Stats:
    records_in: int
    sources: list[SourceInfo]
    rejected: list[Rejection]


def _card(
    stats: _Stats, train: list[_Kept], val: list[_Kept], data: tuple[bytes, bytes], counter: TokenCounter,
    limit: int, seed: int, val_fraction: float, threshold: float, redact: bool,
) -> DatasetCard:  # fmt: skip
    from llmkit import __version__

    train_b, val_b = data
    flags = tuple(
        PiiFlag(name, i, k.record.source, k.record.line, k.pii)
        for name, part in (("train", train), ("val", val)) for i, k in enumerate(part) if k.pii
    )  # fmt: skip
    codes = Counter(r.code for r in stats.rejected)
    return DatasetCard(
        base=counter.name, base_sha256=_base_sha256(counter), max_tokens=limit, seed=seed,
        val_fraction=val_fraction, near_dup_threshold=threshold, sources=tuple(stats.sources),
        records_in=stats.records_in, kept=len(train) + len(val), train=len(train), val=len(val),
        rejected=len(stats.rejected), rejected_by_reason=dict(sorted(codes.items())),
        exact_duplicates=codes["exact_duplicate"], near_duplicates=codes["near_duplicate"],
        pii_flagged=len(flags), pii_by_type=dict(sorted(Counter(t for f in flags for t in f.types).items())),
        pii_records=flags, redacted=redact, tokens=token_stats([k.tokens for k in train + val]),
        tokens_train=token_stats([k.tokens for k in train]), tokens_val=token_stats([k.tokens for k in val]),
        sha256=sha256_bytes(train_b, val_b),
        files={"train.jsonl": hashlib.sha256(train_b).hexdigest(), "val.jsonl": hashlib.sha256(val_b).hexdigest()},
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), llmkit_version=__version__,
    )  # fmt: skip


def _base_sha256(counter: TokenCounter) -> str | None:
    path = getattr(counter, "path", None)
    if isinstance(path, Path) and path.is_file():
        from llmkit.models.fetch import sha256_file

        return sha256_file(path)
    return None


def _where(r: ChatRecord | Rejection) -> str:
    return f"{r.source}:{r.line}" if r.line else r.source


def _top_reasons(rejected: Sequence[Rejection]) -> str:
    return ", ".join(f"{n} {code}" for code, n in Counter(r.code for r in rejected).most_common(4)) or "none read"

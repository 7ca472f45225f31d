"""prepare_dataset end to end with the fake token counter: counts, duplicates, PII, lengths, split, card, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import InputError
from llmkit.finetune.card import load_card
from llmkit.finetune.data import prepare_dataset
from llmkit.testing import FakeChatModel

TOPICS = (
    "rivers volcanoes bread violins glaciers chess tides bees comets maples "
    "lighthouses copper owls deserts printing kites coral clocks salt wolves"
).split()


def chat(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def distinct(n: int) -> list[dict]:
    return [chat(f"Tell me one fact about {t} number {i}.", f"Here is fact {i}: {t} are remarkable in their own way.")
            for i, t in enumerate(TOPICS[:n])]  # fmt: skip


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def prep(tmp_path: Path, *files: Path, name: str = "ds", **kw: object):
    base = FakeChatModel(window=kw.pop("window", 4096))  # type: ignore[arg-type]
    return prepare_dataset(list(files), base=base, out_dir=tmp_path / name, **kw)  # type: ignore[arg-type]


def test_writes_the_dataset_and_its_card(tmp_path: Path) -> None:
    rows = [*distinct(10), "{oops", chat("Hi", "")]
    ds = prep(tmp_path, write(tmp_path / "a.jsonl", rows))
    assert sorted(p.name for p in ds.folder.iterdir()) == ["card.json", "rejected.jsonl", "train.jsonl", "val.jsonl"]
    c = ds.card
    assert (c.records_in, c.kept, c.train, c.val, c.rejected) == (12, 10, 9, 1, 2)
    assert c.rejected_by_reason == {"empty_turn": 1, "malformed_json": 1}
    assert c.sources[0].records == 12 and c.sources[0].kept == 10 and len(c.sources[0].sha256) == 64
    assert c.tokens is not None and c.tokens.count == 10 and c.tokens.total == c.tokens_train.total + c.tokens_val.total
    train = [json.loads(x) for x in ds.train.read_text("utf-8").splitlines()]
    assert len(train) == 9 and train[0]["messages"][-1]["role"] == "assistant"
    rejected = [json.loads(x) for x in ds.rejected.read_text("utf-8").splitlines()]
    assert [(r["line"], r["code"]) for r in rejected] == [(11, "malformed_json"), (12, "empty_turn")]
    assert load_card(ds.folder) == c


def test_exact_and_near_duplicates_are_removed_keeping_the_first(tmp_path: Path) -> None:
    base = distinct(6)
    answer = "Here is fact 0: rivers are remarkable in their own way"
    near = chat("Tell me one fact about rivers number 0!", answer)  # punctuation differs: near, not exact
    exact = chat("  TELL me one fact about rivers number 0. ", answer + ".")
    ds = prep(tmp_path, write(tmp_path / "a.jsonl", [*base, exact, near]))
    assert (ds.card.exact_duplicates, ds.card.near_duplicates, ds.card.kept) == (1, 1, 6)
    rej = [json.loads(x) for x in ds.rejected.read_text("utf-8").splitlines()]
    assert [r["code"] for r in rej] == ["exact_duplicate", "near_duplicate"]
    assert all(r["reason"].endswith("a.jsonl:1") for r in rej)


def test_pii_is_flagged_and_listed_and_redacted_on_request(tmp_path: Path) -> None:
    rows = [*distinct(4), chat("Email jo@example.com about it.", "Sure, I will write to jo@example.com today.")]
    f = write(tmp_path / "a.jsonl", rows)
    ds = prep(tmp_path, f, val_fraction=0.0)
    assert ds.card.pii_flagged == 1 and ds.card.pii_by_type == {"EMAIL_ADDRESS": 1} and not ds.card.redacted
    flag = ds.card.pii_records[0]
    assert (flag.split, flag.index, flag.line, flag.types) == ("train", 4, 5, ("EMAIL_ADDRESS",))
    assert "jo@example.com" in ds.train.read_text("utf-8")
    red = prep(tmp_path, f, name="red", val_fraction=0.0, redact=True)
    text = red.train.read_text("utf-8")
    assert red.card.redacted and "jo@example.com" not in text and "<EMAIL_ADDRESS>" in text


def test_too_long_records_are_refused_against_max_tokens(tmp_path: Path) -> None:
    rows = [*distinct(3), chat("Summarise: " + " ".join(f"w{i}" for i in range(300)), "Done.")]
    ds = prep(tmp_path, write(tmp_path / "a.jsonl", rows), max_tokens=100)
    assert ds.card.rejected_by_reason == {"too_long": 1} and ds.card.max_tokens == 100
    assert "more than the 100-token limit" in ds.rejected.read_text("utf-8")
    default = prep(tmp_path, write(tmp_path / "b.jsonl", rows), name="d", window=200)
    assert default.card.max_tokens == 200 and default.card.rejected_by_reason == {"too_long": 1}


def test_a_huge_record_is_refused_without_tokenizing_it(tmp_path: Path) -> None:
    class Counting(FakeChatModel):
        longest = 0

        def count_message_tokens(self, messages):
            Counting.longest = max(Counting.longest, sum(len(m.content) for m in messages))
            return super().count_message_tokens(messages)

    rows = [*distinct(3), chat("x" * 300_000, "ok")]
    ds = prepare_dataset([write(tmp_path / "a.jsonl", rows)], base=Counting(), out_dir=tmp_path / "o", max_tokens=64)
    assert ds.card.rejected_by_reason == {"too_long": 1} and Counting.longest < 1000
    assert "300002 characters" in ds.rejected.read_text("utf-8")


def test_the_split_is_deterministic_seeded_and_order_free(tmp_path: Path) -> None:
    rows = distinct(20)
    a = prep(tmp_path, write(tmp_path / "a.jsonl", rows), name="a", val_fraction=0.25)
    b = prep(tmp_path, write(tmp_path / "b.jsonl", rows[::-1]), name="b", val_fraction=0.25)
    c = prep(tmp_path, write(tmp_path / "c.jsonl", rows), name="c", val_fraction=0.25, seed=1)
    vals = [set(p.val.read_text("utf-8").splitlines()) for p in (a, b, c)]
    assert a.card.val == 5 and vals[0] == vals[1] and vals[0] != vals[2]
    again = prep(tmp_path, tmp_path / "a.jsonl", name="a2", val_fraction=0.25)
    assert again.card.sha256 == a.card.sha256 and again.card.files == a.card.files
    assert again.train.read_bytes() == a.train.read_bytes()
    assert c.card.sha256 != a.card.sha256


def test_several_sources_with_their_hashes(tmp_path: Path) -> None:
    f1 = write(tmp_path / "chat.jsonl", distinct(5))
    f2 = tmp_path / "alpaca.json"
    f2.write_text(json.dumps([{"instruction": "Name a prime.", "input": "", "output": "Seven."}]), encoding="utf-8")
    ds = prep(tmp_path, f1, f2)
    assert [(s.path, s.records) for s in ds.card.sources] == [(str(f1), 5), (str(f2), 1)] and ds.card.kept == 6


def test_entirely_bad_empty_or_missing_sources_are_clear_errors(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.jsonl", ["{nope", json.dumps({"messages": []}), json.dumps(chat("a", ""))])
    with pytest.raises(InputError, match=r"none of its 3 records is usable \(.*malformed_json") as e:
        prep(tmp_path, bad)
    assert "bad.jsonl:1" in (e.value.hint or "")
    empty = write(tmp_path / "empty.jsonl", [])
    with pytest.raises(InputError, match="holds no records"):
        prep(tmp_path, empty)
    with pytest.raises(InputError, match="no data file"):
        prep(tmp_path, tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="at least one"):
        prep(tmp_path)
    long_only = write(tmp_path / "long.jsonl", [chat("w " * 500, "ok")])
    with pytest.raises(InputError, match="no usable records: all 1 were refused"):
        prep(tmp_path, long_only, max_tokens=20)
    assert not any(p.name.startswith(".ds") for p in tmp_path.iterdir()) and not (tmp_path / "ds").exists()


def test_options_are_checked(tmp_path: Path) -> None:
    f = write(tmp_path / "a.jsonl", distinct(3))
    for kw, msg in (({"val_fraction": 1.0}, "validation fraction"), ({"max_tokens": 2}, "at least 8"),
                    ({"near_dup_threshold": 0.0}, "near-duplicate threshold")):  # fmt: skip
        with pytest.raises(InputError, match=msg):
            prep(tmp_path, f, **kw)


def test_writing_is_atomic_and_an_existing_folder_is_kept_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write(tmp_path / "a.jsonl", distinct(5))
    first = prep(tmp_path, f)
    with pytest.raises(InputError, match="already exists"):
        prep(tmp_path, f)
    real = Path.write_bytes

    def crash_at_rejected_jsonl(self: Path, data: bytes) -> int:
        if self.name == "rejected.jsonl":  # after train.jsonl and val.jsonl were written
            raise OSError("disk full")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", crash_at_rejected_jsonl)
    with pytest.raises(OSError, match="disk full"):
        prep(tmp_path, write(tmp_path / "b.jsonl", distinct(8)), overwrite=True)
    assert load_card(tmp_path / "ds").sha256 == first.card.sha256  # the old dataset is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "ds"]  # no temp folder left
    monkeypatch.setattr(Path, "write_bytes", real)
    assert prep(tmp_path, tmp_path / "b.jsonl", overwrite=True).card.kept == 8


def test_what_prepare_writes_train_reads(tmp_path: Path) -> None:
    from llmkit.finetune.chat_data import read_chat_jsonl

    call = {"id": "c1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    tools = {"messages": [{"role": "user", "content": "Time?"}, {"role": "assistant", "content": None,
             "tool_calls": [call]}, {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
             {"role": "assistant", "content": "It is noon."}]}  # fmt: skip
    weighted = chat("Say hi.", "Hi.")
    weighted["messages"][1]["weight"] = 0
    weighted["messages"] += [{"role": "user", "content": "Again, louder."}, {"role": "assistant", "content": "HI!"}]
    surrogate = '{"messages": [{"role": "user", "content": "bad \\ud800"}, {"role": "assistant", "content": "x"}]}'
    ds = prep(tmp_path, write(tmp_path / "a.jsonl", [*distinct(4), tools, weighted, surrogate]), val_fraction=0.0)
    assert ds.card.rejected_by_reason == {"not_utf8": 1, "tool_calls": 1}
    rejected = [json.loads(x) for x in ds.rejected.read_text("utf-8").splitlines()]
    assert [(r["line"], r["code"]) for r in rejected] == [(5, "tool_calls"), (7, "not_utf8")]
    assert "\\ud800" in rejected[1]["record"]
    train = read_chat_jsonl(ds.train)  # no conversation train would refuse
    assert len(train) == 5 and train[-1][1] == {"role": "assistant", "content": "Hi.", "weight": 0}

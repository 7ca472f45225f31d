"""Reading and checking training records: every malformed kind gets its own reason and line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import LoaderError
from llmkit.finetune.records import ChatRecord, Rejection, parse_record, read_file

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}


def msgs(*turns: dict) -> dict:
    return {"messages": list(turns)}


U = {"role": "user", "content": "What time is it?"}
A = {"role": "assistant", "content": "Noon."}
CALL = {"role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "now", "arguments": "{}"}}]}  # fmt: skip
TOOL = {"role": "tool", "tool_call_id": "c1", "content": "12:00"}

BAD = [
    (msgs(U, {"role": "bot", "content": "x"}), "bad_role", "unknown role 'bot'"),
    (msgs(U, {"content": "x"}), "bad_role", "message 2 has no 'role'"),
    (msgs({"role": "user", "content": "   "}, A), "empty_turn", "message 1 (user) is empty"),
    (msgs(U, {"role": "assistant", "content": ""}), "empty_turn", "message 2 (assistant) is empty"),
    (msgs(U), "no_assistant", "no assistant turn"),
    (msgs(U, A, {"role": "user", "content": "And now?"}), "not_ending_with_assistant", "ends with a user turn"),
    (msgs(U, {"role": "assistant", "content": ["parts"]}), "bad_content", "content must be a string, got array"),
    (msgs(U, {"role": "assistant", "content": 42}), "bad_content", "got number"),
    ({"messages": []}, "bad_record", "non-empty list"),
    ({"messages": "hi"}, "bad_record", "non-empty list"),
    (msgs(U, "assistant: hi"), "bad_record", "message 2 must be an object, got string"),
    ([1, 2], "bad_record", "must be a JSON object, got array"),
    ({"text": "hello"}, "bad_record", "neither a chat record"),
    (msgs(U, {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}), "bad_tool_call", "tool_calls"),
    (msgs(U, {"role": "tool", "tool_call_id": "zz", "content": "1"}, A), "bad_tool_call", "earlier tool call"),
    ({"instruction": "Say hi", "output": ""}, "empty_turn", "'output' is empty"),
    ({"instruction": "Say hi", "input": 3, "output": "hi"}, "bad_content", "'input' must be a string"),
]


@pytest.mark.parametrize(("obj", "code", "reason"), BAD)
def test_each_malformed_kind_has_its_reason(obj: object, code: str, reason: str) -> None:
    r = parse_record(obj, "data.jsonl", 7)
    assert isinstance(r, Rejection) and r.code == code and reason in r.reason
    assert (r.source, r.line, r.raw) == ("data.jsonl", 7, obj)


def test_tool_calls_and_tool_turns_are_accepted() -> None:
    r = parse_record(msgs({"role": "system", "content": "Be brief."}, U, CALL, TOOL, A), "d.jsonl", 1)
    assert isinstance(r, ChatRecord)
    assert [m.role for m in r.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert r.messages[2].tool_calls[0].name == "now" and r.messages[3].tool_call_id == "c1"
    assert r.to_dict()["messages"][2]["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}


def test_alpaca_record_becomes_a_user_and_an_assistant_turn() -> None:
    r = parse_record({"id": 3, "instruction": "Rewrite it.", "input": "The cat sat.", "output": "Sat, the cat did."},
                     "a.jsonl", 4)  # fmt: skip
    assert isinstance(r, ChatRecord)
    assert r.to_dict() == {"messages": [{"role": "user", "content": "Rewrite it.\n\nThe cat sat."},
                                        {"role": "assistant", "content": "Sat, the cat did."}]}  # fmt: skip
    empty_input = parse_record({"instruction": "Name a colour.", "input": "", "output": "Blue."}, "a.jsonl", 5)
    assert isinstance(empty_input, ChatRecord) and empty_input.messages[0].content == "Name a colour."


def test_jsonl_lines_are_numbered_and_bad_lines_refused(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n\n{not json\n" + b'{"messages": "\xff\xfe"}\r\n'
                  + json.dumps(GOOD).encode() + b"\n")  # fmt: skip
    out = list(read_file(f))
    assert [type(r).__name__ for r in out] == ["ChatRecord", "Rejection", "Rejection", "ChatRecord"]
    assert [r.line for r in out] == [1, 3, 4, 5]
    assert out[1].code == "malformed_json" and "column 2" in out[1].reason
    assert out[2].code == "not_utf8" and "0xff" in out[2].reason


def test_a_json_array_file_is_read_item_by_item(tmp_path: Path) -> None:
    f = tmp_path / "alpaca.json"
    f.write_text(json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "c"}]), encoding="utf-8")
    out = list(read_file(f))
    assert isinstance(out[0], ChatRecord) and isinstance(out[1], Rejection) and out[1].line == 2


def test_binary_and_broken_files_are_clear_errors(tmp_path: Path) -> None:
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"GGUF\x00\x00\x03" + bytes(range(256)))
    with pytest.raises(LoaderError, match="binary file"):
        list(read_file(binary))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"instruction": "a", "output": "b"},', encoding="utf-8")
    with pytest.raises(LoaderError, match=r"not valid JSON.*line 1"):
        list(read_file(broken))
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42", encoding="utf-8")
    assert [r.code for r in read_file(scalar)] == ["bad_record"]  # a bare 42 is a JSONL line, refused
    with pytest.raises(LoaderError, match="cannot read"):
        list(read_file(tmp_path / "missing.jsonl"))


def test_a_huge_raw_record_is_cut_in_the_rejection() -> None:
    r = Rejection("d.jsonl", 1, "too_long", "too long", "x" * 200_000)
    kept = r.to_dict()["record"]
    assert len(kept) < 100_100 and kept.endswith("[cut: 200000 characters]")


def test_hostile_lines_are_refused_not_fatal(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    deep = "[" * 200_000 + "]" * 200_000
    f.write_text("\n".join([json.dumps(GOOD), deep, '{"messages": [{"role": "user", "content": "\\u0000"}]}']),
                 encoding="utf-8")  # fmt: skip
    out = list(read_file(f))
    assert [getattr(r, "code", "ok") for r in out] == ["ok", "malformed_json", "no_assistant"]
    assert "nested too deeply" in out[1].reason
    arrays_first = tmp_path / "e.jsonl"  # JSONL whose first record is an array, not a JSON array file
    arrays_first.write_text('["not", "a", "record"]\n' + json.dumps(GOOD) + "\n", encoding="utf-8")
    assert [getattr(r, "code", "ok") for r in read_file(arrays_first)] == ["bad_record", "ok"]


def test_weights_are_kept_and_checked() -> None:
    turns = [U, {**A, "weight": 0}, {"role": "user", "content": "More?"}, {**A, "weight": 1}]
    r = parse_record(msgs(*turns), "a.jsonl", 1)
    assert isinstance(r, ChatRecord) and r.untrained == {1}
    assert [m.get("weight") for m in r.to_dict()["messages"]] == [None, 0, None, None]
    for bad, code in (([{**U, "weight": 0}, A], "bad_weight"), ([U, {**A, "weight": 2}], "bad_weight"),
                      ([U, {**A, "weight": 0}], "no_assistant")):  # fmt: skip
        assert parse_record(msgs(*bad), "a.jsonl", 1).code == code


def test_a_lone_surrogate_refuses_its_record_only(tmp_path: Path) -> None:
    line = json.dumps(msgs(U, A)).replace("What", "\\ud800", 1)
    (tmp_path / "s.jsonl").write_text(f"{line}\n{json.dumps(msgs(U, A))}\n", "utf-8")
    bad, good = read_file(tmp_path / "s.jsonl")
    assert isinstance(bad, Rejection) and bad.code == "not_utf8" and "U+D800" in bad.reason
    assert json.dumps(bad.to_dict(), ensure_ascii=False).encode("utf-8")  # writable to rejected.jsonl
    assert isinstance(good, ChatRecord)

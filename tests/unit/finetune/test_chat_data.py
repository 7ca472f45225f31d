"""Chat JSONL parsing, and the assistant-only loss mask on SmolLM2's ChatML template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.finetune.chat_data import (
    assistant_mask,
    chatml_training_template,
    prompt_completion,
    read_chat_jsonl,
    training_template,
)

CONV = [
    {"role": "user", "content": "What is the capital of Zorbania?"},
    {"role": "assistant", "content": "The capital of Zorbania is Quillhaven."},
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": "how are you?"},
]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"text": "x"}', "messages"),
        ('{"messages": []}', "messages"),
        ('{"messages": [{"role": "user", "content": "q"}]}', "no assistant"),
        ('{"messages": [{"role": "bot", "content": "q"}]}', "role"),
        ('{"messages": [{"role": "user", "content": "  "}]}', "non-empty"),
        ('["a"]', "messages"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, match: str) -> None:
    ok = json.dumps({"messages": CONV[:2]})
    (tmp_path / "t.jsonl").write_text(f"{ok}\n{line}\n", "utf-8")
    with pytest.raises(InputError, match=match) as e:
        read_chat_jsonl(tmp_path / "t.jsonl")
    assert "t.jsonl:2" in e.value.message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("\n\n", "utf-8")
    with pytest.raises(InputError, match="no conversations"):
        read_chat_jsonl(tmp_path / "e.jsonl")
    with pytest.raises(NotFound, match="not found"):
        read_chat_jsonl(tmp_path / "missing.jsonl")


def test_limit(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text((json.dumps({"messages": CONV}) + "\n") * 5, "utf-8")
    assert len(read_chat_jsonl(tmp_path / "t.jsonl", limit=2)) == 2


def test_prompt_completion_splits_at_the_last_assistant_turn() -> None:
    pc = prompt_completion(CONV)
    assert pc["prompt"] == CONV[:3] and pc["completion"] == CONV[3:]


def test_smollm2_template_gets_generation_markers_and_renders_the_same(make_tok) -> None:
    tok = make_tok()
    template = training_template(tok)
    assert template is not None and "{% generation %}" in template
    for gen in (False, True):
        msgs = CONV[:-1] if gen else CONV
        own = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
        assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen, chat_template=template) == own
    assert "You are a helpful AI assistant named SmolLM" in template


def test_mask_covers_exactly_the_assistant_replies(make_tok) -> None:
    tok = make_tok()
    ids, mask = assistant_mask(tok, CONV, training_template(tok))
    assert len(ids) == len(mask) and 0 < sum(mask) < len(mask)
    masked = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert masked == "The capital of Zorbania is Quillhaven.<|im_end|>how are you?<|im_end|>"
    unmasked = tok.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    assert "What is the capital" in unmasked and "Quillhaven" not in unmasked


def test_unknown_template_falls_back_to_completion_masking(make_tok) -> None:
    odd = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    assert training_template(make_tok(odd)) is None


def test_chatml_template_without_default_system() -> None:
    assert "SmolLM" not in chatml_training_template() and "{% generation %}" in chatml_training_template()


def test_tool_turns_are_refused_with_the_reason(tmp_path: Path) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    conv = [CONV[0], {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "12:00"}, CONV[1]]  # fmt: skip
    (tmp_path / "t.jsonl").write_text(json.dumps({"messages": conv}) + "\n", "utf-8")
    with pytest.raises(InputError, match="tool calls and tool turns are not trained on") as e:
        read_chat_jsonl(tmp_path / "t.jsonl")
    assert "t.jsonl:1" in e.value.message and "tool_calls" in (e.value.hint or "")


def test_weight_zero_turns_are_context_not_loss(tmp_path: Path, make_tok) -> None:
    conv = [CONV[0], {**CONV[1], "weight": 0}, CONV[2], {**CONV[3], "weight": 1}]
    (tmp_path / "t.jsonl").write_text(json.dumps({"messages": conv}) + "\n", "utf-8")
    (read,) = read_chat_jsonl(tmp_path / "t.jsonl")
    assert read == conv
    assert prompt_completion(read)["completion"] == [conv[3]]
    tok = make_tok()
    ids, mask = assistant_mask(tok, read, training_template(tok))
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if m]) == "how are you?<|im_end|>"
    (tmp_path / "w.jsonl").write_text(json.dumps({"messages": conv[:2]}) + "\n", "utf-8")
    with pytest.raises(InputError, match="no assistant message to learn from"):
        read_chat_jsonl(tmp_path / "w.jsonl")

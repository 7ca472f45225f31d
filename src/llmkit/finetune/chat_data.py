"""Chat JSONL for training, and the chat template that lets TRL mask everything but the assistant.

A line is ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}`` (the OpenAI
fine-tuning format that ``llmkit finetune prepare`` writes); it needs at least one assistant turn. An
assistant turn marked ``"weight": 0`` is context, not learnt. Tool calls and tool turns are refused:
``prepare`` leaves such conversations out (reason ``tool_calls``), since a chat template that cannot show a
tool call, like SmolLM2's, would teach an empty reply.

Loss on assistant tokens only: TRL's ``assistant_only_loss`` needs ``{% generation %}`` markers in the
chat template. TRL patches the templates it knows (Qwen, Llama 3, Gemma, ...); for ChatML templates such
as SmolLM2's, which it does not know, ``training_template`` builds a ChatML template with the markers
and keeps it only if it renders the probe conversations exactly like the model's own template (that
template leaves ``weight: 0`` turns outside the markers). Where neither works, each conversation becomes a
prompt-completion pair (the last assistant turn with a weight is the completion) and TRL's
``completion_only_loss`` masks the prompt instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, NotFound

ROLES = ("system", "user", "assistant")
Conversation = list[dict[str, Any]]
#: The test by which llmkit's training template leaves ``weight: 0`` turns out of the loss.
_UNTRAINED = "message.get('weight') != 0"
_PROBES: tuple[Conversation, ...] = (
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ],
)


def read_chat_jsonl(path: str | Path, *, limit: int | None = None) -> list[Conversation]:
    """Conversations from a chat JSONL file; a malformed line raises ``InputError`` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"training data not found: {path}", hint="write it with `llmkit finetune prepare DATA`")
    out: list[Conversation] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                out.append(parse_conversation(line, f"{path.name}:{n}"))
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise InputError(f"{path}: no conversations", hint="the file is empty; prepare data first")
    return out


def parse_conversation(line: str, where: str) -> Conversation:
    """One JSONL line as a list of ``{"role", "content"}`` messages.

    >>> line = '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}'
    >>> parse_conversation(line, "t.jsonl:1")
    [{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'}]
    """
    try:
        record = json.loads(line)
    except ValueError:
        raise InputError(f"{where}: not valid JSON") from None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InputError(f'{where}: expected {{"messages": [...]}}', hint="run `llmkit finetune prepare` first")
    out: Conversation = []
    for m in messages:
        role, content = (m.get("role"), m.get("content")) if isinstance(m, dict) else (None, None)
        if role == "tool" or (isinstance(m, dict) and m.get("tool_calls")):
            hint = "`llmkit finetune prepare` leaves such conversations out (reason tool_calls)"
            raise InputError(f"{where}: tool calls and tool turns are not trained on", hint=hint)
        if role not in ROLES or not isinstance(content, str) or not content.strip():
            raise InputError(f"{where}: each message needs a role ({', '.join(ROLES)}) and non-empty content")
        out.append({"role": role, "content": content, **_weight(m, where)})
    if not any(m["role"] == "assistant" and m.get("weight", 1) for m in out):
        raise InputError(f"{where}: no assistant message to learn from")
    return out


def _weight(message: dict[str, Any], where: str) -> dict[str, int]:
    if "weight" not in message:
        return {}
    weight = message["weight"]
    if message["role"] != "assistant" or weight not in (0, 1) or isinstance(weight, bool):
        raise InputError(f"{where}: weight must be 0 or 1, and only on assistant turns")
    return {"weight": weight}


def is_trained(message: dict[str, Any]) -> bool:
    """Whether the loss covers this turn: an assistant turn not marked ``"weight": 0``."""
    return message["role"] == "assistant" and message.get("weight") != 0


def has_untrained_turns(conversations: Sequence[Conversation]) -> bool:
    """Whether any conversation marks an assistant turn ``"weight": 0``."""
    return any(m.get("weight") == 0 for conv in conversations for m in conv)


def honours_weight(template: str) -> bool:
    """Whether a training template leaves ``weight: 0`` turns outside its generation markers (llmkit's do)."""
    return _UNTRAINED in template


def prompt_completion(conversation: Conversation) -> dict[str, Conversation]:
    """Split at the last trained assistant turn (what TRL's ``completion_only_loss`` trains on).

    >>> prompt_completion([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    {'prompt': [{'role': 'user', 'content': 'q'}], 'completion': [{'role': 'assistant', 'content': 'a'}]}
    """
    last = max(i for i, m in enumerate(conversation) if is_trained(m))
    return {"prompt": conversation[:last], "completion": [conversation[last]]}


def training_template(tokenizer: Any) -> str | None:
    """A chat template with ``{% generation %}`` markers that renders like ``tokenizer``'s own, or ``None``."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if not template:
        return None
    if has_generation_markers(template):
        return template
    try:
        return get_training_chat_template(tokenizer) or template
    except ValueError:
        pass
    candidate = chatml_training_template(_default_system(tokenizer)) if "<|im_start|>" in template else None
    return candidate if candidate and _renders_like(tokenizer, candidate) else None


def chatml_training_template(default_system: str = "") -> str:
    """ChatML with each trained assistant turn's content and ``<|im_end|>`` inside generation markers
    (a turn marked ``"weight": 0`` renders the same, outside them)."""
    system = (
        "{%- if loop.first and messages[0]['role'] != 'system' %}{% raw %}"
        + default_system
        + "{% endraw %}{%- endif %}"
        if default_system
        else ""
    )
    return (
        "{%- for message in messages %}" + system + "{%- if message['role'] == 'assistant' and " + _UNTRAINED + " %}"
        "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        "{{ '\\n' }}{%- else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def _default_system(tokenizer: Any) -> str:
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)
    head, sep, _ = text.partition("<|im_start|>user")
    return head if sep and head.startswith("<|im_start|>system") else ""


def _renders_like(tokenizer: Any, template: str, probes: Sequence[Conversation] = _PROBES) -> bool:
    for conv in probes:
        for gen in (False, True):
            msgs = conv[:-1] if gen else conv
            own = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
            ours = tokenizer.apply_chat_template(
                msgs, tokenize=False, add_generation_prompt=gen, chat_template=template
            )
            if own != ours:
                return False
    return True


def assistant_mask(tokenizer: Any, conversation: Conversation, template: str) -> tuple[list[int], list[int]]:
    """``(input_ids, mask)`` as TRL computes them: mask 1 on the tokens the loss is taken on."""
    out = tokenizer.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, chat_template=template
    )
    return list(out["input_ids"]), list(out["assistant_masks"])

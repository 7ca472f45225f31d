"""Chat-template rendering shared by the llama.cpp backends (``LlamaCppModel``, ``BatchedLlamaModel``).

The template is the one stored in the GGUF file (``tokenizer.chat_template``), ChatML when it has none,
rendered by llama-cpp-python's ``Jinja2ChatFormatter`` and tokenised by the model's own tokenizer, so
both backends send llama.cpp exactly the same prompt tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmkit.errors import InputError
from llmkit.models import tool_protocol
from llmkit.types import Message, ToolSpec

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: ``tokenize(data, add_bos, special) -> token ids`` (``llama_cpp.Llama.tokenize`` or ``LlamaModel.tokenize``).
Tokenize = Callable[[bytes, bool, bool], list[int]]


def chat_formatter(metadata: Mapping[str, str], eos_text: str, bos_text: str) -> Any:
    """A ``Jinja2ChatFormatter`` for the GGUF's template (ChatML when the file has none)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = metadata.get("tokenizer.chat_template") or CHATML
    return Jinja2ChatFormatter(template, eos_token=eos_text, bos_token=bos_text)


def special_text(model: Any, token: int) -> str:
    """The text of a special token (``""`` when the model has none: llama.cpp reports ``-1``)."""
    return model.token_get_text(token) if token != -1 else ""


def has_tool_role(metadata: Mapping[str, str]) -> bool:
    """Whether the GGUF's chat template knows a ``tool`` role (else tool results go in as user turns)."""
    return "tool" in (metadata.get("tokenizer.chat_template") or CHATML)


def render_prompt(
    formatter: Any,
    tokenize: Tokenize,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec] = (),
    tool_choice: str = "auto",
    *,
    tool_role: bool = False,
) -> list[int]:
    """The prompt tokens for ``messages`` (with the tools prompt of ``tool_protocol`` when ``tools``):
    template rendered, then tokenised with special tokens parsed."""
    if not messages:
        raise InputError("no messages to send")
    turns = tool_protocol.prepare_messages(messages, tools, tool_choice, tool_role=tool_role)
    try:
        rendered = formatter(messages=turns)
    except Exception as e:  # jinja2 errors and the template's raise_exception()
        raise InputError(f"the model's chat template rejected the messages: {e}") from None
    prompt = rendered.prompt.encode("utf-8", errors="replace")
    return tokenize(prompt, not rendered.added_special, True)

"""``PromptTemplate``: a named system + user template in code, with ``str.format`` fields.

Prompt files in the registry (``llmkit.prompts.Prompt``, Jinja2 with front matter) are the usual way;
this class stays for prompts built in code. Both have ``name``, ``version``, ``ref``, ``inputs`` and
``render(**values)``, and traces record ``name@version``.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field

from llmkit.errors import InputError
from llmkit.types import Message


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with ``str.format`` fields.

    >>> t = PromptTemplate("greet", system="Be brief.", user="Hello {name}")
    >>> [m.content for m in t.render(name="Ada")]
    ['Be brief.', 'Hello Ada']
    >>> t.ref.startswith("greet@")
    True
    """

    name: str
    system: str
    user: str
    inputs: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        fields = {f for text in (self.system, self.user) for _, f, _, _ in string.Formatter().parse(text) if f}
        object.__setattr__(self, "inputs", frozenset(fields))

    @property
    def version(self) -> str:
        return hashlib.sha256(f"{self.system}\0{self.user}".encode()).hexdigest()[:12]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **values: str) -> list[Message]:
        missing = self.inputs - values.keys()
        if missing:
            raise InputError(f"prompt {self.name!r} needs values for {sorted(missing)}")
        messages = [Message.user(self.user.format(**values))]
        if self.system:
            messages.insert(0, Message.system(self.system.format(**values)))
        return messages


def __getattr__(name: str) -> object:
    """``RAG_ANSWER`` now lives in the prompt registry (``builtin/rag-answer.md``); kept importable here."""
    if name == "RAG_ANSWER":
        from llmkit.prompts.registry import builtin

        return builtin("rag-answer")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

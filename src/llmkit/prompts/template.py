"""``PromptTemplate``: a named system + user template whose version is the hash of its text.

Traces record ``name@version`` so every answer can be tied to the exact prompt that produced it.
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


RAG_ANSWER = PromptTemplate(
    "rag-answer",
    system=(
        "You answer questions using only the numbered context passages below. "
        "Cite the passages you use with their numbers in square brackets, like [1]. "
        "If the passages do not contain the answer, say that the documents do not say."
    ),
    user="Context passages:\n\n{context}\n\nQuestion: {question}\nAnswer:",
)

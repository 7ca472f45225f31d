"""Conversation memory for agents: earlier turns, trimmed whole (oldest first) to fit a token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llmkit.types import Message


class Memory:
    """The messages of earlier runs (user task, tool calls and results, answer), oldest first.

    >>> m = Memory()
    >>> m.add([Message.user("hi"), Message.assistant("hello")])
    >>> [x.role for x in m.messages]
    ['user', 'assistant']
    """

    def __init__(self, max_turns: int | None = None) -> None:
        self.max_turns = max_turns
        self.messages: list[Message] = []
        #: What the guards' placeholders in the messages stand for, so later runs keep them.
        self.placeholders: dict[str, str] = {}

    def add(self, messages: Sequence[Message]) -> None:
        self.messages.extend(messages)
        if self.max_turns is not None:
            while self.turns() > self.max_turns:
                self._drop_oldest_turn()

    def turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "user")

    def clear(self) -> None:
        self.messages.clear()
        self.placeholders.clear()

    def fit(self, count: Callable[[Sequence[Message]], int], budget: int) -> list[Message]:
        """The most recent whole turns whose messages ``count`` to at most ``budget`` tokens."""
        kept = list(self.messages)
        while kept and count(kept) > budget:
            kept = _without_oldest_turn(kept)
        return kept

    def _drop_oldest_turn(self) -> None:
        self.messages = _without_oldest_turn(self.messages)


def _without_oldest_turn(messages: list[Message]) -> list[Message]:
    """Drop messages up to (not including) the second user message, so tool calls keep their results."""
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    return messages[starts[1] :] if len(starts) > 1 else []

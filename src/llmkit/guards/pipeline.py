"""``GuardPipeline``: the guards configured per stage, run in order, with every verdict counted and traced.

    pipeline = GuardPipeline.from_settings(settings)
    v = pipeline.check_input(question)                 # kind="user" | "passage" | "tool"
    messages, v = pipeline.check_conversation(history + [question])   # every turn, placeholders shared
    if v.blocked: ...                                  # v.reasons says why; v.text is the redacted text
    out = pipeline.check_output(answer, passages=texts, placeholders=v.placeholders)
    out.text                                           # redacted where asked, placeholders restored

Guards that need a model (topic, groundedness) take the embedder lazily, so building a pipeline is cheap.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmkit.guards.base import Guard, GuardContext, Kind, Verdict, combine
from llmkit.guards.pii import restore

if TYPE_CHECKING:
    from llmkit.config import GuardSettings, Settings
    from llmkit.embeddings.base import Embedder
    from llmkit.guards.grounded import Judge
    from llmkit.models.base import ChatModel
    from llmkit.observe.traces import TraceStore
    from llmkit.prompts.registry import PromptRegistry
    from llmkit.types import Message


def build_guard(
    name: str,
    g: GuardSettings,
    embedder: Callable[[], Embedder],
    output: bool = False,
    judge: Judge | None = None,
) -> Guard:
    """The guard called ``name`` in the ``[guards]`` settings; ``judge`` is the groundedness guard's LLM judge."""
    from llmkit.guards import content, grounded, injection, pii

    act = g.content_action
    if name == "pii":
        ner, entities = None, g.pii_entities
        if g.ner:
            from llmkit.guards.ner import NER_TYPES, NerRecogniser

            ner = NerRecogniser()
        if entities is None:  # every type this configuration can find
            entities = (*pii.SUPPORTED, *(NER_TYPES if ner else ()))
        return pii.PiiGuard(entities, mode=g.pii_mode, action=g.pii_action, salt=g.pii_salt, ner=ner)
    if name == "injection":
        return injection.InjectionGuard(
            g.injection_threshold,
            passage_threshold=g.injection_passage_threshold,
            action=g.injection_action,
            heuristics=g.injection_heuristics,
            model_path=g.injection_model,
        )
    makers: dict[str, Callable[[], Guard]] = {
        "denylist": lambda: content.DenyListGuard(g.deny_keywords, g.deny_patterns, action=act),
        "topic": lambda: content.TopicGuard(g.deny_topics, embedder, threshold=g.topic_threshold, action=act),
        "length": lambda: content.LengthGuard(g.max_output_chars if output else g.max_input_chars, action=act),
        "language": lambda: content.LanguageGuard(g.languages, action=g.language_action),
        "leakage": lambda: content.LeakageGuard(g.leakage_min_words),
        "grounded": lambda: grounded.GroundednessGuard(
            embedder,
            threshold=g.grounded_threshold,
            action=g.grounded_action,
            judge=judge,
        ),
    }
    return makers[name]()


class GuardPipeline:
    """Input, passage and output guards. ``counts`` tallies (stage, guard, action), ``checks`` and ``seconds``
    the checks of each (stage, guard) and the time they took; ``traces`` records verdicts."""

    def __init__(
        self,
        input: Sequence[Guard] = (),
        passages: Sequence[Guard] = (),
        output: Sequence[Guard] = (),
        *,
        blocked_message: str = "I can't help with that request.",
        traces: TraceStore | None = None,
    ) -> None:
        self.input, self.passages, self.output = tuple(input), tuple(passages), tuple(output)
        self.blocked_message = blocked_message
        self.traces = traces
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.checks: Counter[tuple[str, str]] = Counter()
        self.seconds: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embedder: Callable[[], Embedder] | None = None,
        traces: TraceStore | None = None,
        model: Callable[[], ChatModel] | None = None,
        prompts: Callable[[], PromptRegistry] | None = None,
    ) -> GuardPipeline:
        """The pipeline ``settings.guards`` describes. ``embedder``, and with ``grounded_judge`` the judge's
        ``model`` and ``prompts``, default to the project's, loaded on first use."""
        from functools import cache

        g = settings.guards
        if embedder is None:
            from llmkit.registry import load_embedder

            embedder = cache(lambda: load_embedder(settings))
        judge = None
        if g.grounded_judge:
            from llmkit.guards.grounded import LlmJudge
            from llmkit.prompts.registry import PromptRegistry
            from llmkit.registry import load_chat_model

            judge = LlmJudge(
                model or cache(lambda: load_chat_model(settings)),
                prompts or cache(lambda: PromptRegistry.for_project(settings)),
            )
        stages = (
            [build_guard(n, g, embedder) for n in g.input],
            [build_guard(n, g, embedder) for n in g.passages],
            [build_guard(n, g, embedder, output=True, judge=judge) for n in g.output],
        )
        return cls(*stages, blocked_message=g.blocked_message, traces=traces)

    @property
    def enabled(self) -> bool:
        return bool(self.input or self.passages or self.output)

    def check_input(self, text: str, *, kind: Kind = "user", placeholders: Mapping[str, str] | None = None) -> Verdict:
        """Check the user's message (``kind="user"``), or a passage or tool output (``"passage"``, ``"tool"``)."""
        guards = self.input if kind == "user" else self.passages
        ctx = GuardContext(kind=kind, placeholders=dict(placeholders or {}))
        return self._record("input" if kind == "user" else kind, self._run(guards, text, ctx))

    def check_conversation(self, messages: Sequence[Message]) -> tuple[list[Message], Verdict | None]:
        """The messages as the input guards pass them on, and the verdict that decides: a blocking user
        turn's, else the last user turn's (``None`` with no input guards or no user turn).

        Every user and assistant turn up to the last user turn is screened, not only the question: the
        history comes back from the client with the PII our replies restored, so it would otherwise reach
        the model in the clear. One value keeps one placeholder across turns, and the verdict carries
        them all, so ``check_output`` restores the reply in full. Any user turn can block (whoever sends
        the history controls all of it); an assistant turn is redacted but never blocks.
        """
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not self.input or not users:
            return list(messages), None
        placeholders: dict[str, str] = {}
        screened, verdict = [], None
        for i, message in enumerate(messages):
            if message.role in ("user", "assistant") and i <= users[-1] and (message.content or i == users[-1]):
                v = self.check_input(message.content or "", placeholders=placeholders)
                placeholders.update(v.placeholders)
                if message.role == "user" and (i == users[-1] or v.blocked) and not (verdict and verdict.blocked):
                    verdict = v
                if v.text != message.content:
                    message = dataclasses.replace(message, content=v.text)
            screened.append(message)
        return screened, dataclasses.replace(verdict, placeholders=placeholders)  # type: ignore[arg-type]

    def check_output(
        self,
        text: str,
        *,
        passages: Sequence[str] = (),
        system_prompt: str | None = None,
        placeholders: Mapping[str, str] | None = None,
        record: bool = True,
    ) -> Verdict:
        """Check the model's answer; the verdict's text has input placeholders restored (or is the blocked message).

        ``record=False`` for a look at a partial answer (a stream's, see ``guards.stream``): not counted or traced.
        """
        ctx = GuardContext("answer", tuple(passages), system_prompt, dict(placeholders or {}))
        v = self._run(self.output, text, ctx)
        final = self.blocked_message if v.blocked else restore(v.text, ctx.placeholders)  # new PII stays hidden
        verdict = Verdict(v.action, final, v.findings, v.placeholders, v.timings_ms)
        return self._record("output", verdict) if record else verdict

    def _run(self, guards: Sequence[Guard], text: str, ctx: GuardContext) -> Verdict:
        results: list[tuple[str, Verdict, float]] = []
        current = text
        for guard in sorted(guards, key=lambda g: g.name != "length"):  # length first: cheap, on the text as sent
            start = time.perf_counter()
            verdict = guard.check(current, ctx)
            results.append((guard.name, verdict, (time.perf_counter() - start) * 1000))
            current = verdict.text
            if verdict.blocked:
                break  # later guards cannot unblock it
        return combine(text, results) if results else Verdict("allow", text)

    def _record(self, stage: str, verdict: Verdict) -> Verdict:
        for name, ms in verdict.timings_ms.items():
            actions = {f.action for f in verdict.findings if f.guard == name} or {"allow"}
            for action in actions:
                self.counts[(stage, name, action)] += 1
            self.checks[(stage, name)] += 1
            self.seconds[(stage, name)] += ms / 1000
        if self.traces is not None and verdict.timings_ms:
            self._trace(stage, verdict)
        return verdict

    def _trace(self, stage: str, verdict: Verdict) -> None:
        import time as _time
        import uuid

        from llmkit.observe.traces import Trace, current_span
        from llmkit.types import Usage

        span = current_span()
        attributes: dict[str, Any] = {"stage": stage, **verdict.to_dict()}
        if span is not None and span.trace_id:
            attributes["model_trace"] = span.trace_id
        self.traces.record(  # type: ignore[union-attr]
            Trace(uuid.uuid4().hex, _time.time(), "guard", "llmkit.guards", (), {}, verdict.action, None, Usage(),
                  sum(verdict.timings_ms.values()), attributes=attributes)
        )  # fmt: skip

    def stats(self) -> dict[str, int]:
        """``{"stage/guard/action": count}`` since the pipeline was built."""
        return {"/".join(key): n for key, n in sorted(self.counts.items())}

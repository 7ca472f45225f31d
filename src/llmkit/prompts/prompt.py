"""``Prompt``: a Jinja2 template file with YAML front matter, validated at load, versioned by content hash.

A prompt file looks like this (``## system`` and ``## user`` lines split the messages; without them the
whole body is the user message)::

    ---
    name: rag-answer
    description: Answer from numbered passages, with citations.
    inputs: [context, question]
    outputs: text
    params: {temperature: 0.2, max_tokens: 256}
    ---
    ## system
    You answer questions using only the numbered passages.
    ## user
    Context passages:

    {{ context }}

    Question: {{ question }}

``examples`` in the front matter (a list of ``{input: ..., output: ...}``) become fixed few-shot turns.
"""

from __future__ import annotations

import hashlib
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

from llmkit.errors import InputError
from llmkit.types import GenerationParams, Message

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_SECTION = re.compile(r"^##[ \t]+(system|user)[ \t]*$", re.M | re.I)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEYS = {"name", "description", "inputs", "outputs", "params", "examples", "labels", "parent"}


@cache
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    """The compiled template: Jinja2's, or a ``Substitution`` when ``{{ name }}`` is its only syntax."""
    return Substitution.parse(source) or _env().from_string(source)


_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_WORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if"})


class Substitution:
    """A template whose only syntax is ``{{ name }}``, rendered by joining strings: the same text as
    Jinja2 (newlines normalised to ``\\n``, one trailing newline dropped, values through ``str``), at
    a tenth of the cost (a sandboxed Jinja render builds a context and runs generated code each time).

    >>> Substitution.parse("Q: {{ question }}\\r\\nA:\\n").render(question="why?")
    'Q: why?\\nA:'
    >>> Substitution.parse("{% if x %}{{ x }}{% endif %}") is None  # anything else is Jinja's
    True
    """

    def __init__(self, texts: Sequence[str], names: Sequence[str], source: str) -> None:
        self.texts = tuple(texts)
        self.names = tuple(names)
        self.source = source

    @classmethod
    def parse(cls, source: str) -> Substitution | None:
        lines = re.split(r"\r\n|\r|\n", source)  # what Jinja's lexer does (keep_trailing_newline=False)
        if lines[-1] == "":
            del lines[-1]
        pieces = _VAR.split("\n".join(lines))
        texts, names = pieces[0::2], pieces[1::2]
        if (
            any(m in t for t in texts for m in ("{{", "{%", "{#"))
            or any(t.endswith("{") for t in texts[:-1])
            or any(t.startswith("}") for t in texts[1:])
            or any(n in _JINJA_WORDS or keyword.iskeyword(n) for n in names)
        ):
            return None
        return cls(texts, names, source)

    def render(self, **values: Any) -> str:
        if not all(n in values for n in self.names):  # let Jinja raise its usual error
            return _env().from_string(self.source).render(**values)
        out = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            out += (str(values[name]), text)
        return "".join(out)


@dataclass(frozen=True)
class Prompt:
    """One version of a prompt. ``version`` is the first 12 hex digits of the file's SHA-256.

    >>> p = parse_prompt("---\\nname: greet\\ninputs: [who]\\n---\\n## system\\nBe brief.\\n## user\\nHi {{ who }}")
    >>> [m.content for m in p.render(who="Ada")]
    ['Be brief.', 'Hi Ada']
    >>> p.ref == "greet@" + p.version
    True
    """

    name: str
    system: str
    user: str
    inputs: frozenset[str]
    text: str  # the whole file, front matter included: what the version hashes
    description: str = ""
    outputs: str = "text"
    params: Mapping[str, Any] = field(default_factory=dict)
    examples: tuple[tuple[str, str], ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def version(self) -> str:
        return content_version(self.text)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def generation_params(self, base: GenerationParams | None = None) -> GenerationParams:
        """``base`` with this prompt's declared parameters on top."""
        merged = {**_params_dict(base or GenerationParams()), **dict(self.params)}
        return GenerationParams(**merged)

    def render(self, examples: Sequence[tuple[str, str]] | None = None, **values: Any) -> list[Message]:
        """The messages for ``values``; few-shot ``examples`` (else the file's own) go before the last turn."""
        missing = self.inputs - values.keys()
        if missing:
            raise InputError(f"prompt {self.name!r} needs values for {sorted(missing)}")
        messages: list[Message] = []
        if self.system.strip():
            messages.append(Message.system(_compile(self.system).render(**values).strip()))
        for question, answer in self.examples if examples is None else examples:
            messages += [Message.user(question), Message.assistant(answer)]
        messages.append(Message.user(_compile(self.user).render(**values).strip()))
        return messages


def content_version(text: str) -> str:
    """The version of a prompt file: its normalised text's SHA-256, 12 hex digits.

    >>> content_version("a\\r\\nb\\n") == content_version("a\\nb")
    True
    """
    normal = text.replace("\r\n", "\n").strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:12]


def parse_prompt(text: str, *, source: str = "<prompt>", name: str | None = None) -> Prompt:
    """Parse and validate a prompt file; ``InputError`` says what is wrong and where."""
    match = _FRONT.match(text)
    meta = _front_matter(match.group(1), source) if match else {}
    body = text[match.end() :] if match else text
    name = str(meta.get("name") or name or "")
    if not _NAME.match(name):
        raise InputError(f"{source}: prompt name {name!r} must be letters, digits, '.', '_' or '-' (max 64)")
    system, user = _split_sections(body, source)
    used = _variables(system, source) | _variables(user, source)
    declared = _declared_inputs(meta, used, source)
    prompt = Prompt(
        name=name,
        system=system,
        user=user,
        inputs=declared,
        text=text,
        description=str(meta.get("description", "")),
        outputs=str(meta.get("outputs", "text")),
        params=_check_params(meta.get("params") or {}, source),
        examples=_check_examples(meta.get("examples") or [], source),
        meta=meta,
    )
    return prompt


def _front_matter(raw: str, source: str) -> dict[str, Any]:
    import yaml

    try:
        meta = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{source}: front matter is not valid YAML: {e}") from None
    if not isinstance(meta, dict):
        raise InputError(f"{source}: front matter must be a YAML mapping (key: value lines)")
    unknown = set(meta) - _KEYS
    if unknown:
        raise InputError(f"{source}: unknown front-matter keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    return meta


def _split_sections(body: str, source: str) -> tuple[str, str]:
    parts = _SECTION.split(body)
    if len(parts) == 1:
        if not body.strip():
            raise InputError(f"{source}: the prompt has no text")
        return "", body.strip()
    if parts[0].strip():
        raise InputError(f"{source}: text before the first '## system' or '## user' line")
    sections: dict[str, str] = {}
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        if role.lower() in sections:
            raise InputError(f"{source}: more than one '## {role.lower()}' section")
        sections[role.lower()] = content.strip()
    if not sections.get("user"):
        raise InputError(f"{source}: the '## user' section is missing or empty")
    return sections.get("system", ""), sections["user"]


def _variables(template: str, source: str) -> set[str]:
    from jinja2 import TemplateSyntaxError, meta

    try:
        return set(meta.find_undeclared_variables(_env().parse(template)))
    except TemplateSyntaxError as e:
        raise InputError(f"{source}: template error on line {e.lineno}: {e.message}") from None


def _declared_inputs(meta: Mapping[str, Any], used: set[str], source: str) -> frozenset[str]:
    declared = meta.get("inputs")
    if declared is None:
        return frozenset(used)
    if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
        raise InputError(f"{source}: 'inputs' must be a list of names")
    undeclared = used - set(declared)
    if undeclared:
        raise InputError(f"{source}: the template uses {sorted(undeclared)} but 'inputs' does not declare them")
    return frozenset(declared)


def _params_dict(params: GenerationParams) -> dict[str, Any]:
    keys = ("max_tokens", "temperature", "top_p", "seed", "stop", "json_schema")
    return {k: getattr(params, k) for k in keys}


def _check_params(params: Any, source: str) -> dict[str, Any]:
    allowed = {"max_tokens", "temperature", "top_p", "seed", "stop", "json_schema"}
    if not isinstance(params, dict) or set(params) - allowed:
        raise InputError(f"{source}: 'params' must be a mapping with keys from {sorted(allowed)}")
    clean = {k: tuple(v) if k == "stop" and isinstance(v, list) else v for k, v in params.items()}
    try:
        GenerationParams(**clean)
    except (TypeError, InputError) as e:
        raise InputError(f"{source}: invalid params: {e}") from None
    return clean


def _check_examples(examples: Any, source: str) -> tuple[tuple[str, str], ...]:
    ok = isinstance(examples, list) and all(
        isinstance(e, dict) and isinstance(e.get("input"), str) and isinstance(e.get("output"), str) for e in examples
    )
    if not ok:
        raise InputError(f"{source}: 'examples' must be a list of {{input: text, output: text}}")
    return tuple((e["input"], e["output"]) for e in examples)

"""PII recognisers (validated patterns) and redaction: mask, hash, or reversible placeholders.

Each recogniser is a regular expression plus, where the format has one, a checksum (Luhn for cards,
ISO 13616 mod-97 for IBANs, the SSA's rules for SSNs, octet ranges for IPs), so a random number is not
taken for a card. Overlaps are settled by priority (a card beats a phone number) and then by length.
Postal addresses come from ``llmkit.guards.address`` (a street line with a cue, then its unit, city and
postcode lines); person names need NER: ``llmkit.guards.ner`` (the ``ner`` extra) adds them.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from llmkit.errors import ConfigError
from llmkit.guards.address import find_addresses
from llmkit.guards.base import Finding, GuardContext, Verdict
from llmkit.guards.text import scan_view


@dataclass(frozen=True, slots=True)
class Entity:
    """A recognised value: type (Presidio's names), span and text."""

    type: str
    start: int
    end: int
    text: str


def luhn_ok(number: str) -> bool:
    """The Luhn checksum of the digits in ``number`` (credit cards).

    >>> luhn_ok("4111 1111 1111 1111"), luhn_ok("4111 1111 1111 1112")
    (True, False)
    """
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return bool(digits) and total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces and case ignored).

    >>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = re.sub(r"\s+", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def ssn_ok(ssn: str) -> bool:
    """US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000.

    >>> ssn_ok("853-37-1694"), ssn_ok("666-12-3456"), ssn_ok("123-00-4567")
    (True, False, False)
    """
    d = re.sub(r"\D", "", ssn)
    return len(d) == 9 and d[:3] not in ("000", "666") and d[0] != "9" and d[3:5] != "00" and d[5:] != "0000"


def ip_ok(text: str) -> bool:
    """A valid IPv4 or IPv6 address.

    >>> ip_ok("192.168.0.1"), ip_ok("300.1.1.1"), ip_ok("::1")
    (True, False, True)
    """
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_DECIMAL = re.compile(r"\d+\.\d+")  # 3.14159265: a number, not a phone
_DATE = re.compile(r"(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])\b")


def _digits_between(lo: int, hi: int) -> Callable[[str], bool]:
    return lambda s: lo <= sum(c.isdigit() for c in s) <= hi


#: type -> (pattern, validator, priority); a higher priority wins an overlap.
RECOGNISERS: dict[str, tuple[re.Pattern[str], Callable[[str], bool], int]] = {
    "EMAIL_ADDRESS": (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}\b"), lambda s: True, 9),
    "URL": (
        re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+[^\s<>\"'()\[\]{}.,;:!?]", re.IGNORECASE),
        lambda s: True,
        8,
    ),
    "IBAN_CODE": (re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b"), iban_ok, 7),
    "CREDIT_CARD": (
        re.compile(r"\b\d(?:[ -]?\d){11,18}\b|\b\d{4}(?:\.\d{4}){3}\b"),  # dots only between groups of four
        lambda s: luhn_ok(s) and _digits_between(12, 19)(s),
        6,
    ),
    "US_SSN": (re.compile(r"\b\d{3}([- .])\d{2}\1\d{4}\b"), ssn_ok, 5),
    "IP_ADDRESS": (
        re.compile(
            r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?![\w:])"  # v4 tail
        ),
        ip_ok,
        5,
    ),
    "PHONE_NUMBER": (
        re.compile(
            r"(?<![\w+])(?:\+|00)?\d{0,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
            r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\w)",
            re.IGNORECASE,
        ),
        lambda s: _digits_between(7, 15)(s) and not _DATE.match(s) and not _DECIMAL.fullmatch(s),
        3,
    ),
}
#: type -> (finder returning spans, priority) for values a single pattern cannot validate.
FINDERS: dict[str, tuple[Callable[[str], list[tuple[int, int]]], int]] = {"STREET_ADDRESS": (find_addresses, 4)}
SUPPORTED = (*RECOGNISERS, *FINDERS)


def recognise(text: str, types: Iterable[str] = SUPPORTED) -> list[Entity]:
    """Every validated entity of ``types`` in ``text``, without overlaps, in text order.

    >>> [(e.type, e.text) for e in recognise("Mail jo@example.com or call +1 415-555-0132, card 4111 1111 1111 1111.")]
    [('EMAIL_ADDRESS', 'jo@example.com'), ('PHONE_NUMBER', '+1 415-555-0132'), ('CREDIT_CARD', '4111 1111 1111 1111')]
    """
    view = scan_view(text)  # no-break spaces, zero-width characters, fullwidth digits: as a reader sees them

    def entity(name: str, start: int, end: int) -> Entity:
        start, end = view.span(start, end)
        return Entity(name, start, end, text[start:end])

    found: list[tuple[int, Entity]] = []
    for name in types:
        if name in FINDERS:
            finder, priority = FINDERS[name]
            found += [(priority, entity(name, s, e)) for s, e in finder(view.text)]
        if name not in RECOGNISERS:
            continue  # NER types are found by the ner recogniser
        pattern, valid, priority = RECOGNISERS[name]
        for m in pattern.finditer(view.text):
            value = m.group().strip()
            if value and valid(value):
                start = m.start() + m.group().index(value)
                found.append((priority, entity(name, start, start + len(value))))
    return resolve_overlaps(found)


def resolve_overlaps(found: list[tuple[int, Entity]]) -> list[Entity]:
    """Keep the higher-priority (then longer) entity wherever two overlap; return them in text order."""
    kept: list[Entity] = []  # in text order, not overlapping
    starts: list[int] = []
    for _, e in sorted(found, key=lambda pe: (-pe[0], -(pe[1].end - pe[1].start), pe[1].start)):
        i = bisect.bisect_left(starts, e.start)
        if (i == 0 or kept[i - 1].end <= e.start) and (i == len(kept) or e.end <= kept[i].start):
            kept.insert(i, e)
            starts.insert(i, e.start)
    return kept


# ----------------------------------------------------------------------------- redaction

MODES = ("mask", "hash", "placeholder")


def redact(
    text: str, entities: Iterable[Entity], mode: str = "placeholder", *, salt: str = "", known: Mapping[str, str] = {}
) -> tuple[str, dict[str, str]]:
    """``text`` with each entity replaced, and the placeholder → value map (``placeholder`` mode only).

    ``mask`` writes ``<EMAIL_ADDRESS>``; ``hash`` a salted SHA-256 prefix (``<EMAIL_ADDRESS:1f0c…>``, the same
    value gives the same tag); ``placeholder`` numbers them (``<EMAIL_ADDRESS_1>``) so ``restore`` can undo it.
    ``known`` holds earlier placeholders, so one value keeps one placeholder across a conversation.

    >>> redact("a@b.io wrote to c@d.io", recognise("a@b.io wrote to c@d.io"))
    ('<EMAIL_ADDRESS_1> wrote to <EMAIL_ADDRESS_2>', {'<EMAIL_ADDRESS_1>': 'a@b.io', '<EMAIL_ADDRESS_2>': 'c@d.io'})
    """
    if mode not in MODES:
        raise ConfigError(f"unknown redaction mode {mode!r}", hint=f"use one of: {', '.join(MODES)}")
    mapping = dict(known)
    by_value = {v: k for k, v in mapping.items()}
    taken = {f"<{m.group(1).upper()}>" for m in _PLACEHOLDER.finditer(text)} - set(mapping)  # written by the user
    out, last = [], 0
    for e in sorted(entities, key=lambda e: e.start):
        out.append(text[last : e.start])
        out.append(_replacement(e, mode, salt, mapping, by_value, taken))
        last = e.end
    out.append(text[last:])
    return "".join(out), (mapping if mode == "placeholder" else {})


def _replacement(
    e: Entity, mode: str, salt: str, mapping: dict[str, str], by_value: dict[str, str], taken: set[str]
) -> str:
    if mode == "mask":
        return f"<{e.type}>"
    if mode == "hash":
        return f"<{e.type}:{hashlib.sha256((salt + e.text).encode()).hexdigest()[:10]}>"
    if e.text not in by_value:
        n = sum(1 for k in mapping if k.startswith(f"<{e.type}_")) + 1
        while f"<{e.type}_{n}>" in taken:  # the text itself holds one such tag: never restore it
            n += 1
        by_value[e.text] = f"<{e.type}_{n}>"
        mapping[by_value[e.text]] = e.text
    return by_value[e.text]


_PLACEHOLDER = re.compile(r"<[ \t]*([A-Za-z][A-Za-z_]*_\d+)[ \t]*>")


def restore(text: str, placeholders: Mapping[str, str]) -> str:
    """Put the original values back where the answer repeats a placeholder (in any case, spaces inside the
    brackets allowed).

    >>> restore("Write to <EMAIL_ADDRESS_1>.", {"<EMAIL_ADDRESS_1>": "a@b.io"})
    'Write to a@b.io.'
    """
    if not placeholders:
        return text
    names = "|".join(re.escape(k[1:-1]) for k in sorted(placeholders, key=len, reverse=True))
    pattern = re.compile(rf"<[ \t]*({names})[ \t]*>", re.IGNORECASE)  # as a model may echo it: < email_address_1 >
    return pattern.sub(lambda m: placeholders.get(f"<{m.group(1).upper()}>", m.group()), text)


class PiiGuard:
    """Finds PII and redacts it (``action="redact"``, the default), or flags or blocks the text instead.

    ``ner`` adds a recogniser for the types patterns cannot find (see ``llmkit.guards.ner``). Findings name
    the type and span, never the value, so verdicts can be traced safely.
    """

    name = "pii"

    def __init__(
        self,
        entities: Iterable[str] = SUPPORTED,
        *,
        mode: str = "placeholder",
        action: str = "redact",
        salt: str = "",
        ner: Callable[[str], list[Entity]] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown redaction mode {mode!r}", hint=f"use one of: {', '.join(MODES)}")
        self.entities = tuple(entities)
        self.mode, self.action, self.salt, self.ner = mode, action, salt, ner

    def find(self, text: str) -> list[Entity]:
        found = recognise(text, self.entities)
        if self.ner is not None:
            extra = [e for e in self.ner(text) if e.type in self.entities]
            found = resolve_overlaps([(9, e) for e in found] + [(1, e) for e in extra])
        return found

    def check(self, text: str, ctx: GuardContext) -> Verdict:
        entities = self.find(text)
        if not entities:
            return Verdict("allow", text)
        findings = tuple(
            Finding(self.name, e.type, f"{e.type} found", e.start, e.end, 1.0, self.action) for e in entities
        )  # type: ignore[arg-type]
        if self.action != "redact":
            return Verdict(self.action, text, findings)  # type: ignore[arg-type]
        redacted, mapping = redact(text, entities, self.mode, salt=self.salt, known=ctx.placeholders)
        return Verdict("redact", redacted, findings, mapping)

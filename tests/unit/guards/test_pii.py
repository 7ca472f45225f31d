from __future__ import annotations

import time

import pytest

from llmkit.errors import ConfigError
from llmkit.guards.base import GuardContext
from llmkit.guards.pii import PiiGuard, recognise, redact, restore


def types(text: str) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in recognise(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111-1111-1111-1111 ok", [("CREDIT_CARD", "4111-1111-1111-1111")]),
        ("iban gb82west12345698765432.", [("IBAN_CODE", "gb82west12345698765432")]),
        ("ssn 853-37-1694", [("US_SSN", "853-37-1694")]),
        ("from 10.0.0.255 and 2001:db8::1", [("IP_ADDRESS", "10.0.0.255"), ("IP_ADDRESS", "2001:db8::1")]),
        ("see https://example.com/a?b=1.", [("URL", "https://example.com/a?b=1")]),
        ("ring +44 20 7946 0958", [("PHONE_NUMBER", "+44 20 7946 0958")]),
        ("I live at 221 Baker Street, Apt 2", [("STREET_ADDRESS", "221 Baker Street, Apt 2")]),
        ("appelez le +33 1 42 68 53 00", [("PHONE_NUMBER", "+33 1 42 68 53 00")]),
        ("card 4111.1111.1111.1111", [("CREDIT_CARD", "4111.1111.1111.1111")]),
        ("from ::ffff:192.168.0.1 via 64:ff9b::10.1.2.3", [("IP_ADDRESS", "::ffff:192.168.0.1"),
                                                           ("IP_ADDRESS", "64:ff9b::10.1.2.3")]),
    ],
)  # fmt: skip
def test_recognises_valid_values(text: str, expected: list[tuple[str, str]]) -> None:
    assert types(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails Luhn (and is too long for a phone number)
        "iban GB82WEST12345698765433",  # fails mod-97
        "ssn 666-12-3456 or 123-00-4567",  # impossible SSNs
        "ip 300.1.2.3",
        "on 2024-01-15 at noon",  # a date, not a phone number
        "What is the warranty on model 3000?",
    ],
)
def test_rejects_invalid_values(text: str) -> None:
    assert [t for t, _ in types(text) if t != "PHONE_NUMBER" or "2024" in text] == []


def test_an_overlap_goes_to_the_stronger_recogniser() -> None:
    assert types("4111111111111111") == [("CREDIT_CARD", "4111111111111111")]


def test_redaction_modes() -> None:
    text = "a@b.io and a@b.io and c@d.io"
    ents = recognise(text)
    masked, none = redact(text, ents, "mask")
    assert masked == "<EMAIL_ADDRESS> and <EMAIL_ADDRESS> and <EMAIL_ADDRESS>" and none == {}
    hashed, _ = redact(text, ents, "hash", salt="s")
    tags = hashed.split(" and ")
    assert tags[0] == tags[1] != tags[2] and "a@b.io" not in hashed
    assert redact(text, ents, "hash", salt="other")[0] != hashed
    placed, mapping = redact(text, ents, "placeholder")
    assert placed == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert restore(placed, mapping) == text
    with pytest.raises(ConfigError, match="redaction mode"):
        redact(text, ents, "shred")


def test_known_placeholders_are_reused_and_numbering_continues() -> None:
    known = {"<EMAIL_ADDRESS_1>": "a@b.io"}
    text, mapping = redact("c@d.io, a@b.io", recognise("c@d.io, a@b.io"), known=known)
    assert text == "<EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>" and mapping["<EMAIL_ADDRESS_2>"] == "c@d.io"


def test_guard_redacts_and_never_puts_values_in_findings() -> None:
    v = PiiGuard().check("Write to jo@example.com", GuardContext())
    assert v.action == "redact" and v.text == "Write to <EMAIL_ADDRESS_1>"
    assert v.findings[0].start == 9 and "jo@example.com" not in str(v.to_dict())
    flagged = PiiGuard(action="block").check("jo@example.com", GuardContext())
    assert flagged.blocked and flagged.text == "jo@example.com"
    assert PiiGuard(["US_SSN"]).check("jo@example.com", GuardContext()).action == "allow"


def test_hostile_input_stays_fast() -> None:
    hostile = "1-" * 50_000 + "a@" * 50_000 + "9" * 100_000 + "a." * 50_000 + "12 Main " * 10_000 + "ab:" * 30_000
    start = time.process_time()  # this process's CPU time: the recognisers' cost, not the machine's load
    recognise(hostile)
    assert time.process_time() - start < 5.0


@pytest.mark.parametrize(
    "text",
    [
        "carte 4111\u00a01111\u00a01111\u00a01111 merci",  # no-break spaces, as French writes numbers
        "carte 4111\u202f1111\u202f1111\u202f1111 merci",  # narrow no-break spaces
        "card 4111\u200b1111 1111 1111 ok",  # a zero-width space inside
        "card ４１１１ １１１１ １１１１ １１１１ ok",  # fullwidth digits
        "mail jo\u200b@exam\u00adple.com today",  # zero-width space and soft hyphen
        "iban FR76\u00a03000\u00a06000\u00a00112\u00a03456\u00a07890\u00a0189 ok",
    ],
)
def test_values_written_with_odd_spaces_or_invisible_characters_are_found_and_redacted_whole(text: str) -> None:
    (entity,) = recognise(text)
    assert text[entity.start : entity.end] == entity.text and entity.text[0] in "4４jF" and entity.text[-1] in "1１m9"
    redacted, mapping = redact(text, [entity])
    assert restore(redacted, mapping) == text and redacted == text.replace(entity.text, next(iter(mapping)))


def test_a_decimal_number_is_not_a_phone_number() -> None:
    assert types("pi is 3.14159265358979 and e is 2.718281828459") == []


def test_placeholders_echoed_in_another_case_or_spaced_are_restored() -> None:
    mapping = {"<EMAIL_ADDRESS_1>": "a@b.io", "<EMAIL_ADDRESS_10>": "z@z.io"}
    answer = "to <email_address_1>, < EMAIL_ADDRESS_1 > and <EMAIL_ADDRESS_10>; not <EMAIL_ADDRESS_2>"
    assert restore(answer, mapping) == "to a@b.io, a@b.io and z@z.io; not <EMAIL_ADDRESS_2>"


def test_a_placeholder_the_user_wrote_is_never_given_to_a_value() -> None:
    text = "the form says <EMAIL_ADDRESS_1> literally; mine is bob@x.io"
    redacted, mapping = redact(text, recognise(text))
    assert mapping == {"<EMAIL_ADDRESS_2>": "bob@x.io"}
    assert restore(redacted, mapping) == text

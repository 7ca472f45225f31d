"""The postal-address recogniser and the person-name refinements (pure functions; no model)."""

from __future__ import annotations

import time

import pytest

from llmkit.guards.address import find_addresses
from llmkit.guards.names import refine_names, tidy_names
from llmkit.guards.pii import recognise


def addresses(text: str) -> list[str]:
    return [text[s:e] for s, e in find_addresses(text)]


CARD = "4844 Søndergade 52\n Apt. 656\n Brønderslev\n\n Denmark 35018"
WHITE_HOUSE = "1600 Pennsylvania Avenue NW, Washington, DC 20500"
FOUND = [
    ("I live at 221 Baker Street, Apt 2", ["221 Baker Street, Apt 2"]),
    ("Meet at 2 Rue Saint-Jean\n69005 Lyon\nSee you there.", ["2 Rue Saint-Jean\n69005 Lyon"]),  # not "See"
    ("Ship to:\n221 Baker Street\nLondon NW1 6XE\nThanks for the order.", ["221 Baker Street\nLondon NW1 6XE"]),
    (f"Ship to {WHITE_HOUSE}.", [WHITE_HOUSE]),
    ("Meet at Hauptstraße 5, 10115 Berlin.", ["Hauptstraße 5, 10115 Berlin"]),
    ("Post it to ul. Grochowa 80, Warszawa", ["ul. Grochowa 80, Warszawa"]),
    ("She lives on Via dei Fiorentini 17 now", ["Via dei Fiorentini 17"]),
    (CARD, [CARD]),
    ("my new address is PSC 6293, Box 8158\nAPO AP 04336", ["PSC 6293, Box 8158\nAPO AP 04336"]),
    ("send it to USS Lorenzen FPO AE 25990 please", ["USS Lorenzen FPO AE 25990"]),
    ("Write to P.O. Box 242, Springfield", ["P.O. Box 242, Springfield"]),
    ("send one to the corner of Kuusiku 7 and Alexander Flat?", ["the corner of Kuusiku 7 and Alexander Flat"]),
    ("address: 947 trg revolucije 17 apt. 858", ["947 trg revolucije 17 apt. 858"]),  # a lower-cased text
    # a first name in a street name is a street, not a verse (were not found at all)
    ("Send it to 221 John Street, London", ["221 John Street, London"]),
    ("We live at 12 Kings Road, Chelsea.", ["12 Kings Road, Chelsea"]),
    ("Our office is at 9 St. Peter Street, Manchester M2 5GP.", ["9 St. Peter Street, Manchester M2 5GP"]),
    # lower-case words inside names: an elided article, Czech prepositions (were cut there)
    ("Send to 5 Avenue d'Ouchy, Lausanne", ["5 Avenue d'Ouchy, Lausanne"]),
    (
        "Ship to 6570 Jiřího z Poděbrad 1874\n Apt. 008\n Velká Bukovina u Děčína\n Czech Republic 67420",
        ["6570 Jiřího z Poděbrad 1874\n Apt. 008\n Velká Bukovina u Děčína\n Czech Republic 67420"],
    ),
    # a corner street after "and" (was cut at "an": "an" is also a word inside German street names)
    (
        "Meet at the corner of 76 Boulevard de Normandie and Eriksson Bridge",
        ["the corner of 76 Boulevard de Normandie and Eriksson Bridge"],
    ),
    # a region given as a number, when a postcode follows (the postcode was left out)
    (
        "Located at 704 Redbud Drive\nCite Essanaouber\n, 32\n 60810. It serves",
        ["704 Redbud Drive\nCite Essanaouber\n, 32\n 60810"],
    ),
    ("Call 12 Main Street, Springfield, 3 times", ["12 Main Street, Springfield"]),
    # house-number ranges, slashes, staircases; a Polish postcode (each was cut or missed)
    ("Our office: Friedrichstraße 43-45, 10117 Berlin.", ["Friedrichstraße 43-45, 10117 Berlin"]),
    ("I live at ul. Marszałkowska 104/122, 00-017 Warszawa.", ["ul. Marszałkowska 104/122, 00-017 Warszawa"]),
    ("Mail it to Mannerheimintie 12 B 5, 00100 Helsinki.", ["Mannerheimintie 12 B 5, 00100 Helsinki"]),
    ("Ship to 3-5 Rue de la Paix, 1000 Bruxelles.", ["3-5 Rue de la Paix, 1000 Bruxelles"]),
    # a street word before the name and a postcode and city after it, with no address words before
    ("The package went to 2 Rue Saint-Jean, 69005 Lyon.", ["2 Rue Saint-Jean, 69005 Lyon"]),
    # a comma before the number after a street word; ZIP+4; a district's number (each was cut or missed)
    ("Write to Calle de Alcalá, 42, 28014 Madrid.", ["Calle de Alcalá, 42, 28014 Madrid"]),
    ("Deliver to 77 Massachusetts Ave, Cambridge, MA 02139-4307.", ["77 Massachusetts Ave, Cambridge, MA 02139-4307"]),
    (
        "I stay at 15 Nguyen Hue Street, District 1, Ho Chi Minh City.",
        ["15 Nguyen Hue Street, District 1, Ho Chi Minh City"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), FOUND)
def test_addresses_are_found_whole(text: str, expected: list[str]) -> None:
    assert addresses(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Windows 11 is out and iPhone 15 too.",
        "See chapter 3 of 10, verse 12.",
        "Luther died on 18 February 1546 in Eisleben.",
        "In 2010 Acme Corp grew; during 1942 it shrank.",
        "5 Musicians Of The 70s You're Supposed To Hate",
        "Take State Route 99 or Highway 41 north.",
        "Read John 3 16 and 1 Kings 3 before 2 Samuel 5.",
        "Top 10 Tips, 2023 Edition",
        "I have 2 Big Dogs, 12345 Fans",
        "We met via Zoom, 3 times.",
        "I moved to Paris, 2024 was great.",
        "Add 3/4 Cup Sugar and 2 Tbsp Butter",
        "The ruling is at 427 U.S. 160.",
        "",
    ],
)
def test_things_that_are_not_addresses(text: str) -> None:
    assert addresses(text) == []


def test_hostile_input_stays_fast() -> None:
    for text in ("Abc 12 " * 3000, "Main Street " * 5000, "12 " * 8000, "lives at " * 3000 + "12 Ab", "x" * 200_000):
        start = time.process_time()  # CPU time, so a busy machine does not fail the test
        find_addresses(text)
        assert time.process_time() - start < 5


def test_an_address_is_one_pii_entity_and_keeps_the_phone_apart() -> None:
    text = "Julcsa Kárpáthy\n50668 Kiannonkatu 98 Apt. 105, ISHAM, United Kingdom\nMobile: 03.93.92.16.85"
    assert [(e.type, e.text) for e in recognise(text)] == [
        ("STREET_ADDRESS", "50668 Kiannonkatu 98 Apt. 105, ISHAM, United Kingdom"),
        ("PHONE_NUMBER", "03.93.92.16.85"),
    ]


def names(text: str, spans: tuple[tuple[int, int], ...] = ()) -> list[str]:
    return [text[s:e] for s, e in refine_names(text, spans)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("For my take on Mrs. Labrie, see this.", ["Labrie"]),
        ("My name is Aantje Mourik but everyone calls me Aantje", ["Aantje Mourik", "Aantje"]),
        ("I'm so jealous! said Gladys to Logan", ["Gladys"]),
        ("Ask Faina D. Yefremova. Early Yefremova was better.", ["Faina D. Yefremova", "Yefremova"]),
        ("Dear Dr. Okafor, thanks.", ["Okafor"]),
        ("Hello there. This Monday is fine.", []),
    ],
)
def test_name_cues(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_model_spans_are_cleaned_merged_and_repeated() -> None:
    text = "Mr. Bryan Maclean's killers met Julieta S\nAlmeida; Maclean said 42."
    spans = [(0, 18), (32, 41), (42, 49), (59, 69)]  # "Mr. Bryan Maclean's", "Julieta S", "Almeida", "said 42."
    assert names(text, spans) == ["Bryan Maclean", "Julieta S", "Almeida", "Maclean"]
    assert names("R2D2 and @bob and PERSONAL INFO", [(0, 4), (9, 13), (18, 31)]) == []


def test_a_title_is_trimmed_from_a_model_span_anywhere_in_the_text() -> None:
    text = "We met Mrs. Labrie and ,Ana."
    assert names(text, [(7, 18), (23, 27)]) == ["Labrie", "Ana"]  # not only at the text's start


def test_a_taggers_names_lose_their_title_and_every_mention_is_found() -> None:
    text = "For my take on mrs. Baker, ask borna jerković; borna knows. Miss"
    found = tidy_names(text, [(15, 25), (31, 45), (60, 64)])
    assert [text[s:e] for s, e in found] == ["Baker", "borna jerković", "borna"]  # a title alone is no name
    assert tidy_names(text, []) == []
    assert tidy_names(text, found) == found  # tidy names stay as they are


def test_a_unit_after_more_of_the_street_name_is_part_of_the_address() -> None:
    card = "14 Crown Street Kishiev Squares\n Suite 321\n LONDON\n United Kingdom 75419"
    assert addresses(f"Ship to:\n{card}") == [card]  # was cut after "Suite", leaving 321 and the city


def test_a_sentence_full_stop_is_not_part_of_the_address() -> None:
    assert addresses("I live at 0645 Reyes Católicos 17 Apt. 209 Montehermoso Cáceres. It is nice.") == [
        "0645 Reyes Católicos 17 Apt. 209 Montehermoso Cáceres"
    ]
    assert addresses("Send it to 221 Baker St. now") == ["221 Baker St."]
    assert addresses("Send it to 12 Mt. Pleasant Road, Springfield.") == ["12 Mt. Pleasant Road, Springfield"]
    assert addresses("I live at 90 Whitchurch Road.") == ["90 Whitchurch Road"]  # a full street word's dot ends it

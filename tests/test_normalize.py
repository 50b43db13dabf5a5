"""Names, search keys, phones and e-mails (R21-R23): table tests and Hypothesis properties."""

from __future__ import annotations

import socket
import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workshops.families import normalize

# --- names (R21) ------------------------------------------------------------------------


@pytest.mark.parametrize("raw,clean", [
    ("  Élodie ", "Élodie"),
    ("E\u0301lodie", "Élodie"),
    ("Jean-Baptiste   de  la Tour", "Jean-Baptiste de la Tour"),
    ("N’Diaye", "N’Diaye"),
])
def test_names_are_cleaned_to_nfc_and_single_spaces(raw, clean):
    assert normalize.clean_name(raw) == clean
    assert normalize.name_problem(normalize.clean_name(raw)) is None


@pytest.mark.parametrize("name", ["ก่อ", "क़ादर", "محمّد"])
def test_names_may_carry_combining_marks(name):
    assert normalize.name_problem(normalize.clean_name(name)) is None


@pytest.mark.parametrize("name", [
    "Martin\u202e",  # bidi override
    "Mar\x00tin",  # control character
    "Mar\u200btin",  # zero-width space
    "x" * 101,
    "Martin2",
    "=HYPERLINK(\"x\")",
    "<script>",
])
def test_names_with_control_bidi_digits_or_symbols_are_refused(name):
    assert normalize.name_problem(normalize.clean_name(name)) is not None


@pytest.mark.parametrize("text,folded", [
    ("Élodie", "elodie"), ("NOËL", "noel"), ("N’Diaye", "n'diaye"), ("Çağla  Öztürk", "cagla ozturk"),
])
def test_fold_drops_case_accents_and_curly_apostrophes(text, folded):
    assert normalize.fold(text) == folded


# --- phones (R22) -----------------------------------------------------------------------


@pytest.mark.parametrize("raw,e164", [
    ("06 03 05 38 14 ", "+33603053814"),
    ("0603053814", "+33603053814"),
    ("06.03.05.38.14", "+33603053814"),
    ("+33 6 03 05 38 14", "+33603053814"),
    ("0033603053814", "+33603053814"),
    ("0549000000", "+33549000000"),
    ("0692123456", "+262692123456"),  # La Réunion
    ("0590271234", "+590590271234"),  # Guadeloupe
    ("0639012345", "+262639012345"),  # Mayotte
    ("+32 470 12 34 56", "+32470123456"),
    ("'0603053814", "+33603053814"),  # kept as text by a spreadsheet
])
def test_phones_are_stored_e164(raw, e164):
    for lenient in (False, True):
        result = normalize.normalize_phone(raw, lenient=lenient)
        assert (result.e164, result.repaired, result.problem) == (e164, False, None)


@pytest.mark.parametrize("raw,repaired", [
    ("0651764142 / 0782950623", "+33651764142"),
    ("745298688", "+33745298688"),
    ("06 51 76 41 42 ou 07 82 95 06 23", "+33651764142"),
])
def test_phones_refused_on_forms_are_repaired_and_flagged_on_import(raw, repaired):
    strict = normalize.normalize_phone(raw)
    assert strict.e164 is None and strict.problem
    lenient = normalize.normalize_phone(raw, lenient=True)
    assert (lenient.e164, lenient.repaired, lenient.problem) == (repaired, True, None)


@pytest.mark.parametrize("raw", ["06 03", "abc", "0000000000", "+999123456789", "06030538141234"])
def test_impossible_phones_are_refused_in_both_modes(raw):
    for lenient in (False, True):
        result = normalize.normalize_phone(raw, lenient=lenient)
        assert result.e164 is None and result.problem


def test_empty_phone_is_no_phone_and_no_problem():
    assert normalize.normalize_phone("  ") == normalize.PhoneResult(None)


@pytest.mark.parametrize("e164,shown", [
    ("+33603053814", "06 03 05 38 14"), ("+262692123456", "0692 12 34 56"), (None, ""),
])
def test_phones_are_shown_as_people_read_them(e164, shown):
    assert normalize.display_phone(e164) == shown


@settings(max_examples=500)
@given(st.from_regex(r"\A[1-9][0-9]{8}\Z"))
def test_french_numbers_are_shown_as_libphonenumber_shows_them(digits):
    """The quick path for +33 numbers gives libphonenumber's national format, spaces included."""
    e164 = "+33" + digits
    expected = phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize.display_phone(e164) == expected


# --- e-mails (R23) ----------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Any DNS lookup or socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("raw,normalized", [
    ("parent@exemple.fr", "parent@exemple.fr"),
    ("  Parent@Exemple.FR ", "Parent@exemple.fr"),
    ("élodie.martin@exemple.fr", "élodie.martin@exemple.fr"),
])
def test_emails_are_valid_without_any_network(no_network, raw, normalized):
    assert normalize.normalize_email(raw) == (normalized, None)


@pytest.mark.parametrize("raw", ["a@localhost", "a@b", "parent", "parent@", "@exemple.fr",
                                 "pa rent@exemple.fr", "parent@exemple..fr"])
def test_impossible_emails_are_refused(no_network, raw):
    email, problem = normalize.normalize_email(raw)
    assert email is None and problem


def test_empty_email_is_no_email_and_no_problem():
    assert normalize.normalize_email(" ") == (None, None)


# --- properties -------------------------------------------------------------------------

# Names as families write them: letters of many scripts and marks, separated by
# spaces, hyphens or apostrophes.
LETTERS = st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters="ǅǈǋǲ")
WORDS = st.text(LETTERS, min_size=1, max_size=12)
NAMES = st.builds(lambda words, seps: "".join(w + s for w, s in zip(words, seps, strict=False)).strip(" '’-"),
                  st.lists(WORDS, min_size=1, max_size=3),
                  st.lists(st.sampled_from([" ", "-", "'", "’"]), min_size=3, max_size=3)
                  ).filter(lambda name: name and len(name) <= normalize.MAX_NAME_LENGTH
                           # Marks left after NFC: see test_names_may_carry_combining_marks.
                           and not any(unicodedata.category(char).startswith("M")
                                       for char in unicodedata.normalize("NFC", name)))


# Text as typed on a keyboard: no compatibility characters (mathematical or
# styled letters such as "ℌ"), which test_fold_is_idempotent_on_styled_letters covers.
TYPED = st.text(st.characters(exclude_categories=("Cs",)).filter(
    lambda char: unicodedata.normalize("NFKD", char) == unicodedata.normalize("NFD", char)))


@settings(max_examples=300)
@given(TYPED)
def test_fold_is_idempotent(text):
    assert normalize.fold(normalize.fold(text)) == normalize.fold(text)


@pytest.mark.parametrize("text", ["ℌélène", "\U0001d790"])
def test_fold_is_idempotent_on_styled_letters(text):
    assert normalize.fold(normalize.fold(text)) == normalize.fold(text)


@settings(max_examples=300)
@given(st.text())
def test_fold_is_blind_to_nfc_or_nfd(text):
    nfc, nfd = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    assert normalize.fold(nfc) == normalize.fold(nfd)


def test_nfd_elodie_folds_like_nfc_elodie():
    assert normalize.fold("E\u0301lodie") == normalize.fold("Élodie") == "elodie"
    assert normalize.clean_name("E\u0301lodie") == "Élodie"


@settings(max_examples=200)
@given(NAMES)
def test_a_valid_name_round_trips_after_nfc(name):
    cleaned = normalize.clean_name(unicodedata.normalize("NFD", name))
    assert cleaned == normalize.clean_name(name)
    assert normalize.name_problem(cleaned) is None


@settings(max_examples=200)
@given(NAMES, st.lists(NAMES, max_size=3), st.data())
def test_any_three_letters_of_a_name_find_it_in_the_search_key(name, others, data):
    key = normalize.search_key([*others, name])
    folded = normalize.fold(name)
    if len(folded) < 3:
        assert folded in key
        return
    start = data.draw(st.integers(0, len(folded) - 3))
    part = folded[start:start + 3]
    # What a user types, folded the same way as the search does.
    assert normalize.fold(part) in key


@settings(max_examples=300)
@given(st.text())
def test_normalize_phone_never_raises(text):
    for lenient in (False, True):
        result = normalize.normalize_phone(text, lenient=lenient)
        assert result.e164 is None or (result.e164.startswith("+") and result.problem is None)

"""Names, search keys, phone numbers and e-mails as families give them, made clean and comparable."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

MAX_NAME_LENGTH = 100

# Besides letters and the marks that go with them (Thai, Hindi, Arabic harakat):
# spaces, apostrophes (straight and typographic), hyphens and dots, as in
# "N’Diaye", "Jean-Baptiste", "É. Yilmaz".
_NAME_PUNCTUATION = frozenset(" '’-.")
_BIDI_AND_CONTROL = {"Cc", "Cf"}

# France first, then the overseas departments and territories whose numbers
# look French (0692 Réunion, 0590 Guadeloupe...): libphonenumber's metadata
# knows which is which.
PHONE_REGIONS = ("FR", "RE", "YT", "GP", "MQ", "GF", "PM")
# Country codes of France and its overseas regions: shown in the national 0... form.
FRENCH_COUNTRY_CODES = {33, 262, 590, 594, 596, 508}


def clean_name(text: str) -> str:
    """NFC, single spaces, no surrounding spaces (input as typed, kept exactly)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def clean_text(text: str) -> str:
    """Free text (notes): NFC, no control characters but line breaks and tabs, no surrounding
    spaces. A NUL or an escape code typed or pasted by mistake is dropped, not stored."""
    text = unicodedata.normalize("NFC", text)
    return "".join(char for char in text if char in "\n\t" or unicodedata.category(char) != "Cc").strip()


def name_problem(text: str) -> str | None:
    """Why a cleaned name is refused, or None. Empty names are the caller's call."""
    if any(unicodedata.category(char) in _BIDI_AND_CONTROL for char in text):
        return str(_l("Remove the invisible or control characters."))
    if len(text) > MAX_NAME_LENGTH:
        return str(_l("Use at most %(max)s characters.", max=MAX_NAME_LENGTH))
    if text and not _is_name(text):
        return str(_l("Use letters, spaces, apostrophes, hyphens and dots only."))
    return None


def _is_name(text: str) -> bool:
    """Starts with a letter; then letters, their marks and name punctuation only."""
    if not unicodedata.category(text[0]).startswith("L"):
        return False
    return all(unicodedata.category(char)[0] in "LM" or char in _NAME_PUNCTUATION for char in text)


def fold(text: str) -> str:
    """Comparable form: no case, no accents, straight apostrophes, single spaces.

    "Élodie" and "elodie", "N’Diaye" and "n'diaye" fold alike.
    """
    # Decompose before and after casefolding: a styled capital ("ℌ") only
    # becomes a plain letter once decomposed, and must then be folded too.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join(stripped.replace("’", "'").replace("ʼ", "'").split())


def search_key(names: Iterable[str]) -> str:
    """The folded names of a household, joined so a substring search finds any part."""
    return " | ".join(fold(name) for name in names if name and name.strip())


@dataclass(frozen=True)
class PhoneResult:
    """A phone number as entered, made E.164 where possible.

    `repaired` says the number was changed beyond spacing (a second number
    dropped, a missing leading 0 added): imports flag such rows for review.
    """

    e164: str | None
    repaired: bool = False
    problem: str | None = None


def normalize_phone(raw: str | None, *, lenient: bool = False) -> PhoneResult:
    """Parse a French (or overseas) phone number to E.164.

    Strict (forms): one number, 10-digit national or international with + or
    00. Lenient (imports): keeps the first of several numbers and adds a
    missing leading 0, marking the result repaired.
    """
    # Spreadsheets often keep numbers as text behind a quote: '0601020304.
    text = (raw or "").strip().strip("'\"").strip()
    if not text:
        return PhoneResult(None)
    repaired = False
    candidates = [part for part in re.split(r"\s*(?:/|;|,|\bou\b|\bet\b)\s*", text) if part.strip()]
    if len(candidates) > 1:
        if not lenient:
            return PhoneResult(None, problem=str(_l("Enter one phone number only.")))
        text, repaired = candidates[0], True
    digits = re.sub(r"[\s.\-()]", "", text)
    if re.fullmatch(r"[1-9]\d{8}", digits):
        if not lenient:
            return PhoneResult(None, problem=str(_l("A French number has 10 digits, starting with 0.")))
        digits, repaired = "0" + digits, True
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not re.fullmatch(r"\+\d{6,15}|0\d{9}", digits):
        return PhoneResult(None, problem=str(_l("This is not a phone number.")))
    e164 = _parse(digits)
    if e164 is None:
        return PhoneResult(None, problem=str(_l("This phone number does not exist.")))
    return PhoneResult(e164, repaired=repaired)


def _parse(digits: str) -> str | None:
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if digits.startswith("+"):
            return None  # an international number names its own country
    return None


def display_phone(e164: str | None) -> str:
    """A stored number as people read it: "06 01 02 03 04", or international."""
    if not e164:
        return ""
    if len(e164) == 12 and e164.startswith("+33") and e164[3:].isdigit() and e164[3] not in "08":
        # Metropolitan France without parsing: "+33612345678" → "06 12 34 56 78" (08 numbers
        # read "0 800 …", so they go through libphonenumber).
        national = "0" + e164[3:]
        return " ".join(national[i:i + 2] for i in range(0, 10, 2))
    number = phonenumbers.parse(e164)
    if number.country_code in FRENCH_COUNTRY_CODES:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(raw: str | None) -> tuple[str | None, str | None]:
    """(normalised e-mail or None, problem or None). Syntax only: no DNS, ever."""
    text = (raw or "").strip()
    if not text:
        return None, None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None, str(_l("This e-mail address is not valid."))
    return result.normalized, None

"""Card facts derivable without a card number: Luhn, brand from the BIN, masking, last 4.

Nothing here stores or returns a full card number; masking functions exist so that nothing else
has to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

BRANDS = ("VISA", "MASTERCARD", "AMEX", "DISCOVER", "DINERS", "JCB", "PRIVATE", "UNKNOWN")

# Digit groups joined by single spaces or dashes (how people type card numbers); a card number is
# 13-19 digits of one group, or of consecutive whole groups of 3+ digits, so "2 4111 1111 1111 1111"
# still holds one.
_DIGIT_RUN = re.compile(r"(?<![\d])\d+(?:[ -]\d+)*(?![\d])")
_DIGIT_GROUP = re.compile(r"\d+")
_SHORTEST_CARD = 13  # digits
_MASKED = re.compile(r"^(?P<bin>\d{0,8})(?P<mask>[xX*•]+)(?P<last4>\d{4})$")


def luhn_valid(digits: str) -> bool:
    """The mod-10 check every card number satisfies (and most random digit runs do not)."""
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_from_digits(leading: str) -> str:
    """Card brand from the leading digits (BIN when known; one digit gives a coarser answer)."""
    return _brand_of_bin(leading[:6])  # only the first six decide; a BIN is no card number, so it may be kept


@lru_cache(maxsize=4096)
def _brand_of_bin(leading: str) -> str:
    """`brand_from_digits` of at most six digits, remembered: an export repeats a few thousand BINs."""
    if not leading or not leading[0].isdigit():
        return "UNKNOWN"
    two = int(leading[:2]) if len(leading) >= 2 else None
    three = int(leading[:3]) if len(leading) >= 3 else None
    four = int(leading[:4]) if len(leading) >= 4 else None
    six = int(leading[:6]) if len(leading) >= 6 else None
    if leading[0] == "4":
        return "VISA"
    if two is not None:
        if two in (34, 37):
            return "AMEX"
        if 51 <= two <= 55 or (six is not None and 222100 <= six <= 272099):
            return "MASTERCARD"
        if four == 6011 or two == 65 or (three is not None and 644 <= three <= 649):
            return "DISCOVER"
        if six is not None and 622126 <= six <= 622925:
            return "DISCOVER"
        if two in (36, 38, 39) or (three is not None and 300 <= three <= 305) or four == 3095:
            return "DINERS"
        if four is not None and 3528 <= four <= 3589:
            return "JCB"
        if two == 35:
            return "JCB"
    # One digit only: the conventional industry mapping; 3 is ambiguous (Amex/Diners/JCB).
    return {"2": "MASTERCARD", "5": "MASTERCARD", "6": "DISCOVER", "3": "AMEX"}.get(leading[0], "UNKNOWN")


@dataclass(frozen=True)
class MaskedCard:
    """A masked card number normalised: BIN (if shown), last 4, length and brand."""

    bin: str | None
    last4: str
    length: int
    brand: str

    @property
    def masked(self) -> str:
        shown = self.bin or ""
        return shown + "*" * (self.length - len(shown) - 4) + self.last4


def parse_masked_number(masked: str | None) -> MaskedCard | None:
    """Parse ``xxxxxxxxxxxx5439``, ``************5454`` or ``401200******5439``.

    Returns None for empty input; a full (unmasked) number is never accepted as "masked": it is
    reduced to BIN + last 4 so that callers cannot store it by accident.
    """
    if not masked:
        return None
    text = masked.strip().replace(" ", "")
    if text.isdigit() and len(text) >= 12:
        return MaskedCard(bin=text[:6], last4=text[-4:], length=len(text), brand=brand_from_digits(text[:6]))
    match = _MASKED.match(text)
    if not match:
        return None
    bin_digits = match.group("bin") or None
    return MaskedCard(
        bin=bin_digits,
        last4=match.group("last4"),
        length=len(text),
        brand=brand_from_digits(bin_digits) if bin_digits else "UNKNOWN",
    )


def mask_pan(pan: str, *, char: str = "x", keep_bin: bool = False) -> str:
    """Mask a card number: ``xxxxxxxxxxxx5439`` (or ``401200******5439`` with the BIN)."""
    digits = re.sub(r"\D", "", pan)
    head = digits[:6] if keep_bin else ""
    return head + char * (len(digits) - len(head) - 4) + digits[-4:]


def _card_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of each Luhn-valid 13-19 digit number made of whole digit groups."""
    spans = []
    for run in _DIGIT_RUN.finditer(text or ""):
        groups = [(run.start() + g.start(), run.start() + g.end(), g.group(0))
                  for g in _DIGIT_GROUP.finditer(run.group(0))]
        first = 0
        while first < len(groups):
            last = _longest_card_from(groups, first)
            if last is None:
                first += 1
                continue
            spans.append((groups[first][0], groups[last][1], "".join(g[2] for g in groups[first:last + 1])))
            first = last + 1
    return spans


def _longest_card_from(groups: list[tuple[int, int, str]], first: int) -> int | None:
    """Index of the last group of the longest card number starting at group `first`, if any."""
    found, digits = None, ""
    for index in range(first, len(groups)):
        if index > first and min(len(groups[first][2]), len(groups[index][2])) < 3:
            break  # typed card numbers group 3-6 digits; "2026-11-30 98..." is a date and a reference
        digits += groups[index][2]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and luhn_valid(digits) and not is_compact_timestamp(digits):
            found = index
    return found


def is_compact_timestamp(digits: str) -> bool:
    """A 14-digit YYYYMMDDHHMMSS stamp of 1900-2099 (OFX's DTSERVER, file names), which no card
    network issues: 14-digit cards (Diners) start with 30, 36, 38 or 39, never 19 or 20. About one
    such stamp in ten is Luhn-valid, so without this a statement file would hold "card numbers"."""
    if len(digits) != 14 or digits[:2] not in ("19", "20"):
        return False
    try:
        datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def find_card_numbers(text: str) -> list[str]:
    """Luhn-valid card-number-shaped digit runs in free text (separators removed)."""
    if not text or _too_few_digits(text):  # most texts: every document's fields pass through here
        return []
    return [digits for _, _, digits in _card_spans(text)]


def _too_few_digits(text: str) -> bool:
    """No card number can be in a text with fewer than 13 digits: most free-text fields (names,
    cities, invoice numbers) are, so they skip the span search. `str.isdigit` counts every `\\d`."""
    return len(text) < _SHORTEST_CARD or sum(map(str.isdigit, text)) < _SHORTEST_CARD


def mask_card_numbers_in_text(text: str | None) -> str | None:
    """Replace every Luhn-valid card number in free text by its masked form (last 4 kept)."""
    if not text or _too_few_digits(text):
        return text
    parts, position = [], 0
    for start, end, digits in _card_spans(text):
        parts += [text[position:start], mask_pan(digits, char="x")]
        position = end
    return "".join(parts) + text[position:]

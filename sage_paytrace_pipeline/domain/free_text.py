"""Free text from outside (cardholders, payers, banks) made safe to store and to open in a spreadsheet.

Two rules, applied where outside text enters the pipeline (PayTrace records, bank statements,
Sage documents) and where it leaves for a file a person may open (Visual Integrator CSV files):

- `without_controls`: bidirectional controls (U+202A-202E, U+2066-2069, U+200E/200F, U+061C) are
  removed, since they only reorder what a reader sees (``Invoice \\u202eexe.fdp`` shows as
  "Invoice pdf.exe") and can split a card number so masking misses it; C0 and C1 control characters,
  DEL and the Unicode line/paragraph separators become a space (escape sequences, NULs and line
  breaks have no place in a name, an e-mail address or a description). Zero-width joiners stay:
  emoji need them.
- `sheet_safe`: a cell a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, tab or carriage return, or their full-width forms) gets a leading apostrophe, as the OWASP
  CSV-injection guidance advises. Plain numbers (``-5.00``) are left alone: a spreadsheet reads
  them as the number they are, and amounts must stay numbers. Names like ``O'Brien`` never start
  with a formula character and are never touched.
"""

from __future__ import annotations

import re

from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
# C0, DEL, C1, and the line/paragraph separators some viewers break lines on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# ASCII formula starts (OWASP) and the full-width forms some spreadsheet locales read the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def without_controls(text: str) -> str:
    """Bidi controls removed, other control characters blanked (see the module docstring)."""
    if not text:
        return text
    return _CONTROL.sub(" ", _BIDI.sub("", text))


def storable_text(value: object, *, length: int | None = None) -> str:
    """Outside text as a descriptive field may hold it: controls gone, card numbers masked, runs of
    whitespace made one space, cut to `length`. Controls go first, so a card number split by
    invisible characters is still found and masked."""
    text = without_controls("" if value is None else str(value))
    text = " ".join((mask_card_numbers_in_text(text) or "").split())
    return text if length is None else text[:length]


def sheet_safe(text: str) -> str:
    """The text, with a leading apostrophe if a spreadsheet would otherwise run it as a formula."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text

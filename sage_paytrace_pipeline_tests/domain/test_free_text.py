"""Outside free text: bidi and control characters never stored, formula starts neutralised for
spreadsheets, ordinary names and numbers untouched."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.domain.free_text import (
    sheet_safe,
    storable_text,
    without_controls,
)


@pytest.mark.parametrize("hidden", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
                                    "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"])
def test_bidi_controls_are_removed(hidden):
    assert without_controls(f"Acme{hidden} Corp") == "Acme Corp"


def test_the_right_to_left_override_cannot_disguise_text():
    # shown as "Invoice exe.fdp" would be read as "Invoice pdf.exe"
    assert without_controls("Invoice \u202eexe.fdp") == "Invoice exe.fdp"


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"])
def test_c0_c1_controls_and_line_separators_become_spaces(control):
    assert without_controls(f"Bad{control}Name") == "Bad Name"


@pytest.mark.parametrize(
    "text", ["Zoë Ångström 山田太郎 🙂", "O'Brien", "👨\u200d👩\u200d👧 family", "Ærøskøbing Café"])
def test_ordinary_text_is_kept(text):
    assert without_controls(text) == text
    assert storable_text(text) == text


def test_storable_text_masks_a_card_number_split_by_invisible_characters():
    assert storable_text("4111\u202e1111\u200f1111\u20661111") == "xxxxxxxxxxxx1111"


def test_storable_text_collapses_whitespace_and_cuts():
    assert storable_text(" Multi\r\nLine\tName ", length=10) == "Multi Line"


@pytest.mark.parametrize(("text", "safe"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("+cmd", "'+cmd"),
    ("-2+3+cmd|' /C notepad'!Z0", "'-2+3+cmd|' /C notepad'!Z0"),
    ("\tTAB", "'\tTAB"),
    ("\rCR", "'\rCR"),
    ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign, read as "=" by some spreadsheets
])
def test_formula_starts_are_neutralised_with_a_leading_apostrophe(text, safe):
    assert sheet_safe(text) == safe


@pytest.mark.parametrize("text", ["O'Brien", "-5.00", "-1234.5", "+12", "Acme = good", "", "'quoted", "a-b"])
def test_names_and_plain_numbers_are_not_prefixed(text):
    assert sheet_safe(text) == text

import pytest

from sage_paytrace_pipeline.domain.cards import (
    brand_from_digits,
    find_card_numbers,
    luhn_valid,
    mask_card_numbers_in_text,
    mask_pan,
    parse_masked_number,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4012000098765439", True), ("5499740000000057", True), ("371449635392376", True),
     ("6011000993026909", True), ("4012000098765438", False), ("12345", False), ("", False)],
)
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("leading", "brand"),
    [("401200", "VISA"), ("4", "VISA"), ("549974", "MASTERCARD"), ("222100", "MASTERCARD"),
     ("371449", "AMEX"), ("341111", "AMEX"), ("601100", "DISCOVER"), ("650000", "DISCOVER"),
     ("360000", "DINERS"), ("353011", "JCB"), ("5", "MASTERCARD"), ("6", "DISCOVER"), ("9", "UNKNOWN"),
     ("", "UNKNOWN")],
)
def test_brand_from_leading_digits(leading, brand):
    assert brand_from_digits(leading) == brand


@pytest.mark.parametrize(
    ("masked", "bin_", "last4", "brand"),
    [("xxxxxxxxxxxx5439", None, "5439", "UNKNOWN"), ("************5454", None, "5454", "UNKNOWN"),
     ("401200******5439", "401200", "5439", "VISA"), ("371449*****2376", "371449", "2376", "AMEX")],
)
def test_parse_masked_number(masked, bin_, last4, brand):
    card = parse_masked_number(masked)
    assert (card.bin, card.last4, card.brand) == (bin_, last4, brand)


def test_a_full_number_given_as_masked_is_reduced_to_bin_and_last4():
    card = parse_masked_number("4012000098765439")
    assert card.masked == "401200******5439"


def test_masking():
    assert mask_pan("4012 0000 9876 5439") == "xxxxxxxxxxxx5439"
    assert mask_pan("4012000098765439", char="*", keep_bin=True) == "401200******5439"


def test_card_numbers_in_free_text_are_found_and_masked_but_invoice_numbers_are_not():
    text = "Pay inv 0001234 with 4012-0000-9876-5439, ref 1234567890123 (not luhn)"
    assert find_card_numbers(text) == ["4012000098765439"]
    masked = mask_card_numbers_in_text(text)
    assert "4012" not in masked and "xxxxxxxxxxxx5439" in masked and "0001234" in masked
    assert mask_card_numbers_in_text(None) is None


def test_a_compact_timestamp_is_no_card_number_but_a_diners_card_still_is():
    # OFX's <DTSERVER>20261208120000 is Luhn-valid: a statement file written that day held a "card number".
    assert luhn_valid("20261208120000")
    assert find_card_numbers("<DTSERVER>20261208120000[-8:PST]") == []
    assert find_card_numbers("Diners 36148900647913 paid") == ["36148900647913"]
    # Not a valid time of day, so it is not a stamp: still found.
    assert luhn_valid("20261299999908") and find_card_numbers("20261299999908") == ["20261299999908"]


def test_masking_skips_texts_too_short_for_a_card_yet_masks_the_shortest_card():
    from sage_paytrace_pipeline.domain.cards import luhn_valid, mask_card_numbers_in_text

    thirteen = next(f"401288888881{d}" for d in "0123456789" if luhn_valid(f"401288888881{d}"))
    assert mask_card_numbers_in_text(f"paid with {thirteen}") == f"paid with xxxxxxxxx{thirteen[-4:]}"
    assert mask_card_numbers_in_text(f"ref {thirteen[:12]} ok") == f"ref {thirteen[:12]} ok"  # 12 digits: no card
    assert mask_card_numbers_in_text("Anne Example, Springfield") == "Anne Example, Springfield"


def test_brand_is_decided_by_the_first_six_digits_whatever_the_length_given():
    """brand_from_digits remembers brands by their first six digits only (no card number is kept)."""
    for digits in ("4", "34", "3528", "622126", "6221259", "22210099", "27209912", "5", "9", "x1", "60110000"):
        assert brand_from_digits(digits) == brand_from_digits(digits[:6])
    assert brand_from_digits("60110000") == "DISCOVER" and brand_from_digits("2221009") == "MASTERCARD"

"""The columnar engine (DuckDB, RE2) must read plain invoice numbers exactly as references.py's
Python patterns do: same texts recognized, same digits, same padding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sage_paytrace_pipeline.domain.matching.engine import plain_invoice_numbers
from sage_paytrace_pipeline.domain.matching.references import _SIMPLE_RE, _padded

PIECES = ["inv", "INV", "Invoice", "invoice", "payment for", "Payment For", "#", "-", ":", ".", "/", " ", "  ",
          "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\xa0", "\u2003", "0", "00", "1234", "0001234",
          "12345678901", "9999999999", "٣", "x", "é", "\x00", "$", "12.34", "oice"]


def python_reading(source: str, text: str, width: int) -> tuple[bool, str]:
    found = _SIMPLE_RE[source].match(text) if text.isascii() else None
    if found is None:
        return False, ""
    return True, _padded([found[1]], width)[0] or ""


def random_texts(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(PIECES, int(rng.integers(0, 6)))) for _ in range(count)]


KNOWN = ["INV-0001234", " #12 ", "1234", "0000000", "inv 123456789012", "Payment for invoice 0001234", "inv0001234",
         "Inv # 1234", "invoice:\x1c77\x0b", "\u2003123", "12\xa0", "#0", "No. 77", "", "invoice 1234 and 1235"]


@pytest.mark.parametrize("width", [7, 10, 1])
@pytest.mark.parametrize("source", ["invoice_id", "description"])
def test_the_engine_reads_plain_numbers_as_the_python_patterns_do(source, width):
    texts = KNOWN + random_texts(20_000, seed=width)
    plain, padded = plain_invoice_numbers(source, np.array(texts, dtype=object), width)
    expected = [python_reading(source, text, width) for text in texts]
    assert list(zip(plain.tolist(), padded.tolist())) == expected
    assert 100 < sum(found for found, _ in expected) < len(texts)  # the random texts hit both sides


def test_no_texts_no_query():
    plain, padded = plain_invoice_numbers("invoice_id", np.zeros(0, dtype=object), 7)
    assert len(plain) == len(padded) == 0


def test_the_kept_connection_answers_each_call_for_its_own_texts_in_every_thread():
    texts = np.array(KNOWN, dtype=object)
    first = plain_invoice_numbers("invoice_id", texts, 7)
    other = plain_invoice_numbers("description", texts[::-1].copy(), 7)  # same connection, another table
    assert [list(part) for part in plain_invoice_numbers("invoice_id", texts, 7)] == [list(part) for part in first]
    with ThreadPoolExecutor(2) as pool:  # each thread its own connection
        answers = list(pool.map(lambda _: plain_invoice_numbers("description", texts[::-1].copy(), 7), range(4)))
    assert all([list(part) for part in answer] == [list(part) for part in other] for answer in answers)

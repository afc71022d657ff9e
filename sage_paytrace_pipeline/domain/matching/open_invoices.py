"""The payable open invoices, indexed once per run with integer keys and shared by both stages.

Customer resolution (who has invoice N open?) and invoice application (is N open for this
customer? which of its invoices has this amount?) both look up a million open invoices. The
strings are factorized once here; the look-ups are integer joins on the codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import (
    CodeLookup,
    digit_values,
    factorize_keeping_na,
    join_codes,
    run_starts,
    stable_code_order,
)
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy


@dataclass(frozen=True)
class OpenInvoiceIndex:
    """One entry per payable (division, customer_no, invoice_no), the arrays below by entry number.

    A number open under several payable types keeps one entry, IN before DM before FC (then the
    first row). Entries are in the order (type rank, row) of the chosen invoice; `first_row` is
    where the entry's (division, customer_no, invoice_no) first occurs in the input.
    Customers are keyed division code * len(customer_nos) + customer_no code. Invoice numbers are
    looked up by an integer key (`_number_keys`): their value when they are `width` digits, as every
    number a payer's reference becomes, else 10**width + their code among the other texts.
    """

    divisions: pd.Index
    customer_nos: pd.Index
    invoice_nos: pd.Index  # the text of each invoice code (not hashed: look-ups go through number_keys)
    number_keys: np.ndarray  # int64, distinct: the key of each invoice code (no hash table kept: 32 MiB at 1M)
    other_numbers: pd.Index  # the invoice numbers that are not `width` digits (usually none)
    width: int
    customer_key: np.ndarray  # per entry
    invoice_key: np.ndarray  # per entry: code in invoice_nos
    invoice_type: np.ndarray  # per entry: object
    balance_cents: np.ndarray  # per entry
    first_row: np.ndarray  # per entry

    def customer_key_of(self, division: pd.Series | np.ndarray, customer_no: pd.Series | np.ndarray) -> np.ndarray:
        """int64 key of each (division, customer_no); -1 where no payable invoice has it."""
        division, number = self.divisions.get_indexer(division), self.customer_nos.get_indexer(customer_no)
        return np.where((division >= 0) & (number >= 0), division * len(self.customer_nos) + number, -1)

    def invoice_key_of(self, invoice_no: pd.Series | np.ndarray) -> np.ndarray:
        """int64 code of each invoice number; -1 where no payable invoice has it."""
        key = _number_keys(np.asarray(invoice_no, dtype=object), self.width, self.other_numbers)
        return _positions_in(self.number_keys, key)

    def division(self, customer_key: np.ndarray) -> np.ndarray:
        return np.asarray(self.divisions, dtype=object)[customer_key // max(len(self.customer_nos), 1)]

    def customer_no(self, customer_key: np.ndarray) -> np.ndarray:
        return np.asarray(self.customer_nos, dtype=object)[customer_key % max(len(self.customer_nos), 1)]

    def invoice_number(self, entry: np.ndarray) -> np.ndarray:
        return np.asarray(self.invoice_nos, dtype=object)[self.invoice_key[entry]]

    def locate(self, references: pd.DataFrame) -> LocatedReferences:
        """Each invoice reference with the payable entries carrying its number (any customer)."""
        by_first_row = np.argsort(self.first_row, kind="stable")  # once per run: not kept with the index
        reference, at = join_codes(self.invoice_key_of(references["invoice_no"]), self.invoice_key[by_first_row])
        return LocatedReferences(reference, by_first_row[at])

    def holders(self, invoice_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in invoice_key, entry) for every payable entry of each number, in index order."""
        return join_codes(invoice_key, self.invoice_key)

    def invoices_of(self, customer_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in customer_key, entry) for every payable invoice of each customer."""
        return self._by_customer.join(customer_key)

    @cached_property
    def _by_customer(self) -> CodeLookup:  # two look-ups per run: the million keys are grouped once
        return CodeLookup.of(self.customer_key)


@dataclass(frozen=True)
class LocatedReferences:
    """(reference row, entry) pairs: references in frame order, each one's entries in the order their
    customers first appear among the open invoices. A reference without pairs is open for nobody.
    Both stages need it: match_day looks each number up once."""

    reference: np.ndarray
    entry: np.ndarray


def index_open_invoices(open_invoices: pd.DataFrame, policy: MatchingPolicy) -> OpenInvoiceIndex:
    type_code, type_names, rank = _type_ranks(open_invoices["invoice_type"], policy)
    payable = (rank >= 0) & (open_invoices["balance_cents"].to_numpy() > 0)
    rows = np.flatnonzero(payable)

    def payable_values(column: str) -> np.ndarray:
        values = open_invoices[column].to_numpy()
        # a customer or number without a payable invoice gets no code; usually every row is payable
        return values if payable.all() else values[rows]

    def payable_codes(column: str) -> tuple[np.ndarray, pd.Index]:
        codes, uniques = factorize_keeping_na(payable_values(column))
        return codes, pd.Index(uniques)

    width = policy.invoice_no_length
    numbers = np.asarray(payable_values("invoice_no"), dtype=object)
    keys = digit_values(numbers, width)
    others = np.flatnonzero(keys < 0)
    other_codes, other_numbers = factorize_keeping_na(numbers[others]) if len(others) else (others, [])
    keys[others] = 10**width + other_codes
    return _assembled(payable_codes("division"), payable_codes("customer_no"), numbers, keys,
                      pd.Index(other_numbers, dtype=object), width=width, rank=rank[rows],
                      invoice_type=np.asarray(type_names, dtype=object)[type_code[rows]],
                      balance_cents=open_invoices["balance_cents"].to_numpy("int64")[rows])


def _type_ranks(invoice_type: pd.Series, policy: MatchingPolicy) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """(type code, type names, payable rank) of each row: IN before DM before FC, -1 for another type."""
    rank_of_type = {name: rank for rank, name in enumerate(policy.applicable_invoice_types)}
    type_code, type_names = pd.factorize(invoice_type)
    # a missing type (code -1) takes the trailing -1 too: not payable
    rank = np.array([rank_of_type.get(name, -1) for name in type_names] + [-1], dtype="int64")[type_code]
    return type_code, type_names, rank


def _assembled(division: tuple[np.ndarray, pd.Index], customer_no: tuple[np.ndarray, pd.Index],
               numbers: np.ndarray, keys: np.ndarray, other_numbers: pd.Index, *, width: int, rank: np.ndarray,
               invoice_type: np.ndarray, balance_cents: np.ndarray, keys_distinct: bool = False) -> OpenInvoiceIndex:
    """The index of the payable rows, given per payable row: the (codes, uniques) of division and
    customer_no in order of first appearance, the invoice number and its integer key (`keys_distinct`:
    known to be each number once, so not hashed to find out)."""
    (division_code, divisions), (number, customer_nos) = division, customer_no
    # codes in order of first appearance, as factorizing the texts gives them; usually each number once
    invoice, number_keys = (np.arange(len(keys)), keys) if keys_distinct else pd.factorize(keys)
    unique = len(number_keys) == len(keys)
    invoice_nos = pd.Index(numbers if unique else numbers[_first_positions(invoice, len(number_keys))], dtype=object)
    customer_key = division_code.astype("int64") * max(len(customer_nos), 1) + number
    chosen, first_row = _one_entry_per_invoice(customer_key * max(len(invoice_nos), 1) + invoice, rank,
                                               numbers_unique=unique)
    return OpenInvoiceIndex(
        divisions=divisions, customer_nos=customer_nos, invoice_nos=invoice_nos,
        number_keys=np.asarray(number_keys, dtype="int64"), other_numbers=other_numbers, width=width,
        customer_key=customer_key[chosen], invoice_key=invoice[chosen].astype("int64"),
        invoice_type=invoice_type[chosen], balance_cents=balance_cents[chosen], first_row=first_row)


class OpenInvoiceRows:
    """A frame of open invoices with its texts factorized once, for the indexes of many balances.

    `index(balance_cents)` is `index_open_invoices(frame with those balances)`, array for array, at the
    cost of integer work: a range's days each match against the balances the days before leave,
    and re-hashing several hundred thousand invoice texts a day cost more than matching the day.
    Each text column's codes are renumbered in order of first appearance among the payable rows,
    which is what factorizing the payable rows' texts gives. Only for frames without missing
    division, customer_no or invoice_no (`indexable`), whose codes factorizing keeps no NA for.
    """

    def __init__(self, open_invoices: pd.DataFrame, policy: MatchingPolicy):
        self.width = policy.invoice_no_length
        type_code, type_names, self.rank = _type_ranks(open_invoices["invoice_type"], policy)
        self.invoice_type = np.asarray(type_names, dtype=object)[type_code]
        self.division = pd.factorize(open_invoices["division"].to_numpy())
        self.customer_no = pd.factorize(open_invoices["customer_no"].to_numpy())
        self.numbers = np.asarray(open_invoices["invoice_no"].to_numpy(), dtype=object)
        self.digit_keys = digit_values(self.numbers, self.width)
        # the numbers that are not `width` digits (usually none), coded among themselves
        self.others = np.flatnonzero(self.digit_keys < 0)
        self.other = pd.factorize(self.numbers[self.others])
        keys = self.digit_keys.copy()
        keys[self.others] = 10**self.width + self.other[0]
        self.keys_distinct = pd.Index(keys).is_unique  # then so are any rows' (the usual book: no factorizing)

    @staticmethod
    def indexable(open_invoices: pd.DataFrame) -> bool:
        return not open_invoices[["division", "customer_no", "invoice_no"]].isna().to_numpy().any()

    def index(self, balance_cents: np.ndarray) -> OpenInvoiceIndex:
        rows = np.flatnonzero((self.rank >= 0) & (balance_cents > 0))
        keys = self.digit_keys[rows]
        other_at = np.flatnonzero(keys < 0)
        other_code, other_numbers = _renumbered(self.other, np.searchsorted(self.others, rows[other_at]))
        keys[other_at] = 10**self.width + other_code
        return _assembled(_renumbered(self.division, rows), _renumbered(self.customer_no, rows), self.numbers[rows],
                          keys, pd.Index(other_numbers, dtype=object), width=self.width, rank=self.rank[rows],
                          invoice_type=self.invoice_type[rows], balance_cents=balance_cents[rows],
                          keys_distinct=self.keys_distinct)


def _renumbered(factorized: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """(codes, uniques) of the rows' values as factorizing those rows alone gives them: codes by first
    appearance among the rows."""
    codes, uniques = factorized
    subset = codes[rows]
    first = np.full(len(uniques), len(subset), dtype="int64")
    first[subset[::-1]] = np.arange(len(subset) - 1, -1, -1)
    appearing = np.zeros(len(subset) + 1, dtype=bool)
    appearing[first] = True
    in_order = subset[np.flatnonzero(appearing[:-1])]  # each code present, by its first row
    renumbered = np.empty(len(uniques), dtype="int64")
    renumbered[in_order] = np.arange(len(in_order))
    return renumbered[subset], pd.Index(uniques[in_order])


def _number_keys(numbers: np.ndarray, width: int, other_numbers: pd.Index) -> np.ndarray:
    """The int64 key of each invoice number: its value when it is `width` ASCII digits (`digit_values`),
    else 10**width + its position in `other_numbers` (-2 when it is not there either: no invoice's key)."""
    key = digit_values(numbers, width)
    other = np.flatnonzero(key < 0)
    if len(other):
        at = other_numbers.get_indexer(numbers[other]) if len(other_numbers) else np.full(len(other), -1)
        key[other] = np.where(at >= 0, 10**width + at, -2)
    return key


def _positions_in(distinct: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted value among the distinct values, -1 where it is not there. The hash
    table lives for the call only (kept with the index it would hold 32 MiB at a million invoices);
    a few wanted values are hashed instead of the million."""
    if len(wanted) * 4 < len(distinct):
        asked, which = np.unique(wanted, return_inverse=True)
        found = pd.Index(asked).get_indexer(distinct)
        at = np.full(len(asked), -1, dtype="int64")
        hit = np.flatnonzero(found >= 0)
        at[found[hit]] = hit
        return at[which.reshape(-1)]
    return pd.Index(distinct, copy=False).get_indexer(wanted).astype("int64")


def _first_positions(codes: np.ndarray, count: int) -> np.ndarray:
    """Where each code 0..count-1 first occurs."""
    first = np.empty(count, dtype="int64")
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _one_entry_per_invoice(key: np.ndarray, rank: np.ndarray, numbers_unique: bool) -> tuple[np.ndarray, np.ndarray]:
    """(row kept per (customer, number) key, the key's first row), in the order (type rank, kept row).

    Per key the best-ranked, then earliest row is kept.
    """
    position = np.arange(len(key))
    if numbers_unique:  # the usual case, every invoice number once: no key to collapse
        chosen = first_row = position
    else:
        by_key = np.lexsort((position, rank, key))
        starts = run_starts(key[by_key])
        chosen = by_key[starts]
        first_row = np.minimum.reduceat(by_key, starts) if len(starts) else position
    # by rank, then kept row: chosen is in row order when numbers are unique, a stable radix sort by rank does
    order = stable_code_order(rank) if numbers_unique else np.lexsort((chosen, rank[chosen]))
    return chosen[order], first_row[order]

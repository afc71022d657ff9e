"""Which invoices a resolved payment pays, and how much each: running balances, never above one.

Referenced invoices (only the customer's own, open, payable types) in the order the payer wrote
them; without a reference, the customer's only open invoice of exactly the payment's amount.
Payments are taken in (created_at, transaction_id) order; an invoice closed by an earlier payment
of the same run takes nothing more. A remainder becomes a prepayment and an `overpayment` warning.
A payment that names an invoice it cannot pay is held whole (an exception, no applications):
posting the rest would leave the operator to unpick a receipt.

Payments are positions in processing order and invoices are entries of the open-invoice index;
(payment, invoice) pairs stay integer arrays until the output is built. Applications leave here
coded (CODED_APPLICATION_COLUMNS, by transaction id); `render_applications` writes their text in
that final order, for the rows the caller keeps: a million strings made in one order and then
permuted cost more than making them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import (
    first_in_run,
    join_codes,
    join_values,
    position_in_run,
    run_starts,
)
from sage_paytrace_pipeline.domain.matching.customers import CustomerLinks
from sage_paytrace_pipeline.domain.matching.exceptions import (
    concat_exceptions,
    exception_rows,
)
from sage_paytrace_pipeline.domain.matching.open_invoices import (
    LocatedReferences,
    OpenInvoiceIndex,
    index_open_invoices,
)
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references
from sage_paytrace_pipeline.domain.matching.text import (
    Cents,
    explained_in_chunks,
    join_runs,
    render,
    where_text,
)
from sage_paytrace_pipeline.domain.text import choose

APPLICATION_COLUMNS = ("transaction_id", "division", "customer_no", "invoice_no", "invoice_type", "amount_cents",
                       "method", "score", "explanation")
# What match_day returns instead of the explanation (`render_applications` makes it): explanation_code,
# the template (_INVOICE_EXPLANATIONS by method code, then the two prepayment reasons); left_open_cents,
# what an invoice application leaves open of the balance it found; payment_cents, the payment's amount.
CODED_APPLICATION_COLUMNS = (*APPLICATION_COLUMNS[:-1], "explanation_code", "left_open_cents", "payment_cents")
_DTYPES = {"transaction_id": "int64", "amount_cents": "int64", "score": "float64", "explanation_code": "int8",
           "left_open_cents": "int64", "payment_cents": "int64"}  # the other columns: object
_KEY = ["division", "customer_no"]
# methods of invoice applications, by code
_METHODS = np.array(["invoice_id_exact", "description_reference", "customer_amount_unique"], dtype=object)
_METHOD_OF_SOURCE = {"invoice_id": 0, "description": 1}
_SCORES = np.array([100.0, 95.0, 90.0])
_HOW = np.array(["named in invoice_id", "named in the description",
                 "is the customer's only open invoice of this amount"], dtype=object)
_BY_AMOUNT = 2
_OVERPAYMENT_REMAINDER, _NO_INVOICE = 3, 4  # explanation codes of prepayments
_WHY = {_OVERPAYMENT_REMAINDER: "overpayment remainder", _NO_INVOICE: "no invoice identified"}


def apply_payments(
    payments: pd.DataFrame,
    customer_links: pd.DataFrame,
    open_invoices: pd.DataFrame,
    *,
    policy: MatchingPolicy | None = None,
    references: pd.DataFrame | None = None,
    index: OpenInvoiceIndex | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(applications, exceptions); each payment's applications sum exactly to its amount, or it has none."""
    policy = policy or MatchingPolicy()
    index = index or index_open_invoices(open_invoices, policy)
    if references is None:
        references = extract_invoice_references(
            payments[payments["transaction_id"].isin(customer_links["transaction_id"])], policy)
    applications, problems = apply(payments, CustomerLinks.of(customer_links, index), policy=policy,
                                   references=references, located=index.locate(references), index=index)
    return render_applications(applications), problems


def render_applications(coded: pd.DataFrame) -> pd.DataFrame:
    """The applications frame (APPLICATION_COLUMNS) of coded applications (CODED_APPLICATION_COLUMNS):
    the explanation made from its parts, for the rows given only."""
    explanation = explained_in_chunks(coded, _EXPLANATION_PARTS, _explanations)
    columns = {name: coded[name] for name in APPLICATION_COLUMNS[:-1]}
    return pd.DataFrame({**columns, "explanation": explanation}, index=coded.index, copy=False)


_EXPLANATION_PARTS = ("explanation_code", "left_open_cents", "amount_cents", "payment_cents", "invoice_no", "division",
                      "customer_no")


def _explanations(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The explanation of each row of the coded parts."""
    code = parts["explanation_code"]
    explanation = np.empty(len(code), dtype=object)
    invoice = np.flatnonzero(code < len(_HOW))
    if len(invoice):
        left_open = parts["left_open_cents"][invoice]
        partial = left_open > 0
        explanation[invoice] = render(
            "invoice {invoice_no} of {division}-{customer_no} {how}: {applied}{partial}",
            **_columns(parts, invoice, "invoice_no", "division", "customer_no"), how=_HOW[code[invoice]],
            applied=Cents(parts["amount_cents"][invoice]),
            partial=where_text(partial, render(" (partial payment, {left_open} stays open)",
                                               left_open=Cents(left_open[partial]))))
    for why_code, why in _WHY.items():
        rows = np.flatnonzero(code == why_code)
        if len(rows):
            explanation[rows] = render(
                "{remainder} of {amount} left as prepayment {invoice_no} on {division}-{customer_no} ({why})",
                remainder=Cents(parts["amount_cents"][rows]), amount=Cents(parts["payment_cents"][rows]),
                **_columns(parts, rows, "invoice_no", "division", "customer_no"), why=why)
    return explanation


def _columns(parts: dict[str, np.ndarray], rows: np.ndarray, *names: str) -> dict[str, np.ndarray]:
    return {name: parts[name][rows] for name in names}


def apply(payments: pd.DataFrame, links: CustomerLinks, *, policy: MatchingPolicy, references: pd.DataFrame,
          located: LocatedReferences, index: OpenInvoiceIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """apply_payments on prepared inputs: the links with their keys and labels, the references located."""
    resolved = _Resolved.of(payments, links)
    refs = _References.of(references, resolved)
    own_ref, own_entry, unpayable = _own_invoices(refs, located, resolved, index)
    del references, located  # what applying needs of them is taken (the caller hands them over)
    problems = [_unpayable_references(refs, unpayable, resolved, index)]
    held = np.zeros(len(resolved), dtype=bool)
    held[refs.payer[unpayable]] = True  # a payment naming an invoice it cannot pay is held whole
    by_reference = ~held[refs.payer[own_ref]]
    unreferenced = np.flatnonzero(np.bincount(refs.payer, minlength=len(resolved)) == 0)
    amount_payer, amount_entry, unapplied, candidates = _unique_amount_matches(unreferenced, resolved, index, policy)
    problems.append(_unapplied(unapplied, candidates, resolved, policy, index))

    pairs = _Pairs.combine(refs, own_ref[by_reference], own_entry[by_reference], amount_payer=amount_payer,
                           amount_entry=amount_entry, index=index)
    del own_ref, own_entry, unpayable, held, by_reference, unreferenced, amount_payer, amount_entry, candidates
    applied = _allocate(resolved.amount_cents[pairs.payer], index.balance_cents[pairs.entry],
                        resolved.transaction_id[pairs.payer], pairs.entry)
    remainders = _Remainders.of(pairs, applied, resolved, refs)
    problems.append(_overpayments(remainders, resolved))
    pieces = [_InvoiceApplications(pairs, applied, resolved, index),
              _Prepayments(remainders.payer, remainders.remainder_cents, remainders.first_invoice, resolved, policy,
                           _OVERPAYMENT_REMAINDER)]
    if policy.post_unapplied_as_prepayment:
        no_invoice = np.full(len(unapplied), None, dtype=object)
        pieces.append(_Prepayments(unapplied, resolved.amount_cents[unapplied], no_invoice, resolved, policy,
                                   _NO_INVOICE))
    return _applications(pieces, resolved), concat_exceptions(problems)


def allocate(pairs: pd.DataFrame) -> np.ndarray:
    """Cents each (payment, invoice) pair takes, pairs sorted in processing order (payment, then position).

    Sequentially, a pair takes min(what its payment still has, what its invoice still owes). That is
    a triangular system: solved here by whole-array (Jacobi) sweeps, each exact for one more link of
    the longest chain of payments sharing invoices, so it stops after a few sweeps in practice.
    """
    return _allocate(pairs["amount_cents"].to_numpy("int64"), pairs["balance_cents"].to_numpy("int64"),
                     pairs["transaction_id"].to_numpy(), pairs["invoice_id"].to_numpy())


def _allocate(amount: np.ndarray, balance: np.ndarray, payment: np.ndarray, invoice: np.ndarray) -> np.ndarray:
    if len(amount) == 0:
        return np.zeros(0, dtype="int64")
    # a pair alone in its payment and alone on its invoice takes what the sweeps would give it at once,
    # min(amount, balance) within 0..; only pairs sharing a payment or an invoice need the sweeps
    by_invoice = np.argsort(invoice, kind="stable")
    shared = np.zeros(len(amount), dtype=bool)
    shared[by_invoice] = _in_group_of_several(invoice[by_invoice])
    shared |= _in_group_of_several(payment)
    applied = np.clip(amount, 0, np.maximum(balance, 0))
    if shared.any():
        rows = np.flatnonzero(shared)  # still in processing order, an invoice's pairs in their order
        applied[rows] = _sweep(amount[rows], balance[rows], payment[rows], invoice[rows])
    return applied


def _in_group_of_several(sorted_keys: np.ndarray) -> np.ndarray:
    """True where the element's (contiguous) group has more than one element."""
    several = np.zeros(len(sorted_keys), dtype=bool)
    same = sorted_keys[1:] == sorted_keys[:-1]
    several[1:] |= same
    several[:-1] |= same
    return several


def _sweep(amount: np.ndarray, balance: np.ndarray, payment: np.ndarray, invoice: np.ndarray) -> np.ndarray:
    payment_start = _group_starts(payment)
    by_invoice = np.argsort(invoice, kind="stable")  # by invoice, then processing order
    invoice_start = _group_starts(invoice[by_invoice])
    available = balance.copy()
    for _ in range(len(amount) + 1):
        before = _cumsum_before(available, payment_start)
        applied = np.clip(amount - before, 0, available)
        taken_before = np.empty_like(applied)
        taken_before[by_invoice] = _cumsum_before(applied[by_invoice], invoice_start)
        still_open = np.maximum(balance - taken_before, 0)
        if np.array_equal(still_open, available):
            return applied
        available = still_open
    raise AssertionError("allocation did not converge")  # impossible: each sweep fixes one more pair


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """For each element, the index where its (contiguous) group starts."""
    new_group = np.ones(len(sorted_keys), dtype=bool)
    new_group[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return np.maximum.accumulate(np.where(new_group, np.arange(len(sorted_keys)), 0))


def _cumsum_before(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of the earlier values of the same group (exclusive cumulative sum)."""
    total = np.cumsum(values) - values
    return total - total[starts]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Resolved:
    """The resolved payments in processing order (created_at, transaction_id): position = turn.

    Their customers' strings stay with the links and are read for output rows only.
    """

    transaction_id: np.ndarray
    amount_cents: np.ndarray
    customer_key: np.ndarray  # in the open-invoice index, -1 if the customer has no payable invoice
    link: np.ndarray  # row in the links
    links: CustomerLinks

    def __len__(self) -> int:
        return len(self.transaction_id)

    @classmethod
    def of(cls, payments: pd.DataFrame, links: CustomerLinks) -> _Resolved:
        link, payment = join_values(links.frame["transaction_id"].to_numpy(), payments["transaction_id"].to_numpy())
        transaction_id = links.frame["transaction_id"].to_numpy()[link]
        turn = _turns(transaction_id, payments["created_at"].take(payment) if "created_at" in payments else None)
        link, payment = link[turn], payment[turn]
        return cls(transaction_id[turn], payments["amount_cents"].to_numpy("int64")[payment],
                   np.asarray(links.customer_key, dtype="int64")[link], link, links)

    def customer(self, payer: np.ndarray) -> dict[str, np.ndarray]:
        """division and customer_no of the payers (output columns)."""
        link = self.link[payer]
        return {column: self.links.frame[column].to_numpy()[link] for column in _KEY}

    def label(self, payer: np.ndarray) -> np.ndarray:
        """"division-customer_no" of the payers (for messages)."""
        return self.links.label(self.link[payer])


def _turns(transaction_id: np.ndarray, created_at: pd.Series | None) -> np.ndarray:
    """Processing order: by created_at (missing last), then transaction_id; stable."""
    if created_at is None:
        return np.argsort(transaction_id, kind="stable")
    if isinstance(created_at.dtype, pd.DatetimeTZDtype) or created_at.dtype.kind == "M":
        time = created_at.array.asi8  # int64 nanoseconds, NaT the smallest
        missing = created_at.isna().to_numpy()
        if not missing.any():  # the usual day: one sort key fewer
            return np.lexsort((transaction_id, time))
        return np.lexsort((transaction_id, time, missing))
    turns = pd.DataFrame({"created_at": created_at.to_numpy(), "transaction_id": transaction_id})
    return turns.sort_values(["created_at", "transaction_id"], kind="stable", na_position="last").index.to_numpy()


@dataclass(frozen=True)
class _References:
    """The invoice references of the resolved payments, in the order of the references frame."""

    row: np.ndarray  # in the references frame
    payer: np.ndarray  # position in _Resolved
    invoice_no: np.ndarray
    method: np.ndarray  # code in _METHODS, from the field the number was found in
    position: np.ndarray

    @classmethod
    def of(cls, references: pd.DataFrame, resolved: _Resolved) -> _References:
        row, payer = join_values(references["transaction_id"].to_numpy(), resolved.transaction_id)
        return cls(row, payer, references["invoice_no"].to_numpy()[row],
                   references["source"].map(_METHOD_OF_SOURCE).to_numpy()[row], references["position"].to_numpy()[row])


def _own_invoices(refs: _References, located: LocatedReferences, resolved: _Resolved, index: OpenInvoiceIndex):
    """(reference, entry) of the references open for their payment's own customer; the other references."""
    reference, pair = join_codes(refs.row, located.reference)
    entry = located.entry[pair]
    own = index.customer_key[entry] == resolved.customer_key[refs.payer[reference]]
    others = np.ones(len(refs.row), dtype=bool)
    others[reference[own]] = False
    return reference[own], entry[own], np.flatnonzero(others)


def _unique_amount_matches(unreferenced: np.ndarray, resolved: _Resolved, index: OpenInvoiceIndex,
                           policy: MatchingPolicy):
    """(payer, entry) for payments with exactly one same-amount open invoice; the other payments, with
    their number of same-amount invoices."""
    payer, entry = index.invoices_of(resolved.customer_key[unreferenced])
    payer = unreferenced[payer]
    near = np.abs(index.balance_cents[entry] - resolved.amount_cents[payer]) <= policy.amount_tolerance_cents
    payer, entry = payer[near], entry[near]
    count = np.bincount(payer, minlength=len(resolved))
    chosen = count[payer] == 1
    unapplied = unreferenced[count[unreferenced] != 1]
    return payer[chosen], entry[chosen], unapplied, count[unapplied]


@dataclass(frozen=True)
class _Pairs:
    """(payment, invoice) pairs in processing order: payment, then the position the invoice was named at."""

    payer: np.ndarray
    entry: np.ndarray
    method: np.ndarray
    reference: np.ndarray  # in _References, -1 for an exact-amount match
    refs: _References
    index: OpenInvoiceIndex

    @classmethod
    def combine(cls, refs: _References, reference: np.ndarray, entry: np.ndarray, *, amount_payer: np.ndarray,
                amount_entry: np.ndarray, index: OpenInvoiceIndex) -> _Pairs:
        payer = np.concatenate([refs.payer[reference], amount_payer])
        position = np.concatenate([refs.position[reference], np.zeros(len(amount_payer), dtype="int64")])
        # one stable int64 sort on (payer, position) packed in a key: several times cheaper than lexsort
        order = np.argsort(payer * (int(position.max(initial=0)) + 1) + position, kind="stable")
        return cls(payer[order], np.concatenate([entry, amount_entry])[order],
                   np.concatenate([refs.method[reference], np.full(len(amount_payer), _BY_AMOUNT)])[order],
                   np.concatenate([reference, np.full(len(amount_payer), -1)])[order], refs, index)

    def invoice_no(self, pair: np.ndarray) -> np.ndarray:
        """As the payer wrote it (the same number as the index's), or the index's for an amount match."""
        reference = self.reference[pair]
        named = reference >= 0
        number = np.empty(len(pair), dtype=object)
        number[named] = self.refs.invoice_no[reference[named]]
        number[~named] = self.index.invoice_number(self.entry[pair[~named]])
        return number


@dataclass(frozen=True)
class _Remainders:
    """Payments with pairs whose invoices could not take the whole amount, in processing order."""

    payer: np.ndarray
    taken_cents: np.ndarray
    remainder_cents: np.ndarray
    first_invoice: np.ndarray  # the first number the payment named (None: matched by amount)
    invoices: list[str]  # the invoices it paid, in order

    @classmethod
    def of(cls, pairs: _Pairs, applied: np.ndarray, resolved: _Resolved, refs: _References) -> _Remainders:
        starts = run_starts(pairs.payer)
        paying = pairs.payer[starts]
        taken = np.add.reduceat(applied, starts) if len(starts) else np.zeros(0, dtype="int64")
        remainder = resolved.amount_cents[paying] - taken
        out = remainder > 0
        has_remainder = np.zeros(len(resolved), dtype=bool)
        has_remainder[paying[out]] = True
        listed = np.flatnonzero(has_remainder[pairs.payer])
        return cls(paying[out], taken[out], remainder[out], _first_named(refs, paying[out], len(resolved)),
                   join_runs(pairs.payer[listed], pairs.invoice_no(listed)))


def _first_named(refs: _References, payer: np.ndarray, payers: int) -> np.ndarray:
    """The first invoice number each of the payers named (lowest position); None if it named none."""
    wanted = np.zeros(payers, dtype=bool)
    wanted[payer] = True
    mine = np.flatnonzero(wanted[refs.payer])
    mine = mine[np.lexsort((refs.position[mine], refs.payer[mine]))]
    first = mine[first_in_run(refs.payer[mine])]
    number = np.full(payers, None, dtype=object)
    number[refs.payer[first]] = refs.invoice_no[first]
    return number[payer]


# ---------------------------------------------------------------- outputs


def _applications(pieces: list, resolved: _Resolved) -> pd.DataFrame:
    """The pieces' rows as one frame by transaction_id (stable: a piece's rows, then the next piece's)."""
    sizes = [len(piece.transaction_id) for piece in pieces]
    order = _order_by_link(pieces, resolved)
    if order is None:
        order = np.argsort(np.concatenate([piece.transaction_id for piece in pieces]), kind="stable")
    which = np.repeat(np.arange(len(pieces)), sizes)[order]
    within = (np.arange(len(order)) - np.repeat(np.cumsum([0, *sizes[:-1]]), sizes))[order]
    rows = len(order)
    placed = [(at, within[at]) for at in (np.flatnonzero(which == number) for number in range(len(pieces)))]
    del order, which, within  # the output's columns come next: only each piece's rows stay
    columns = {name: np.empty(rows, dtype=_DTYPES.get(name, object)) for name in CODED_APPLICATION_COLUMNS}
    for piece, (at, piece_rows) in zip(pieces, placed):
        for name, values in piece.columns(piece_rows):
            columns[name][at] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False)


def _order_by_link(pieces: list, resolved: _Resolved) -> np.ndarray | None:
    """The pieces' rows (concatenated) in transaction id order, stable, counted out instead of sorted.

    Usually the links are in transaction id order, one row per id and per payer (match_day makes them
    so): a payer's link row is then its rank. None when they are not.
    """
    tid = resolved.links.frame["transaction_id"].to_numpy()
    if (len(tid) > 1 and not (tid[1:] > tid[:-1]).all()) or np.bincount(resolved.link).max(initial=0) > 1:
        return None
    link = [resolved.link[piece.payer] for piece in pieces]  # a payer's rows are consecutive in its piece
    count = [np.bincount(rows, minlength=len(tid)) for rows in link]
    start = np.cumsum(sum(count)) - sum(count)  # where each link's rows begin
    order = np.empty(sum(len(rows) for rows in link), dtype="int64")
    offset = 0
    for rows, counted in zip(link, count):
        order[start[rows] + position_in_run(rows)] = np.arange(offset, offset + len(rows))
        start += counted  # the next piece's rows of a link come after this one's
        offset += len(rows)
    return order


@dataclass(frozen=True)
class _InvoiceApplications:
    """The pairs that take something: an application to an open invoice each."""

    pairs: _Pairs
    applied: np.ndarray  # per pair
    resolved: _Resolved
    index: OpenInvoiceIndex

    @cached_property
    def taken(self) -> np.ndarray:
        return np.flatnonzero(self.applied > 0)

    @property
    def payer(self) -> np.ndarray:
        return self.pairs.payer[self.taken]

    @property
    def transaction_id(self) -> np.ndarray:
        return self.resolved.transaction_id[self.payer]

    def columns(self, rows: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
        """(name, values) of each output column, made one at a time: at a million rows a column is
        written into the output and dropped before the next is made."""
        pair = self.taken[rows]
        payer = self.pairs.payer[pair]
        yield "transaction_id", self.resolved.transaction_id[payer]
        yield from self.resolved.customer(payer).items()
        yield "payment_cents", self.resolved.amount_cents[payer]
        del payer
        yield "invoice_no", self.pairs.invoice_no(pair)
        entry = self.pairs.entry[pair]
        yield "invoice_type", self.index.invoice_type[entry]
        applied = self.applied[pair]
        yield "amount_cents", applied
        yield "left_open_cents", self.index.balance_cents[entry] - applied  # of what this payment found open
        del entry, applied
        method = self.pairs.method[pair]
        yield "method", _METHODS[method]
        yield "score", _SCORES[method]
        yield "explanation_code", method


@dataclass(frozen=True)
class _Prepayments:
    """What a payment leaves after its invoices, posted as a prepayment: on the first invoice it named,
    else on P + the last six digits of its transaction id."""

    payer: np.ndarray
    remainder_cents: np.ndarray
    first_invoice: np.ndarray  # None: no invoice named
    resolved: _Resolved
    policy: MatchingPolicy
    why: int  # explanation code: _OVERPAYMENT_REMAINDER or _NO_INVOICE

    @property
    def transaction_id(self) -> np.ndarray:
        return self.resolved.transaction_id[self.payer]

    def columns(self, rows: np.ndarray) -> Iterator[tuple[str, Any]]:
        payer, remainder = self.payer[rows], self.remainder_cents[rows]
        transaction_id = self.resolved.transaction_id[payer]
        invoice_no = self.first_invoice[rows].copy()
        generated = pd.isna(invoice_no)
        invoice_no[generated] = prepayment_numbers(transaction_id[generated])
        yield from {"transaction_id": transaction_id, **self.resolved.customer(payer), "invoice_no": invoice_no,
                    "invoice_type": self.policy.prepayment_invoice_type, "amount_cents": remainder,
                    "method": "prepayment", "score": 100.0, "explanation_code": self.why, "left_open_cents": 0,
                    "payment_cents": self.resolved.amount_cents[payer]}.items()


def _overpayments(rows: _Remainders, resolved: _Resolved) -> pd.DataFrame:
    """One overpayment warning per payment with a remainder, in processing order.

    The text is made in transaction id order, the order the customer labels and invoice numbers lie
    in memory, and then put in processing order: several times cheaper than reading them at random.
    """
    transaction_id = resolved.transaction_id[rows.payer]
    by_id = np.argsort(transaction_id, kind="stable")
    back = np.empty_like(by_id)
    back[by_id] = np.arange(len(by_id))
    payer, invoices = rows.payer[by_id], np.asarray(rows.invoices, dtype=object)[by_id]
    fields = {"tid": transaction_id[by_id], "invoices": invoices, "label": resolved.label(payer),
              "remainder": Cents(rows.remainder_cents[by_id])}

    def text(template: str, **more) -> np.ndarray:
        return np.asarray(render(template, **fields, **more), dtype=object)[back]

    return exception_rows(
        "overpayment", "warning", transaction_id,
        source_ids=text("paytrace:{tid} invoices:{invoices}"),
        problem=text("transaction {tid} paid {amount} but invoice(s) {invoices} of {label} had only {taken} open; "
                     "{remainder} posted as a prepayment", amount=Cents(resolved.amount_cents[payer]),
                     taken=Cents(rows.taken_cents[by_id])),
        action=text("Apply the prepayment of {label} to its next invoice in Sage, or refund {remainder} in PayTrace "
                    "if it was paid twice"),
    )


def _unpayable_references(refs: _References, unpayable: np.ndarray, resolved: _Resolved,
                          index: OpenInvoiceIndex) -> pd.DataFrame:
    """invoice_of_another_customer / invoice_not_open, one per (payment, invoice); the payment is held."""
    owner = _owners(index.invoice_key_of(refs.invoice_no[unpayable]), index)
    other = pd.notna(owner)
    return concat_exceptions([
        _invoice_of_another_customer(refs.payer[unpayable[other]], refs.invoice_no[unpayable[other]], owner[other],
                                     resolved),
        _invoice_not_open(refs.payer[unpayable[~other]], refs.invoice_no[unpayable[~other]], resolved),
    ])


def _owners(invoice_key: np.ndarray, index: OpenInvoiceIndex) -> np.ndarray:
    """Per invoice number, the customers it is open for ("01-A, 01-B", in index order); None: nobody."""
    numbers, which = np.unique(invoice_key, return_inverse=True)
    number, entry = index.holders(numbers)  # only the numbers named, not every open invoice
    key = index.customer_key[entry]
    owners = np.full(len(numbers), None, dtype=object)
    owners[number[run_starts(number)]] = join_runs(number, render(
        "{division}-{customer_no}", division=index.division(key), customer_no=index.customer_no(key)))
    return owners[which.reshape(-1)]


def _held_fields(payer: np.ndarray, invoice_no: np.ndarray, resolved: _Resolved) -> dict:
    return {"tid": resolved.transaction_id[payer], "invoice_no": invoice_no, "label": resolved.label(payer),
            "amount": Cents(resolved.amount_cents[payer])}


def _invoice_of_another_customer(payer: np.ndarray, invoice_no: np.ndarray, owner: np.ndarray,
                                 resolved: _Resolved) -> pd.DataFrame:
    fields = _held_fields(payer, invoice_no, resolved)
    return exception_rows(
        "invoice_of_another_customer", "error", fields["tid"],
        source_ids=render("paytrace:{tid} invoice:{invoice_no}", **fields),
        problem=render("transaction {tid} of {label} names invoice {invoice_no}, which is open for "
                       "{owner}; the whole payment ({amount}) is held", **fields, owner=owner),
        action=render("Find out who paid: if the customer link is wrong fix it (sage-paytrace link add, or "
                      "customer_links in config); otherwise enter the receipt by hand in Sage for "
                      "{label}", **fields),
    )


def _invoice_not_open(payer: np.ndarray, invoice_no: np.ndarray, resolved: _Resolved) -> pd.DataFrame:
    fields = _held_fields(payer, invoice_no, resolved)
    return exception_rows(
        "invoice_not_open", "error", fields["tid"],
        source_ids=render("paytrace:{tid} invoice:{invoice_no}", **fields),
        problem=render("transaction {tid} of {label} names invoice {invoice_no}, which is not an open "
                       "invoice in Sage; the whole payment ({amount}) is held", **fields),
        action=render("Check invoice {invoice_no} in Sage (already paid, a typo, or not yet invoiced); enter the "
                      "receipt by hand for {label} or refund the payment if it was paid twice", **fields),
    )


def _unapplied(payer: np.ndarray, candidates: np.ndarray, resolved: _Resolved, policy: MatchingPolicy,
              index: OpenInvoiceIndex) -> pd.DataFrame:
    """unapplied_payment: a known customer's payment that names no invoice and matches no single amount.

    Posted on account (a prepayment) by default, so the cash reaches AR; the exception then lists the
    customer's open invoices it could apply to and how to apply it in Sage. Off: held for keying by hand.
    """
    transaction_id = resolved.transaction_id[payer]
    fields = {"tid": transaction_id, "label": resolved.label(payer),
              "amount": Cents(resolved.amount_cents[payer])}
    why = choose(candidates == 0, "no open invoice has exactly that amount",
                 "several open invoices have exactly that amount")
    if not policy.post_unapplied_as_prepayment:
        return exception_rows(
            "unapplied_payment", "error", transaction_id,
            source_ids=render("paytrace:{tid} customer:{label}", **fields),
            problem=render("transaction {tid} of {label} ({amount}) names no invoice and {why}; not posted "
                           "(matching.post_unapplied_as_prepayment is false)", **fields, why=why),
            action=render("Enter the receipt by hand in Sage for {label} against the right invoice(s), "
                          "with credit card transaction id {tid} so the pipeline sees it as posted", **fields))
    fields["prepayment"] = prepayment_numbers(transaction_id)
    return exception_rows(
        "unapplied_payment", "warning", transaction_id,
        source_ids=render("paytrace:{tid} customer:{label} prepayment:{prepayment}", **fields),
        problem=render("transaction {tid} of {label} ({amount}) names no invoice and {why}; posted on account "
                       "as prepayment {prepayment}. {open}", **fields, why=why,
                       open=_open_invoices_text(resolved.customer_key[payer], index)),
        action=render("Apply prepayment {prepayment} in Sage: A/R Cash Receipts Entry, a zero-amount receipt "
                      "for {label} (check no. APPLY) with a line for {prepayment} at minus the amount to apply "
                      "and a line per invoice it pays; or refund the payment in PayTrace if nothing is owed",
                      **fields),
    )


# open invoices listed in an unapplied payment's exception; the rest are counted
_LISTED_INVOICES = 3


def _open_invoices_text(customer_key: np.ndarray, index: OpenInvoiceIndex) -> np.ndarray:
    """Per payer, "Open invoices of 01-A it could apply to: 0001234 ($100.00), ... and 2 more" (balances as
    read from Sage before this run), or that the customer has none."""
    keys, which = np.unique(customer_key, return_inverse=True)
    position, entry = index.invoices_of(keys)  # per customer, its invoices in index order
    listed = position_in_run(position) < _LISTED_INVOICES
    text = np.full(len(keys), "The customer has no open invoice in Sage", dtype=object)
    if listed.any():
        shown = np.asarray(render("{invoice_no} ({balance})", invoice_no=index.invoice_number(entry[listed]),
                                  balance=Cents(index.balance_cents[entry[listed]])), dtype=object)
        having = position[listed][run_starts(position[listed])]
        more = np.bincount(position, minlength=len(keys))[having] - _LISTED_INVOICES
        text[having] = render("Open invoices it could apply to: {invoices}{more}",
                              invoices=join_runs(position[listed], shown),
                              more=where_text(more > 0, render(" and {more} more", more=more[more > 0])))
    return text[which.reshape(-1)]


def prepayment_numbers(transaction_id: np.ndarray) -> list[str]:
    """The prepayment invoice number of a payment that names none: P + the last six digits of its id."""
    ids = np.asarray(transaction_id)
    if ids.dtype.kind == "i" and (len(ids) == 0 or ids.min() >= 0):  # the usual ids: the digits by arithmetic
        return render("P{last_six:06d}", last_six=ids.astype("int64") % 1_000_000)
    return ["P" + str(tid)[-6:].zfill(6) for tid in ids.tolist()]

"""The Sage 100 writer interface: business operations, not table pokes.

Every implementation (the SQLite demo company, Visual Integrator files, a BOI bridge) offers the
same operations with the same promises:

- **validated the way Sage validates**: a refused document raises a `Sage100ValidationError`
  subclass (sage100/errors.py) naming the field, the problem and the fix, and writes nothing;
- **atomic**: all rows of a document or none;
- **idempotent** by an external reference: receipts and refunds by the PayTrace transaction id
  (``CreditCardTransactionID``, looked up in the entry *and* history tables), everything else by
  the document reference in the ``UDF_PAYTRACE_REF`` user-defined field (sage100/udf.py). A
  repeated call returns the first call's `DocumentResult` with ``created=False`` and writes
  nothing.

The helpers below hold the checks that need no company data, so every implementation refuses
the same documents with the same errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from sage_paytrace_pipeline.domain.money import format_decimal, round_to_cent
from sage_paytrace_pipeline.sage100.documents import (
    CardReceipt,
    CardRefund,
    CreditMemo,
    CustomerBillingUpdate,
    CustomerRecord,
    DocumentResult,
    JournalEntry,
    ReceiptReversal,
    RefundReversal,
    SalesOrder,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import (
    AmountExceedsBalanceError,
    DistributionOutOfBalanceError,
    Sage100ValidationError,
    UnbalancedJournalEntryError,
)

# Operation names as they appear in DocumentResult.operation and in error messages.
POST_CARD_RECEIPT = "post_card_receipt"
UPSERT_CUSTOMER = "upsert_customer"
STORE_VAULT_CARD = "store_vault_card"
UPDATE_CUSTOMER_BILLING = "update_customer_billing"
DELETE_VAULT_CARD = "delete_vault_card"
SET_DEFAULT_CARD = "set_default_card"
CREATE_SALES_ORDER = "create_sales_order"
INVOICE_SALES_ORDER = "invoice_sales_order"
CREATE_CREDIT_MEMO = "create_credit_memo"
RECORD_CARD_REFUND = "record_card_refund"
POST_JOURNAL_ENTRY = "post_journal_entry"
REVERSE_CARD_RECEIPT = "reverse_card_receipt"
REVERSE_CARD_REFUND = "reverse_card_refund"


@runtime_checkable
class Sage100Writer(Protocol):
    """Sage's business operations as the pipeline needs them (see the module docstring)."""

    def post_card_receipt(self, receipt: CardReceipt) -> DocumentResult:
        """Deposit (type R) + receipt header + lines applying the payment to the customer's open invoices."""
        ...

    def upsert_customer(self, customer: CustomerRecord) -> DocumentResult:
        """Create (next customer number when none is given) or update a customer, by reference."""
        ...

    def store_vault_card(self, card: VaultCard) -> DocumentResult:
        """Save or update a PayTrace vault profile (token, brand, last 4, expiry, AVS address) on the
        customer; never a card number. Keyed by the vault id alone: a vault id saved on another
        customer is refused (`DocumentStateError`), never saved twice. The first card saved on a
        customer without a default card becomes its default (AR_Customer.CreditCardGUID)."""
        ...

    def update_customer_billing(self, update: CustomerBillingUpdate) -> DocumentResult:
        """Set an existing customer's billing fields (name, address, phone, e-mail); ``updated`` names
        the columns that changed (empty: Sage already held these values, nothing written)."""
        ...

    def delete_vault_card(self, credit_card_guid: str) -> DocumentResult:
        """Remove the saved card of this vault id, and clear it as its customer's default card.
        ``created`` False with no ``updated``: no such card (already removed), nothing written."""
        ...

    def set_default_card(self, division: str, customer_no: str, credit_card_guid: str) -> DocumentResult:
        """Make a saved card of the customer its default card; an empty vault id clears the default."""
        ...

    def create_sales_order(self, order: SalesOrder) -> DocumentResult:
        """A standard sales order priced from CI_Item unless a line carries its own price."""
        ...

    def invoice_sales_order(self, sales_order_no: str, *, reference: str, invoice_date: date) -> DocumentResult:
        """Ship and invoice the whole order: AR invoice, open item, item quantities, GL; closes the order."""
        ...

    def create_credit_memo(self, memo: CreditMemo) -> DocumentResult:
        """An AR credit memo, applied to an invoice or left open as a credit."""
        ...

    def record_card_refund(self, refund: CardRefund) -> DocumentResult:
        """Cash returned to a card: consumes a credit and takes the money out of card clearing.

        With credit memos named, consumes the credit each one still carries wherever it sits (its own
        open CM item, or the invoice it was applied to), never more than that credit.
        """
        ...

    def reverse_card_receipt(self, reversal: ReceiptReversal) -> DocumentResult:
        """A receipt whose sale PayTrace voided: its lines reversed, GL Dr AR / Cr clearing; once per reference."""
        ...

    def reverse_card_refund(self, reversal: RefundReversal) -> DocumentResult:
        """A refund PayTrace voided: its credit restored, GL Dr clearing / Cr AR; once per reference."""
        ...

    def post_journal_entry(self, entry: JournalEntry) -> DocumentResult:
        """A balanced general journal entry on active accounts."""
        ...


ReceiptOutcome = tuple[CardReceipt, DocumentResult | Sage100ValidationError]


@runtime_checkable
class ChunkedReceiptWriter(Protocol):
    """A writer that also posts many card receipts in one pass (the demo company: one transaction
    a chunk instead of one a receipt). Callers use it when offered, else `post_card_receipt`."""

    def post_card_receipts(self, receipts: Sequence[CardReceipt]) -> Iterator[list[ReceiptOutcome]]:
        """The receipts in order, in chunks. Each receipt is atomic on its own (a refused one wrote
        nothing; its outcome is the refusal); each chunk's outcomes are yielded once the chunk is
        committed. Any other error is raised after the outcomes of the receipts committed before it."""
        ...


def documents_in_one_transaction(writer: Sage100Writer) -> AbstractContextManager[None]:
    """The writer's `one_transaction` block when it offers one (the demo company: the documents
    written inside share one commit, a savepoint each, so a day's documents cost one sync instead of
    one a document), else nothing: each document is its own transaction as usual. Callers record
    what was written only after the block ends (nothing is in Sage before it commits)."""
    one_transaction = getattr(writer, "one_transaction", None)
    return one_transaction() if callable(one_transaction) else nullcontext()


def offers_one_transaction(writer: Sage100Writer) -> bool:
    """Whether `documents_in_one_transaction` gives one commit for the block's documents (else each
    document commits on its own, and what must be logged before a document is written must be
    committed before it too)."""
    return callable(getattr(writer, "one_transaction", None))


# ----------------------------------------------------------------------------- shared checks


def total(amounts: Iterable[Decimal]) -> Decimal:
    return round_to_cent(sum(amounts, Decimal("0.00")))


def check_receipt_distribution(receipt: CardReceipt) -> None:
    """Sage refuses a receipt whose lines do not sum to PostingAmt ("The distribution is out of balance")."""
    distributed = total(line.amount for line in receipt.lines)
    if distributed != receipt.amount:
        difference = receipt.amount - distributed
        raise DistributionOutOfBalanceError(
            operation=POST_CARD_RECEIPT,
            reference=receipt.transaction_id,
            field="lines",
            problem=(
                f"the distribution is out of balance: lines sum to {format_decimal(distributed)} "
                f"but the receipt amount (PostingAmt) is {format_decimal(receipt.amount)}"
            ),
            fix=(
                f"apply the remaining {format_decimal(difference)} to an open invoice or as a prepayment line"
                if difference > 0
                else f"reduce the lines by {format_decimal(-difference)} so they equal the amount received"
            ),
        )


def check_journal_balanced(entry: JournalEntry) -> None:
    """At least two lines and debits equal to credits, to the cent."""
    if len(entry.lines) < 2:
        raise UnbalancedJournalEntryError(
            operation=POST_JOURNAL_ENTRY,
            reference=entry.reference,
            field="lines",
            problem=f"a journal entry needs at least two lines, this one has {len(entry.lines)}",
            fix="add the offsetting line(s)",
        )
    debits = total(line.debit for line in entry.lines)
    credits = total(line.credit for line in entry.lines)
    if debits != credits:
        raise UnbalancedJournalEntryError(
            operation=POST_JOURNAL_ENTRY,
            reference=entry.reference,
            field="lines",
            problem=f"the entry is out of balance: debits {format_decimal(debits)}, credits {format_decimal(credits)}",
            fix=f"add or correct lines so debits equal credits (difference {format_decimal(debits - credits)})",
        )


def check_amount_within_balance(
    *, operation: str, reference: str, field: str, invoice_no: str, amount: Decimal, balance: Decimal
) -> None:
    """An amount applied to an open item may not exceed what is left open on it."""
    if amount > balance:
        raise AmountExceedsBalanceError(
            operation=operation,
            reference=reference,
            field=field,
            problem=(
                f"{format_decimal(amount)} is applied to invoice {invoice_no} whose open balance is "
                f"{format_decimal(balance)}"
            ),
            fix=(
                f"apply at most {format_decimal(balance)} to {invoice_no} and put the remaining "
                f"{format_decimal(amount - balance)} on another invoice or a prepayment line"
            ),
        )

"""The demo company writer: Sage 100's business operations applied to the SQLite demo company.

`DemoCompanyWriter` implements `Sage100Writer` (sage100/writer.py). Each call is one
``BEGIN IMMEDIATE`` transaction (all rows or none; a refused document writes nothing), first
looks up its external reference and returns the earlier result unchanged when found. With
``posting="post"`` (the default) card receipts and general journal entries are posted at once,
the way Sage's journal updates would post them; with ``posting="entry"`` they stay in the entry
tables for review until `update_cash_receipts_journal` (receipts) runs. Invoices, credit memos
and refunds are always posted (the demo keeps no AR/SO invoice entry tables).

The operations live in one module each (this package): receipts, customers, orders, credits,
ledger, reversals; row access in store, master-data checks in master, document numbers in numbers.

This writer never fails on purpose. The fault campaign's faults live in sandbox/sage100/faults.py
(`FaultInjectingDemoWriter`, a subclass that hooks `_enter` and `_committed`, around each document),
installed only by the campaign.

Many receipts at once (`post_card_receipts`, what posting uses) share one connection and one
transaction a chunk, each receipt in its own savepoint: the same rows as one call per receipt,
with one commit a chunk instead of one a receipt. With ``posting="post"`` a chunk is posted by
`ReceiptChunk` (receipt_chunk.py): what the chunk needs read in one look-up per table, the rows
many receipts share (open items, customers, counters) written once a chunk, the entry tables
left alone. Every look-up is an indexed point query or a chunk's indexed `IN` list (indexes.py):
a day's posting costs the same per receipt at 100 receipts as at 10,000.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel

from sage_paytrace_pipeline.domain.ledger import LedgerDocument
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
from sage_paytrace_pipeline.sage100.errors import Sage100ConfigurationError, Sage100ValidationError
from sage_paytrace_pipeline.sage100.reader import is_odbc_connection_string
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import open_demo_database
from sage_paytrace_pipeline.sage100.udf import ensure_udf_columns
from sage_paytrace_pipeline.sage100.writer import (
    CREATE_CREDIT_MEMO,
    CREATE_SALES_ORDER,
    DELETE_VAULT_CARD,
    INVOICE_SALES_ORDER,
    POST_CARD_RECEIPT,
    POST_JOURNAL_ENTRY,
    RECORD_CARD_REFUND,
    REVERSE_CARD_RECEIPT,
    REVERSE_CARD_REFUND,
    SET_DEFAULT_CARD,
    STORE_VAULT_CARD,
    UPDATE_CUSTOMER_BILLING,
    UPSERT_CUSTOMER,
    ReceiptOutcome,
)
from sage_paytrace_pipeline.sage100.writers import WriterTarget
from sage_paytrace_pipeline.sandbox.sage100.company import credits as demo_credits
from sage_paytrace_pipeline.sandbox.sage100.company import customers as demo_customers
from sage_paytrace_pipeline.sandbox.sage100.company import ledger as demo_ledger
from sage_paytrace_pipeline.sandbox.sage100.company import orders as demo_orders
from sage_paytrace_pipeline.sandbox.sage100.company import receipts as demo_receipts
from sage_paytrace_pipeline.sandbox.sage100.company import reversals as demo_reversals
from sage_paytrace_pipeline.sandbox.sage100.company.indexes import ensure_lookup_indexes
from sage_paytrace_pipeline.sandbox.sage100.company.receipt_chunk import ReceiptChunk, can_post
from sage_paytrace_pipeline.sandbox.sage100.company.store import (
    DemoSession,
    open_writer_connection,
    transaction,
    transaction_on,
)

Posting = Literal["post", "entry"]
RECEIPT_CHUNK = 500  # receipts a transaction in `post_card_receipts`: one commit (and its syncs) a chunk
_Doc = TypeVar("_Doc", bound=BaseModel)


def _checked(document: _Doc) -> _Doc:
    """Validate again: `model_copy(update=...)` skips validation, and the guards (no card numbers,
    lengths, money) must hold for whatever reaches the company. A ledger document exactly as validation left
    it (`validated_as_is`: the pipeline's own, built from its fields) is not validated twice."""
    if isinstance(document, LedgerDocument) and document.validated_as_is():
        return document
    return type(document).model_validate(document.model_dump())


class DemoCompanyWriter:
    """Writes to a demo company file; implements `Sage100Writer`.

    `credit_memo_account` is the GL account (formatted, e.g. "4950-00") debited by credit memos
    that name none; without it the applied invoice's sales account is used. `clock` gives the
    audit date/time (tests pin it).
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        posting: Posting = "post",
        schema: Sage100Schema = DEFAULT_SCHEMA,
        user: str = "PAYTRACE",
        credit_memo_account: str | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        if posting not in ("post", "entry"):
            raise ValueError(f"posting must be 'post' or 'entry', not {posting!r}")
        self.db_path = Path(db_path)
        self.posting = posting
        self.schema = schema
        self.user = user
        self.credit_memo_account = credit_memo_account
        self.clock = clock
        self._shared: tuple[DemoSession, list[tuple[str, DocumentResult]]] | None = None  # in `one_transaction`
        connection = open_demo_database(self.db_path)
        try:
            ensure_udf_columns(connection, schema)
            ensure_lookup_indexes(connection, schema)
        finally:
            connection.close()

    def _run(self, name: str, operation: Callable[[DemoSession], DocumentResult]) -> DocumentResult:
        """One document in one transaction (in `one_transaction`: in a savepoint of the block's
        transaction). `name` is the operation (sage100/writer.py constants)."""
        if self._shared is not None:
            session, committed = self._shared
            with session.document():
                result = self._enter(name, operation, session)
            committed.append((name, result))
            return result
        with transaction(self.db_path, self.schema, user=self.user, now=self.clock()) as session:
            result = self._enter(name, operation, session)
        self._committed(name, result)
        return result

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """The documents written inside the block share one connection and one transaction, each in
        its own savepoint (a refused document writes nothing, the others stay): one commit, and its
        syncs, for a day's documents instead of one a document. Nothing is in Sage before the block
        ends: a caller records what was written only after it. An error out of the block rolls
        every document of it back. Receipts (`post_card_receipts`) and journal updates keep their
        own transactions: not inside the block."""
        if self._shared is not None:  # nested: the outer block's transaction
            yield
            return
        connection = open_writer_connection(self.db_path)
        committed: list[tuple[str, DocumentResult]] = []
        try:
            with transaction_on(connection, self.schema, user=self.user, now=self.clock()) as session:
                self._shared = (session, committed)
                try:
                    yield
                finally:
                    self._shared = None
        finally:
            connection.close()
        for name, result in committed:
            self._committed(name, result)

    # Hooks around each document, for subclasses that observe them (the fault campaign's writer).
    def _enter(self, name: str, operation: Callable[[DemoSession], DocumentResult],
               session: DemoSession) -> DocumentResult:
        """Write one document inside the open transaction (or the document's savepoint)."""
        return operation(session)

    def _committed(self, name: str, result: DocumentResult) -> None:
        """Called once the transaction holding the document is committed."""

    @property
    def _post(self) -> bool:
        return self.posting == "post"

    # --- Sage100Writer ----------------------------------------------------------------
    def post_card_receipt(self, receipt: CardReceipt) -> DocumentResult:
        return self._run(
            POST_CARD_RECEIPT, lambda s: demo_receipts.enter_card_receipt(s, _checked(receipt), post=self._post))

    def post_card_receipts(self, receipts: Sequence[CardReceipt]) -> Iterator[list[ReceiptOutcome]]:
        """`ChunkedReceiptWriter`: one connection for the whole call, one transaction a chunk of
        `RECEIPT_CHUNK` receipts, one savepoint a receipt (a refused or failed receipt rolls back
        only its own rows)."""
        connection = open_writer_connection(self.db_path)
        try:
            for start in range(0, len(receipts), RECEIPT_CHUNK):
                chunk = receipts[start:start + RECEIPT_CHUNK]
                outcomes, failure = self._post_chunk(connection, chunk)
                yield outcomes
                if failure is not None:
                    raise failure
        finally:
            connection.close()

    def _post_chunk(
        self, connection: sqlite3.Connection, chunk: Sequence[CardReceipt]
    ) -> tuple[list[ReceiptOutcome], Exception | None]:
        """Enter the chunk in one transaction; an unexpected error keeps the receipts before it and
        is returned, to be raised once their outcomes are handed over."""
        outcomes: list[ReceiptOutcome] = []
        failure: Exception | None = None
        with transaction_on(connection, self.schema, user=self.user, now=self.clock()) as session:
            at_once = ReceiptChunk(session, chunk) if self._post and can_post(session) else None
            for receipt in chunk:
                mark = at_once.mark() if at_once is not None else 0
                operation = partial(self._enter_receipt, receipt) if at_once is None \
                    else partial(self._post_in_chunk, at_once, receipt)
                try:
                    with session.document():
                        result = self._enter(POST_CARD_RECEIPT, operation, session)
                except Exception as error:
                    if at_once is not None:
                        at_once.back_to(mark)  # with the savepoint: the chunk's state as before this receipt
                    if not isinstance(error, Sage100ValidationError):
                        failure = error
                        break
                    outcomes.append((receipt, error))
                    continue
                outcomes.append((receipt, result))
            if at_once is not None:
                at_once.write_changes()
        for _, outcome in outcomes:
            if isinstance(outcome, DocumentResult):
                self._committed(POST_CARD_RECEIPT, outcome)
        return outcomes, failure

    def _enter_receipt(self, receipt: CardReceipt, session: DemoSession) -> DocumentResult:
        return demo_receipts.enter_card_receipt(session, _checked(receipt), post=self._post)

    @staticmethod
    def _post_in_chunk(chunk: ReceiptChunk, receipt: CardReceipt, session: DemoSession) -> DocumentResult:
        return chunk.post(_checked(receipt))

    def upsert_customer(self, customer: CustomerRecord) -> DocumentResult:
        return self._run(UPSERT_CUSTOMER, lambda s: demo_customers.upsert_customer(s, _checked(customer)))

    def store_vault_card(self, card: VaultCard) -> DocumentResult:
        return self._run(STORE_VAULT_CARD, lambda s: demo_customers.store_vault_card(s, _checked(card)))

    def update_customer_billing(self, update: CustomerBillingUpdate) -> DocumentResult:
        return self._run(UPDATE_CUSTOMER_BILLING,
                         lambda s: demo_customers.update_customer_billing(s, _checked(update)))

    def delete_vault_card(self, credit_card_guid: str) -> DocumentResult:
        return self._run(DELETE_VAULT_CARD, lambda s: demo_customers.delete_vault_card(s, credit_card_guid))

    def set_default_card(self, division: str, customer_no: str, credit_card_guid: str) -> DocumentResult:
        return self._run(SET_DEFAULT_CARD,
                         lambda s: demo_customers.set_default_card(s, division, customer_no, credit_card_guid))

    def create_sales_order(self, order: SalesOrder) -> DocumentResult:
        return self._run(CREATE_SALES_ORDER, lambda s: demo_orders.create_sales_order(s, _checked(order)))

    def invoice_sales_order(self, sales_order_no: str, *, reference: str, invoice_date: date) -> DocumentResult:
        return self._run(INVOICE_SALES_ORDER,
                         lambda s: demo_orders.invoice_sales_order(s, sales_order_no, reference, invoice_date))

    def create_credit_memo(self, memo: CreditMemo) -> DocumentResult:
        return self._run(
            CREATE_CREDIT_MEMO,
            lambda s: demo_credits.create_credit_memo(s, _checked(memo), default_account=self.credit_memo_account)
        )

    def record_card_refund(self, refund: CardRefund) -> DocumentResult:
        return self._run(RECORD_CARD_REFUND, lambda s: demo_credits.record_card_refund(s, _checked(refund)))

    def reverse_card_receipt(self, reversal: ReceiptReversal) -> DocumentResult:
        return self._run(REVERSE_CARD_RECEIPT,
                         lambda s: demo_reversals.reverse_card_receipt(s, _checked(reversal)))

    def reverse_card_refund(self, reversal: RefundReversal) -> DocumentResult:
        return self._run(REVERSE_CARD_REFUND,
                         lambda s: demo_reversals.reverse_card_refund(s, _checked(reversal)))

    def post_journal_entry(self, entry: JournalEntry) -> DocumentResult:
        return self._run(
            POST_JOURNAL_ENTRY, lambda s: demo_ledger.post_journal_entry(s, _checked(entry), post=self._post))

    # --- journal updates --------------------------------------------------------------
    def update_cash_receipts_journal(self) -> list[str]:
        """Post every receipt in entry, as Sage's Daily Transaction Register update; returns deposit numbers."""
        with transaction(self.db_path, self.schema, user=self.user, now=self.clock()) as session:
            return demo_receipts.update_cash_receipts_journal(session)


def open_demo_company_writer(target: WriterTarget) -> DemoCompanyWriter:
    """Entry point `demo_company` (sage100/writers.py): the writer of a demo company file."""
    if is_odbc_connection_string(target.database):
        raise Sage100ConfigurationError(
            "sage.writer is demo_company but SAGE100_DATABASE is an ODBC connection string: a real company is "
            "written through sage.writer: visual_integrator (or point SAGE100_DATABASE at a demo company file)")
    return DemoCompanyWriter(target.database, posting=target.posting, schema=target.schema)

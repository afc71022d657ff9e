"""Card receipts posted a chunk at a time: the books of one `enter_card_receipt(post=True)` per
receipt, with what the receipts share read and written once a chunk.

Receipt by receipt (receipts.py), a posted receipt is entered in the entry tables, read back,
moved to history and its entry rows deleted again: some forty statements and several hundred
value conversions a receipt, and the counters and the customer row read and written each time.
`ReceiptChunk` posts the receipts of one chunk inside the writer's transaction instead:
- at the start it reads what the chunk needs, one look-up per table: receipts already holding the
  chunk's transaction ids, card refunds with those ids, the customers, the open items, the
  saved cards and the last payment history number of each invoice of the chunk;
- each receipt is validated against those rows as the receipts before it left them, and its
  history, payment history, prepayment and GL rows are inserted at once (inside the receipt's
  savepoint: a refused or failed receipt leaves none of them);
- what many receipts change (open items, customers, the next-number counters) is kept in memory
  and written once before the commit (`write_changes`), one `executemany` per statement shape;
  a receipt that fails takes its changes back (`mark` / `back_to`) with its savepoint;
- the entry tables are not touched: nothing of a posted receipt stays in them.

A test compares every table with receipt-by-receipt posting. The company must hold nothing in
entry (no pending deposit or receipt header, `can_post`), since the deposit's entry totals would
change; the writer posts such a chunk receipt by receipt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sage_paytrace_pipeline.sage100.documents import CardReceipt, DocumentResult
from sage_paytrace_pipeline.sage100.writer import POST_CARD_RECEIPT
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import SERIES, check_width, counter_key, peek_next
from sage_paytrace_pipeline.sandbox.sage100.company.receipts import (
    CARD_DEPOSIT,
    CASH_RECEIPTS_JOURNAL,
    ZERO,
    ReceiptLookups,
    customer_changes,
    detail_row,
    header_row,
    history_row,
    insert_payment_history,
    payment_history_key,
    post_receipt_gl,
    prepayment_row,
    validate_receipt,
)
from sage_paytrace_pipeline.sandbox.sage100.company.store import IN_LIST, DemoSession, Row, to_db

_ABSENT = object()
_ITEM_KEY = ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")
_ITEM_COLUMNS = (*_ITEM_KEY, "Balance", "PaymentsToday", "InvoiceHistoryHeaderSeqNo")
_DEPOSIT_KEY = ("BankCode", "DepositDate", "DepositDesc", "DepositType")
_CUSTOMER_KEY = ("ARDivisionNo", "CustomerNo")
_PAYMENT_HISTORY_KEY = ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType", "TransactionDate")
_CUSTOMER_COLUMNS = (*_CUSTOMER_KEY, "CustomerStatus", "CustomerName", "OpenItemCustomer", "CurrentBalance",
                     "DateLastPayment", "DateLastActivity")
# Columns a read of the entry rows gives back without the receipt setting them (the tables' defaults).
_HEADER_DEFAULTS = {"BatchNo": ""}
_DETAIL_DEFAULTS = {"DiscountAmt": ZERO}


def can_post(session: DemoSession) -> bool:
    """True when the company holds no receipt in entry (no pending deposit, no receipt header)."""
    return all(session.select_one(table, {}, columns=("DepositNo",)) is None
               for table in ("AR_CashReceiptsDeposit", "AR_CashReceiptsHeader"))


class _Changes:
    """In-memory state changes, in order, so a failed receipt's can be taken back."""

    def __init__(self) -> None:
        self._log: list[tuple[dict, Any, Any]] = []

    def set(self, container: dict, key: Any, value: Any) -> None:
        self._log.append((container, key, container.get(key, _ABSENT)))
        container[key] = value

    def mark(self) -> int:
        return len(self._log)

    def back_to(self, mark: int) -> None:
        while len(self._log) > mark:
            container, key, before = self._log.pop()
            if before is _ABSENT:
                container.pop(key, None)
            else:
                container[key] = before


class _PendingInserts:
    """The session as the posting helpers use it, with their inserts held for the chunk's `executemany`."""

    def __init__(self, session: DemoSession, chunk: ReceiptChunk) -> None:
        self._session = session
        self._chunk = chunk

    def insert(self, table_key: str, row: Row) -> None:
        self._chunk.insert_later(table_key, row)

    def max_number(self, table_key: str, column_key: str, where: Row | None = None) -> int:
        """A receipt's GL register (a number of the chunk's) from the chunk's one look-up, else the session's."""
        if (table_key, column_key) == ("GL_DetailPosting", "SequenceNo") and where is not None \
                and set(where) == {"SourceJournal", "JournalRegisterNo"} \
                and where["SourceJournal"] == CASH_RECEIPTS_JOURNAL:
            last = self._chunk.last_gl_sequence(where["JournalRegisterNo"])
            if last is not None:
                return last
        return self._session.max_number(table_key, column_key, where)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class ReceiptChunk:
    """The receipts of one chunk, posted in the session's transaction (see the module docstring)."""

    def __init__(self, session: DemoSession, receipts: Sequence[CardReceipt]) -> None:
        self.session = session
        self._changes = _Changes()
        ids = [receipt.transaction_id for receipt in receipts]
        self._posted = self._receipts_holding(ids)  # transaction id -> documents of the receipt found
        self._refund_ids = {row["CreditCardTransactionID"]: True for row in session.select_in(
            "AR_TransactionPaymentHistory", "CreditCardTransactionID", ids, columns=("CreditCardTransactionID",))}
        self._customers: dict[tuple, Row] = {
            tuple(row[k] for k in _CUSTOMER_KEY): row for row in session.select_in(
                "AR_Customer", "CustomerNo", [receipt.customer_no for receipt in receipts],
                columns=_CUSTOMER_COLUMNS)}
        self._items: dict[tuple, Row] = {
            tuple(row[k] for k in _ITEM_KEY): row for row in session.select_in(
                "AR_OpenInvoice", "InvoiceNo", [line.invoice_no for receipt in receipts for line in receipt.lines],
                columns=_ITEM_COLUMNS)}
        guids = [receipt.credit_card_guid for receipt in receipts if receipt.credit_card_guid]
        self._cards = {(row["ARDivisionNo"], row["CustomerNo"], row["CreditCardGUID"]): row["CreditCardID"]
                       for row in session.select_in("AR_CustomerCreditCard", "CreditCardGUID", guids,
                                                    columns=("ARDivisionNo", "CustomerNo", "CreditCardGUID",
                                                             "CreditCardID"))}
        self._deposits: dict[tuple, str] = {}  # (bank code, date, description) -> DepositNo
        self._next: dict[str, int] = {}  # number series -> the number it hands out next
        self._handed: dict[str, int] = {}  # number series -> numbers handed out in this chunk
        self._counters: dict[str, Row | None] = {}  # number series -> its SY_NextNumber row before the chunk
        self._changed_items: dict[tuple, bool] = {}
        self._payment_numbers: dict[tuple, int] = {}  # payment history key -> its last SequenceNo in the chunk
        self._changed_customers: dict[tuple, frozenset[str]] = {}
        # the chunk's history, payment history and GL rows, in order (position -> table, SQL, values):
        # inserted by `write_changes`, one `executemany` a run of one table's rows of one shape
        self._pending: dict[int, tuple[str, str, list[Any]]] = {}
        # the session as the posting helpers of receipts.py use it (reads, `max_number`, `insert`), inserts held
        self._inserts = cast(DemoSession, _PendingInserts(session, self))
        self._size = len(receipts)
        self._gl_last: dict[str, int] | None = None  # CR register -> its highest GL sequence (`last_gl_sequence`)
        self._pending_deposits: dict[tuple, str] = {}  # a pending history row's deposit key as stored -> DepositNo
        # pure conversions many receipts of a chunk repeat (a day's receipts share one deposit): made once
        self._deposit_keys: dict[tuple, tuple] = {}
        self._stored_deposits: dict[tuple, Row] = {}
        # the last payment history number of each (division, customer, invoice, type, date) of the
        # chunk's invoices, as stored: one grouped look-up instead of a MAX query a line
        self._payment_history_last = self._last_payment_history_numbers(
            [line.invoice_no for receipt in receipts for line in receipt.lines])
        self._lookups = ReceiptLookups(
            refund_recorded=self._refund_ids.__contains__,
            customer=lambda division, customer_no: self._customers.get((division, customer_no)),
            open_item=lambda division, customer_no, invoice_no, invoice_type: self._items.get(
                (division, customer_no, invoice_no, invoice_type)),
        )

    def _receipts_holding(self, ids: list[str]) -> dict[str, dict[str, str]]:
        """The first receipt (in index order, as a point look-up finds it) holding each id."""
        found: dict[str, dict[str, str]] = {}
        for row in self.session.select_in("AR_CashReceiptsHistory", "CreditCardTransactionID", ids,
                                          columns=("CreditCardTransactionID", "DepositNo", "CreditCardEntryNo")):
            found.setdefault(row["CreditCardTransactionID"], {"DepositNo": row["DepositNo"],
                                                              "CreditCardEntryNo": row["CreditCardEntryNo"]})
        return found

    # --- a failed receipt's changes taken back ---------------------------------------------
    def mark(self) -> int:
        return self._changes.mark()

    def back_to(self, mark: int) -> None:
        self._changes.back_to(mark)

    # --- one receipt ------------------------------------------------------------------------
    def post(self, receipt: CardReceipt) -> DocumentResult:
        """`enter_card_receipt(session, receipt, post=True)` on the chunk's rows."""
        found = self._posted.get(receipt.transaction_id)
        if found is not None:
            return DocumentResult(operation=POST_CARD_RECEIPT, reference=receipt.transaction_id,
                                  documents=dict(found), created=False)
        validate_receipt(self.session, receipt, self._lookups)
        deposit = self._deposit(receipt)
        entry_no = self._take("CreditCardEntryNo")
        entered = header_row(receipt, deposit["DepositNo"], entry_no, self._card_id(receipt))
        header = {**_HEADER_DEFAULTS, **self.session.round_trip("AR_CashReceiptsHeader", entered)}
        lines = self._enter_lines(receipt, entered)
        register_no = self._take("JournalRegisterNo")
        self._post(header, deposit, lines, register_no)
        documents = {"DepositNo": deposit["DepositNo"], "CreditCardEntryNo": entry_no}
        if lines:  # found again by its history rows (and its payment history, as a refund would be)
            self._changes.set(self._posted, receipt.transaction_id,
                              {"DepositNo": header["DepositNo"], "CreditCardEntryNo": header["CreditCardEntryNo"]})
            self._changes.set(self._refund_ids, receipt.transaction_id, True)
        return DocumentResult(operation=POST_CARD_RECEIPT, reference=receipt.transaction_id, documents=documents,
                              created=True)

    def _deposit(self, receipt: CardReceipt) -> Row:
        """The deposit's row as entry would store it: the card deposit of this bank code, date and
        description in history (found in Sage or opened by this chunk), else a new number."""
        key = {"BankCode": receipt.bank_code, "DepositDate": receipt.deposit_date,
               "DepositDesc": receipt.deposit_description, "DepositType": CARD_DEPOSIT}
        lookup = (receipt.bank_code, receipt.deposit_date, receipt.deposit_description)
        deposit_no = self._deposits.get(lookup)
        if deposit_no is None:  # the history rows of the chunk's receipts before this one, as a read would find them
            deposit_no = self._pending_deposits.get(self._deposit_key(key))
        if deposit_no is None:
            posted = self.session.select_one("AR_CashReceiptsHistory", key, columns=("DepositNo",))
            deposit_no = posted["DepositNo"] if posted is not None else self._take("DepositNo")
        stored = self._stored_deposit(key, deposit_no)
        if (stored["BankCode"], stored["DepositDate"], stored["DepositDesc"]) == lookup:
            # the history rows carry the stored values: a later receipt with these finds this deposit
            self._changes.set(self._deposits, lookup, deposit_no)
        return stored

    def _stored_deposit(self, key: Row, deposit_no: str) -> Row:
        """The deposit row as stored and read back (a pure conversion, made once per deposit)."""
        lookup = (*key.values(), deposit_no)
        stored = self._stored_deposits.get(lookup)
        if stored is None:
            stored = self._stored_deposits[lookup] = self.session.round_trip(
                "AR_CashReceiptsDeposit", {**key, "DepositNo": deposit_no})
        return dict(stored)

    def _card_id(self, receipt: CardReceipt) -> str:
        if not receipt.credit_card_guid:
            return ""
        return self._cards.get((receipt.division, receipt.customer_no, receipt.credit_card_guid), "")

    def _take(self, number_type: str) -> str:
        """`next_number`, with the counter and the highest number used read once a chunk."""
        number = self._next.get(number_type)
        if number is None:
            stored, number = peek_next(self.session, number_type)
            self._counters.setdefault(number_type, stored)  # the table is written only by `write_changes`
        padded = check_width(number_type, number)
        self._changes.set(self._next, number_type, number + 1)
        self._changes.set(self._handed, number_type, self._handed.get(number_type, 0) + 1)
        return padded

    def _enter_lines(self, receipt: CardReceipt, entered: Row) -> list[Row]:
        """The receipt's detail rows as entry stores them; each applied line's amount is held in
        its open item's PaymentsToday, as entry holds it."""
        lines = []
        for number, line in enumerate(receipt.lines, start=1):
            key = (receipt.division, receipt.customer_no, line.invoice_no, line.open_item_type)
            item = self._items.get(key)
            detail = detail_row(receipt, entered, number, line, item)
            lines.append({**_DETAIL_DEFAULTS, **self.session.round_trip("AR_CashReceiptsDetail", detail)})
            if item is not None and not line.prepayment:
                self._change_item(key, PaymentsToday=item["PaymentsToday"] + line.amount)
        return lines

    def _post(self, header: Row, deposit: Row, lines: list[Row], register_no: str) -> None:
        """`post_receipt`: history, open items, payment history, customer and GL."""
        customer_key = (header["ARDivisionNo"], header["CustomerNo"])
        customer = self._customers[customer_key]  # validated
        for sequence, line in enumerate(lines, start=1):
            balance_after = self._apply_line(header, deposit, line)
            history = history_row(header, deposit, customer, line, sequence=sequence, balance_after=balance_after)
            self._inserts.insert("AR_CashReceiptsHistory", history)
            self._changes.set(self._pending_deposits, self._deposit_key(
                {key: history[key] for key in _DEPOSIT_KEY}), history["DepositNo"])
            item = self._items.get((header["ARDivisionNo"], header["CustomerNo"], line["InvoiceNo"],
                                    line["InvoiceType"]))
            insert_payment_history(self._inserts, header, deposit, line, item,
                                   sequence=self._payment_history_number(header, deposit, line))
        changes = customer_changes(customer, header, deposit)
        self._changes.set(self._customers, customer_key,
                          {**customer, **self.session.round_trip("AR_Customer", changes)})
        self._changes.set(self._changed_customers, customer_key,
                          self._changed_customers.get(customer_key, frozenset()) | frozenset(changes))
        # the register is the receipt's own (a new number): no row of the chunk's other receipts is in it
        post_receipt_gl(self._inserts, header, deposit, customer, register_no)

    def last_gl_sequence(self, register_no: str) -> int | None:
        """The highest GL sequence of a CR register the chunk may number (the first register it posts
        and the ones after, read at once at the first), None for another; the registers are each
        receipt's own, so no row of the chunk's other receipts is in it."""
        if self._gl_last is None:
            first = int(register_no)
            width = SERIES["JournalRegisterNo"].width
            registers = [str(n).zfill(width) for n in range(first, min(first + self._size, 10**width))]
            self._gl_last = dict.fromkeys(registers, 0)
            table = self.session.table("GL_DetailPosting").name
            journal, register, sequence = (self.session.column("GL_DetailPosting", key).name
                                           for key in ("SourceJournal", "JournalRegisterNo", "SequenceNo"))
            converted = {self.session.where_values("GL_DetailPosting", {"JournalRegisterNo": r})[0]: r
                         for r in registers}
            source = self.session.where_values("GL_DetailPosting", {"SourceJournal": CASH_RECEIPTS_JOURNAL})
            for start in range(0, len(registers), IN_LIST):
                part = list(converted)[start:start + IN_LIST]
                for value, last in self.session.connection.execute(
                        f"SELECT {register}, MAX(CAST({sequence} AS INTEGER)) FROM {table} WHERE {journal} = ? "
                        f"AND {register} IN ({', '.join('?' for _ in part)}) AND {sequence} <> '' "
                        f"AND {sequence} NOT GLOB '*[^0-9]*' GROUP BY {register}", [*source, *part]):
                    if value in converted:
                        self._gl_last[converted[value]] = int(last or 0)
        return self._gl_last.get(register_no)

    def _deposit_key(self, key: Row) -> tuple:
        """The values a look-up of history by this deposit key compares the stored ones with."""
        values = tuple(key[k] for k in _DEPOSIT_KEY)
        converted = self._deposit_keys.get(values)
        if converted is None:
            converted = self._deposit_keys[values] = tuple(self.session.where_values(
                "AR_CashReceiptsHistory", dict(zip(_DEPOSIT_KEY, values, strict=True))))
        return converted

    def insert_later(self, table_key: str, row: Row) -> None:
        """`session.insert`, values converted (and refused) now, the row written by `write_changes`."""
        sql, params = self.session.prepare_insert(table_key, row)
        self._changes.set(self._pending, len(self._pending), (table_key, sql, params))

    def _flush(self) -> None:
        """Insert the pending rows (in order within each table, one `executemany` a run of one shape)."""
        if not self._pending:
            return
        by_table: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
        for table_key, sql, params in self._pending.values():
            by_table[table_key].append((sql, params))
        self._pending.clear()
        for rows in by_table.values():
            start = 0
            while start < len(rows):
                sql = rows[start][0]
                end = start
                while end < len(rows) and rows[end][0] == sql:
                    end += 1
                self.session.connection.executemany(sql, [params for _, params in rows[start:end]])
                start = end

    def _payment_history_number(self, header: Row, deposit: Row, line: Row) -> int:
        """The line's payment history number: the invoice's last that day read once a chunk, then counted
        (each receipt of the chunk numbers after the ones before it, as a read after their rows would)."""
        key = payment_history_key(header, deposit, line)
        lookup = tuple(key.values())
        last = self._payment_numbers.get(lookup)
        if last is None:
            last = self._payment_history_last.get(
                tuple(self.session.where_values("AR_TransactionPaymentHistory", key)), 0)
        self._changes.set(self._payment_numbers, lookup, last + 1)
        return last + 1

    def _last_payment_history_numbers(self, invoice_nos: list[str]) -> dict[tuple, int]:
        """`last_payment_history_number` of every payment history key of these invoices at once, by
        the key's values as stored (what the point look-up compares), counting all-digit numbers only, as it."""
        columns = [self.session.column("AR_TransactionPaymentHistory", key) for key in _PAYMENT_HISTORY_KEY]
        sequence = self.session.column("AR_TransactionPaymentHistory", "SequenceNo").name
        invoice = self.session.column("AR_TransactionPaymentHistory", "InvoiceNo")
        table = self.session.table("AR_TransactionPaymentHistory").name
        distinct = list(dict.fromkeys(to_db(invoice, value) for value in invoice_nos))
        last: dict[tuple, int] = {}
        for start in range(0, len(distinct), IN_LIST):
            part = distinct[start:start + IN_LIST]
            for *values, number in self.session.connection.execute(
                    f"SELECT {', '.join(column.name for column in columns)}, {sequence} FROM {table} "
                    f"WHERE {invoice.name} IN ({', '.join('?' for _ in part)})", part):
                if number and number.isascii() and number.isdigit():  # `max_number`'s all-digit values
                    # as the look-up compares them: a DATE column reads back as a date, stored as ISO text
                    key = tuple(to_db(column, value) for column, value in zip(columns, values, strict=True))
                    last[key] = max(last.get(key, 0), int(number))
        return last

    def _apply_line(self, header: Row, deposit: Row, line: Row) -> Decimal:
        key = (header["ARDivisionNo"], header["CustomerNo"], line["InvoiceNo"], line["InvoiceType"])
        item = self._items.get(key)
        amount = line["AmountPosted"]
        if item is not None:
            payments_today = max(ZERO, item["PaymentsToday"] - amount) if line["InvoiceType"] != "PP" else ZERO
            balance = item["Balance"] - amount
            self._change_item(key, Balance=balance, PaymentsToday=payments_today)
            return balance
        if line["InvoiceType"] != "PP":  # validated at entry; an item cannot vanish while in PaymentsToday
            raise AssertionError(f"open item {line['InvoiceNo']} disappeared before the update")
        opened = prepayment_row(header, deposit, line)
        self.session.insert("AR_OpenInvoice", opened)
        self._changes.set(self._items, key, self.session.round_trip(
            "AR_OpenInvoice", {**{k: opened[k] for k in _ITEM_KEY}, "Balance": opened["Balance"],
                               "PaymentsToday": ZERO, "InvoiceHistoryHeaderSeqNo": ""}))
        return -amount

    def _change_item(self, key: tuple, **values: Decimal) -> None:
        self._changes.set(self._items, key, {**self._items[key], **self.session.round_trip("AR_OpenInvoice", values)})
        self._changes.set(self._changed_items, key, True)

    # --- the chunk's shared rows, once ------------------------------------------------------
    def write_changes(self) -> None:
        """Write the open items, customers and counters the chunk changed (before the commit)."""
        self._flush()
        statements: dict[str, list[list[Any]]] = defaultdict(list)
        for key in self._changed_items:
            item = self._items[key]
            sql, params = self.session.prepare_update(
                "AR_OpenInvoice", dict(zip(_ITEM_KEY, key, strict=True)),
                {"PaymentsToday": item["PaymentsToday"], "Balance": item["Balance"]})
            statements[sql].append(params)
        for key, columns in self._changed_customers.items():
            customer = self._customers[key]
            sql, params = self.session.prepare_update(
                "AR_Customer", dict(zip(_CUSTOMER_KEY, key, strict=True)),
                {column: customer[column] for column in sorted(columns)})
            statements[sql].append(params)
        for sql, rows in statements.items():
            self.session.connection.executemany(sql, rows)
        for number_type, handed in self._handed.items():
            self._write_counter(number_type, handed)

    def _write_counter(self, number_type: str, handed: int) -> None:
        """SY_NextNumber as `handed` calls of `next_number` leave it: created by the first when missing."""
        if handed == 0:
            return
        key = counter_key(number_type)
        following = str(self._next[number_type]).zfill(SERIES[number_type].width)
        if self._counters[number_type] is None:
            self.session.insert("next_numbers", {**key, "NextNumber": following})
            if handed == 1:
                return
        self.session.update("next_numbers", key, {"NextNumber": following})

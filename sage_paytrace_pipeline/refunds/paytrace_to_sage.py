"""PayTrace -> Sage: every approved PayTrace REFUND recorded in Sage exactly once.

For the day's refunds (and earlier days' refunds still waiting for their sale), in this order:

1. select: approved (pending or settled), created on/after ``refunds.start_date``, not sent by a
   Sage request (invoice id ``SPR...``: the request flow records those against the clerk's memo);
2. link each to its sale (domain/refunds/linking.py) among every approved sale the warehouse holds
   (one query over all partitions) less the refunds already linked (the refund log);
3. look the refunds up in Sage (one read): found -> the log is confirmed, nothing written;
4. the sale's receipt in Sage (one read for all sales): missing -> ``refund_awaiting_sale`` (the
   refund posts on the first run after the receipt exists);
5. plan (domain/refunds/plan.py), log the intent, write the credit memo(s) then the card refund
   consuming them (each idempotent by its reference); the day's documents go in one Sage
   transaction when the writer offers one (`one_transaction`, a savepoint a document), their
   intents then in one log commit made just before Sage's, and ``written`` is logged once Sage
   committed them (one update); at the end read every written refund
   back (one read) and log ``confirmed`` (one update).

Ambiguous or unknown sales become exceptions naming the candidates; Sage's refusals become
``refund_rejected_by_sage`` with its message. Nothing here knows Dagster.

Under a currency conversion (`RefundFlowSettings.conversion`) a refund reverses part of its sale, so
it is converted at the rate the sale's receipt was posted at: the sale's refunds so far, converted
together, less what the earlier ones took, so that a sale refunded in full gives back exactly what
its receipt debited and clearing nets to zero. A sale whose receipt recorded no rate (posted before
the conversion, or found in Sage) takes the refund day's rate; none usable -> a
``missing_exchange_rate`` exception, and the refund posts (once) on the first run after the rate is
added. The log keeps both amounts and the rate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.currency import MISSING_EXCHANGE_RATE, RateTable, convert_cents
from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents
from sage_paytrace_pipeline.domain.refunds.linking import (
    AMBIGUOUS,
    LINKED,
    ORIGINAL_ID,
    RefundLinks,
    RefundMatches,
    SaleMatches,
    decide_links,
    key_matches,
    link_refunds,
    linking_keys,
    match_refunds,
    matches_by_refund,
    named_originals,
    sale_candidates,
)
from sage_paytrace_pipeline.domain.refunds.plan import (
    ReceiptApplication,
    RefundNotPlannable,
    RefundPlan,
    SaleReceipt,
    plan_refund,
    select_refunds,
    taken_by_earlier,
)
from sage_paytrace_pipeline.refunds.posting_log import RefundIntent, RefundLog
from sage_paytrace_pipeline.sage100.documents import CardRefund, CreditMemo
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.models import PostedReceipt
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import (
    Sage100Writer,
    documents_in_one_transaction,
    offers_one_transaction,
)

REFUND_EXCEPTIONS = ExceptionFrames("transaction_id")
KIND = "refund"
_WAREHOUSE_COLUMNS = ("transaction_id", "transaction_type", "status", "amount_cents", "invoice_id", "customer_id",
                      "card_last4", "created_at", "approval_code", "business_date")


@dataclass(frozen=True)
class Conversion:
    """PayTrace's currency -> Sage's: the rates file, and each sale's rate as its receipt recorded it."""

    rates: RateTable
    sale_rates: Callable[[list[int]], Mapping[int, Decimal]]  # sale id -> rate; a sale without one is absent
    currencies: tuple[str, str]  # (PayTrace's, Sage's)


@dataclass(frozen=True)
class RefundFlowSettings:
    start_date: date
    credit_memo_account: str | None = None  # None: the writer's default returns account
    conversion: Conversion | None = None  # None: one currency, nothing converted


@dataclass(frozen=True)
class Problem:
    kind: str
    severity: str
    transaction_id: int
    source_ids: str
    problem: str
    action: str


@dataclass
class RefundOutcome:
    links: pd.DataFrame
    written: list[int] = field(default_factory=list)
    confirmed_existing: list[int] = field(default_factory=list)
    awaiting_sale: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    selected: list[int] = field(default_factory=list)  # the day's refunds this flow is responsible for

    def exceptions(self) -> pd.DataFrame:
        return problems_frame(self.problems)


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    groups: dict[tuple[str, str], list[Problem]] = defaultdict(list)
    for problem in problems:
        groups[(problem.kind, problem.severity)].append(problem)
    return REFUND_EXCEPTIONS.concat([
        REFUND_EXCEPTIONS.rows(kind, severity, [p.transaction_id for p in group],
                               source_ids=[p.source_ids for p in group], problem=[p.problem for p in group],
                               action=[p.action for p in group])
        for (kind, severity), group in sorted(groups.items())])


# ------------------------------------------------------------------------------ warehouse reads


def warehouse_transactions(connection: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """Every sale (captured authorizations included) and refund the warehouse holds (all partitions), one query;
    empty before the first day."""
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'paytrace_transactions'").fetchall()[0][0]
    if not exists:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in _WAREHOUSE_COLUMNS})
    condition = "AND business_date >= ?" if since else ""
    return connection.execute(
        f"SELECT {', '.join(_WAREHOUSE_COLUMNS)} FROM pipeline.paytrace_transactions "
        f"WHERE upper(transaction_type) IN ('SALE', 'AUTHORIZATION', 'CAPTURE', 'FORCE', 'REFUND') {condition}",
        [since] if since else []).df()


def _combined(day_transactions: pd.DataFrame, warehouse: pd.DataFrame) -> pd.DataFrame:
    """The warehouse's rows with the day's rows (as loaded for this run) taking precedence."""
    columns = [c for c in _WAREHOUSE_COLUMNS if c in day_transactions]
    frame = pd.concat([day_transactions[columns], warehouse[[c for c in columns if c in warehouse]]],
                      ignore_index=True)
    frame["transaction_id"] = frame["transaction_id"].astype("int64")
    return frame.drop_duplicates("transaction_id", keep="first").reset_index(drop=True)


def _day_candidates(day_transactions: pd.DataFrame) -> pd.DataFrame:
    return sale_candidates(day_transactions[[c for c in _WAREHOUSE_COLUMNS if c in day_transactions]])


# what a refund's matches depend on (`linking.key_matches`): a kept match list is reused while they are the same
_SIGNATURE = ("invoice_id", "customer_id", "card_last4", "created_at")


class WarehouseHistory:
    """`warehouse_transactions` prepared once for the days of a range run, which each see the warehouse as
    their own run would (without the run's later days, `without_days`).

    A day's flow reads every sale and refund the warehouse holds: linking looks for the refunds' sales
    among them, and earlier days' refunds not in Sage yet are carried over. Done per day on the whole
    frame (text keys normalised, merges over every sale), a year's range run spent most of this step on
    it, growing with each day. Here the linking keys of the sales and the carried-over selection are
    computed once, the sales indexed by key, and each refund's matches among them found once a run
    (`matches_for`): the links and the carried refunds are the ones the whole frame gives (a
    transaction id is in the warehouse once, on its business day)."""

    def __init__(self, transactions: pd.DataFrame, *, _hidden: np.ndarray | None = None,
                 _prepared: WarehouseHistory | None = None) -> None:
        if _prepared is not None:  # a view: the same prepared data, other days hidden
            self.__dict__.update(_prepared.__dict__)
            self._hidden = _hidden
            return
        frame = transactions.copy()
        frame["transaction_id"] = frame["transaction_id"].astype("int64")
        self.transactions = frame.drop_duplicates("transaction_id").reset_index(drop=True)
        self._days = (pd.to_datetime(self.transactions["business_date"]).to_numpy().astype("datetime64[D]")
                      if "business_date" in self.transactions else np.full(len(self.transactions), np.datetime64("NaT"),
                                                                           dtype="datetime64[D]"))
        self._hidden = None
        candidates = sale_candidates(self.transactions)  # indexed by the rows of `transactions`
        self._candidate_rows = candidates.index.to_numpy()
        self._candidates = candidates.reset_index(drop=True)
        self._by_key = {column: self._candidates.groupby(column, sort=False).indices
                        for column in ("invoice_id", "customer_id")}
        self._candidate_ids = self._candidates["transaction_id"].to_numpy(dtype="int64")
        self._by_id = dict(zip(self._candidate_ids.tolist(), range(len(self._candidate_ids)), strict=True))
        self._id_order = np.argsort(self._candidate_ids, kind="stable")
        self._selected: dict[date, pd.DataFrame] = {}
        # refund id -> (its keys, its matches among every stored candidate, their positions): kept for the run
        self._matches: dict[int, tuple[tuple, SaleMatches | None, np.ndarray]] = {}

    @property
    def columns(self) -> list[str]:
        return list(self.transactions.columns)

    def without_days(self, days: Collection[date]) -> WarehouseHistory:
        """The warehouse as a run saw it before these days' rows were stored."""
        hidden = np.isin(self._days, np.array(sorted(days), dtype="datetime64[D]")) if days else None
        return WarehouseHistory(self.transactions, _hidden=hidden, _prepared=self)

    def frame(self) -> pd.DataFrame:
        """The visible rows, as a plain warehouse frame."""
        return self.transactions if self._hidden is None else self.transactions[~self._hidden]

    def earlier_refunds(self, day_ids: set[int], start_date: date) -> pd.DataFrame:
        """`select_refunds(...).to_post` of the visible rows not among the day's (`_carried_over`'s start)."""
        if start_date not in self._selected:
            self._selected[start_date] = select_refunds(self.transactions, start_date).to_post
        selected = self._selected[start_date]
        keep = ~selected["transaction_id"].isin(day_ids).to_numpy()
        if self._hidden is not None:
            keep &= ~self._hidden[selected.index.to_numpy()]
        return selected[keep]

    def candidates_for(self, refunds: pd.DataFrame, day_transactions: pd.DataFrame, day_ids: set[int]) -> pd.DataFrame:
        """`sale_candidates` of the day's rows and the visible warehouse rows, less the warehouse's sales
        sharing no key with `refunds` (they link none of them)."""
        rows = self._sharing_a_key(linking_keys(refunds))
        if ORIGINAL_ID in refunds:
            originals = pd.to_numeric(refunds[ORIGINAL_ID], errors="coerce").dropna().astype("int64").tolist()
            rows = np.union1d(rows, [self._by_id[sale] for sale in originals if sale in self._by_id]).astype("int64")
        if self._hidden is not None:
            rows = rows[~self._hidden[self._candidate_rows[rows]]]
        stored = self._candidates.iloc[rows]
        stored = stored[~stored["transaction_id"].isin(day_ids)]
        return pd.concat([_day_candidates(day_transactions), stored], ignore_index=True).drop_duplicates(
            "transaction_id")

    def _sharing_a_key(self, keys: pd.DataFrame) -> np.ndarray:
        """Positions (ascending) of the stored candidates sharing an invoice id or vault customer id with `keys`."""
        return self._holding(keys["invoice_id"], keys["customer_id"])

    def _matchable(self, keys: pd.DataFrame) -> np.ndarray:
        """Positions (ascending) of the stored candidates `key_matches` may pair with `keys`' refunds: a match
        shares every key of its refund, so its invoice id when it has one (else its customer id); not the other
        sales of the customer of a refund with an invoice id."""
        has_invoice = keys["invoice_id"] != ""
        return self._holding(keys.loc[has_invoice, "invoice_id"], keys.loc[~has_invoice, "customer_id"])

    def _holding(self, invoice_ids: pd.Series, customer_ids: pd.Series) -> np.ndarray:
        """Positions (ascending) of the stored candidates with one of these invoice ids or customer ids."""
        positions: set[int] = set()
        for column, values in (("invoice_id", invoice_ids), ("customer_id", customer_ids)):
            index = self._by_key[column]
            for value in set(values.tolist()) - {""}:
                found = index.get(value)
                if found is not None:
                    positions.update(found.tolist())
        return np.array(sorted(positions), dtype="int64")

    def matches_for(self, refunds: pd.DataFrame, day_transactions: pd.DataFrame, day_ids: set[int]) -> RefundMatches:
        """`match_refunds(refunds, self.candidates_for(...))`, with each keyed refund's matches among the stored
        sales found once a run and kept: a refund carried over unconfirmed is matched again every day of a
        range, against the thousands of sales of its customer. A day then drops the kept sales it does not
        see (the run's later days, the rows the day's own replace) and adds its own sales' matches."""
        keys = linking_keys(refunds).sort_values("transaction_id", kind="stable")
        named = named_originals(refunds.loc[keys.index]).to_numpy()
        found = {}
        if named.any():  # few: matched as the plain frame would, against the candidates they name
            by_name = refunds.loc[keys.index[named]]
            found.update(match_refunds(by_name, self.candidates_for(by_name, day_transactions, day_ids)).found)
        keyed = keys[~named]
        unseen = self._unseen(day_ids)
        of_day = matches_by_refund(key_matches(keyed, _day_candidates(day_transactions)))
        for refund_id, stored, positions in self._stored_matches(keyed):
            seen = stored.without(unseen[positions]) if stored is not None else None
            matched = seen.joined(of_day.get(refund_id)) if seen is not None else of_day.get(refund_id)
            if matched is not None and len(matched.sale_ids):
                found[refund_id] = matched
        return RefundMatches(keys, found)

    def _positions_of(self, sales: SaleMatches | None) -> np.ndarray:
        """The stored candidates' positions of these sales (all stored candidates)."""
        if sales is None:
            return np.empty(0, dtype="int64")
        return self._id_order[np.searchsorted(self._candidate_ids, sales.sale_ids, sorter=self._id_order)]

    def _unseen(self, day_ids: set[int]) -> np.ndarray:
        """Per stored candidate: hidden from this view, or replaced by the day's own row."""
        unseen = (self._hidden[self._candidate_rows] if self._hidden is not None
                  else np.zeros(len(self._candidate_ids), dtype=bool))
        unseen[[self._by_id[tid] for tid in day_ids if tid in self._by_id]] = True
        return unseen

    def _stored_matches(self, keys: pd.DataFrame) -> list[tuple[int, SaleMatches | None, np.ndarray]]:
        """(refund id, its matches among every stored candidate, their positions) of each keyed refund, those
        not kept yet (or whose keys changed) matched now."""
        signatures = dict(zip(keys["transaction_id"].tolist(),
                              zip(*(keys[c].tolist() for c in _SIGNATURE), strict=True), strict=True))
        todo = [refund for refund, signature in signatures.items()
                if self._matches.get(refund, ((),))[0] != signature]
        if todo:
            wanted = keys[keys["transaction_id"].isin(todo)]
            pairs = key_matches(wanted, self._candidates.iloc[self._matchable(wanted)])
            matched = matches_by_refund(pairs)
            for refund in todo:
                sales = matched.get(refund)
                self._matches[refund] = (signatures[refund], sales, self._positions_of(sales))
        return [(refund, *self._matches[refund][1:]) for refund in signatures]


# ------------------------------------------------------------------------------------ the flow


def post_paytrace_refunds(day_transactions: pd.DataFrame, warehouse: pd.DataFrame | WarehouseHistory, *,
                          day: date, settings: RefundFlowSettings, reader: Sage100Reader, writer: Sage100Writer,
                          log: RefundLog) -> RefundOutcome:
    """Record the day's PayTrace refunds in Sage (see the module docstring); returns what happened.
    `warehouse`: every sale and refund the warehouse holds, as a frame or prepared (`WarehouseHistory`)."""
    history = warehouse if isinstance(warehouse, WarehouseHistory) else None
    if history is not None and not set(history.columns) <= set(day_transactions.columns):
        warehouse = history.frame()  # the day's frame decides the columns: read as a plain frame
        history = None
    everything = None if history is not None else _combined(day_transactions, warehouse)
    today = select_refunds(day_transactions, settings.start_date)
    if history is not None:
        day_ids = set(day_transactions["transaction_id"].astype("int64").tolist()) if len(day_transactions) else set()
        carried = _not_confirmed(history.earlier_refunds(day_ids, settings.start_date), log)
    else:
        carried = _carried_over(everything, day_transactions, settings.start_date, log)
    refunds = pd.concat([today.to_post, carried], ignore_index=True).drop_duplicates("transaction_id")
    outcome = RefundOutcome(links=pd.DataFrame(), skipped=today.skipped,
                            selected=sorted(today.to_post["transaction_id"].astype("int64").tolist()))

    def linked_now() -> RefundLinks:
        if history is not None:
            return decide_links(history.matches_for(refunds, day_transactions, day_ids), _linked(log))
        return link_refunds(refunds, everything, _linked(log))

    if refunds.empty:
        outcome.links = linked_now().frame
        return outcome
    refund_ids = refunds["transaction_id"].astype("int64").tolist()
    in_sage = {int(r.transaction_id) for r in reader.card_refunds_for_transaction_ids(map(str, refund_ids))}
    links = linked_now()
    outcome.links = links.frame
    for refund_id in sorted(in_sage):  # written by an earlier run (or its lost answer): confirm, write nothing
        if log.state_of(refund_id, KIND) != "confirmed":
            _log_found(log, refund_id, links.frame, refunds, day)
            outcome.confirmed_existing.append(refund_id)
    day_ids = set(outcome.selected)
    pending = links.frame[~links.frame["refund_id"].isin(in_sage)]
    outcome.problems += _link_problems(pending[pending["outcome"] != LINKED], refunds, day_ids)
    linked = pending[pending["outcome"] == LINKED]
    receipts = _sale_receipts(reader, linked["sale_transaction_id"].astype("int64").tolist())
    sale_rates = (settings.conversion.sale_rates(sorted(receipts)) if settings.conversion is not None else {})
    by_id = refunds.set_index(refunds["transaction_id"].astype("int64"))
    written: dict[int, dict[str, str]] = {}
    # the day's documents in one Sage commit when offered, and then the day's intents in one log commit
    # made before it (entered second, left first): each intent is still committed before Sage holds anything
    with documents_in_one_transaction(writer), _log_commit_before_sage(log, writer):
        for refund_id, sale_id in zip(linked["refund_id"].tolist(), linked["sale_transaction_id"].tolist(),
                                      strict=True):
            refund = by_id.loc[int(refund_id)]
            receipt = receipts.get(int(sale_id))
            if receipt is None:
                outcome.awaiting_sale.append(int(refund_id))
                outcome.problems.append(_awaiting(int(refund_id), int(sale_id), int(refund["amount_cents"])))
                continue
            _post_one(int(refund_id), refund, receipt, day=day, settings=settings, writer=writer, log=log,
                      outcome=outcome, written=written, sale_rate=sale_rates.get(int(sale_id)))
    log.record_written_many(KIND, written)  # once Sage committed them
    outcome.written += list(written)
    _read_back(reader, log, outcome)
    return outcome


def _log_commit_before_sage(log: RefundLog, writer: Sage100Writer) -> AbstractContextManager[None]:
    """One log commit for the day's intents and refusals when Sage commits the day's documents after it;
    else none (each intent commits before its own document, as a writer committing each document needs)."""
    return log.one_commit() if offers_one_transaction(writer) else nullcontext()


def _carried_over(everything: pd.DataFrame, day_transactions: pd.DataFrame, start_date: date,
                  log: RefundLog) -> pd.DataFrame:
    """Earlier days' refunds Sage does not hold yet through this flow (waiting for their sale, or refused)."""
    day_ids = set(day_transactions["transaction_id"].astype("int64").tolist()) if len(day_transactions) else set()
    earlier = everything[~everything["transaction_id"].isin(day_ids)]
    return _not_confirmed(select_refunds(earlier, start_date).to_post, log)


def _not_confirmed(selected: pd.DataFrame, log: RefundLog) -> pd.DataFrame:
    """The selected refunds the log does not hold as confirmed."""
    if selected.empty:
        return selected
    return selected[~selected["transaction_id"].astype("int64").isin(log.confirmed_ids(KIND))]


def _linked(log: RefundLog) -> pd.DataFrame:
    return log.linked_refunds()[["refund_id", "sale_transaction_id", "amount_cents"]]


def _sale_receipts(reader: Sage100Reader, sale_ids: Iterable[int]) -> dict[int, SaleReceipt]:
    """The posted receipt Sage holds for each sale (one read); receipts still in entry count too."""
    found: dict[int, SaleReceipt] = {}
    for receipt in reader.receipts_for_transaction_ids(str(s) for s in sale_ids):
        sale_id = int(receipt.transaction_id)
        if sale_id not in found:
            found[sale_id] = _sale_receipt(sale_id, receipt)
    return found


def _sale_receipt(sale_id: int, receipt: PostedReceipt) -> SaleReceipt:
    lines = tuple(ReceiptApplication(line.invoice_no, line.invoice_type, decimal_to_cents(line.amount))
                  for line in receipt.lines)
    return SaleReceipt(sale_id=sale_id, division=receipt.division, customer_no=receipt.customer_no,
                       payment_type=receipt.payment_type, lines=lines)


def _post_one(refund_id: int, refund: pd.Series, receipt: SaleReceipt, *, day: date, settings: RefundFlowSettings,
              writer: Sage100Writer, log: RefundLog, outcome: RefundOutcome,
              written: dict[int, dict[str, str]], sale_rate: Decimal | None = None) -> None:
    """Plan, log the intent, write; a refusal is logged at once (later refunds of the sale plan
    without it), what was written goes to `written`, logged by the caller once Sage committed it."""
    same_sale = [row for row in log.linked_refunds_of_sale(receipt.sale_id) if row.refund_id != refund_id]
    taken = taken_by_earlier(json.loads(row.allocations_json) for row in same_sale)
    cents = int(refund["amount_cents"])
    sage_cents, rate = cents, None
    if settings.conversion is not None:
        converted = _in_sage_currency(refund_id, cents, _business_date(refund, day), settings.conversion, sale_rate,
                                      refunded_before=sum(row.amount_cents for row in same_sale))
        if isinstance(converted, Problem):
            outcome.problems.append(converted)
            return
        sage_cents, rate = converted
    try:
        plan = plan_refund(refund_id, sage_cents, receipt, taken)
    except RefundNotPlannable as exc:
        outcome.problems.append(Problem("refund_not_plannable", "error", refund_id, f"paytrace:{refund_id}",
                                        exc.problem, exc.action))
        return
    log.record_intent(RefundIntent(transaction_id=refund_id, kind=KIND, sale_transaction_id=receipt.sale_id,
                                   division=receipt.division, customer_no=receipt.customer_no, amount_cents=cents,
                                   business_date=_business_date(refund, day), allocations=plan.allocations(),
                                   sage_amount_cents=None if rate is None else sage_cents,
                                   fx_rate=None if rate is None else str(rate)))
    try:
        documents = _write(plan, refund, day=day, settings=settings, writer=writer)
    except Sage100ValidationError as exc:
        log.record_rejected(refund_id, KIND, str(exc))
        outcome.problems.append(Problem(
            "refund_rejected_by_sage", "error", refund_id, f"paytrace:{refund_id} sale:{receipt.sale_id}",
            f"Sage refused refund {refund_id}: {exc.problem}", exc.fix or "fix it in Sage; the next run retries"))
        return
    if documents is None:  # memos written as files, waiting for Sage's import: the refund follows next run
        outcome.problems.append(Problem(
            "refund_awaiting_import", "info", refund_id, f"paytrace:{refund_id}",
            f"the credit memo(s) of refund {refund_id} wait for Sage's import", "run the VI import job"))
        return
    written[refund_id] = documents


def _in_sage_currency(refund_id: int, cents: int, refund_day: date, conversion: Conversion,
                      sale_rate: Decimal | None, *, refunded_before: int) -> tuple[int, Decimal] | Problem:
    """(the refund in Sage's currency, its rate), or the missing rate's exception. At the sale's rate
    the sale's refunds are converted cumulatively (to the cent, in total, what the receipt debited)."""
    if sale_rate is not None:
        return (convert_cents(refunded_before + cents, sale_rate) - convert_cents(refunded_before, sale_rate),
                sale_rate)
    rate = conversion.rates.rate_on(refund_day)
    if rate is not None:
        return convert_cents(cents, rate), rate
    paytrace, sage = conversion.currencies
    return Problem(
        MISSING_EXCHANGE_RATE, "error", refund_id, f"paytrace:{refund_id} rate:{refund_day}",
        f"refund {refund_id} of {cents_to_decimal(cents)} {paytrace} needs the {paytrace}->{sage} rate of "
        f"{refund_day} (its sale's receipt recorded none), and {conversion.rates.missing_reason(refund_day)}; "
        "nothing was written to Sage",
        f"Add the rate of {refund_day} to {conversion.rates.source} as `{refund_day},<rate>` ({sage} per 1 "
        f"{paytrace}); the next run records the refund")


def _write(plan: RefundPlan, refund: pd.Series, *, day: date, settings: RefundFlowSettings,
           writer: Sage100Writer) -> dict[str, str] | None:
    """Memos (idempotent by reference) then the card refund (idempotent by the refund id)."""
    memo_nos = []
    for memo in plan.memos:
        result = writer.create_credit_memo(CreditMemo(
            reference=memo.reference, division=plan.division, customer_no=plan.customer_no, memo_date=day,
            amount=cents_to_decimal(memo.amount_cents), apply_to_invoice_no=memo.invoice_no,
            comment=f"PayTrace refund {plan.refund_id}", account=settings.credit_memo_account))
        if "InvoiceNo" not in result.documents:
            return None
        memo_nos.append(result.documents["InvoiceNo"])
    result = writer.record_card_refund(CardRefund(
        transaction_id=str(plan.refund_id), division=plan.division, customer_no=plan.customer_no,
        refund_date=day, amount=cents_to_decimal(plan.amount_cents), payment_type=plan.payment_type,
        credit_memo_no=memo_nos[0] if memo_nos else None, more_credit_memo_nos=tuple(memo_nos[1:]),
        prepayment_no=plan.prepayment_no, authorization_no=_text(refund.get("approval_code"))[:16],
        last4=_last4(refund.get("card_last4")), comment=f"sale {plan.sale_id}"))
    return {**result.documents, "CreditMemos": ",".join(memo_nos)}


def _read_back(reader: Sage100Reader, log: RefundLog, outcome: RefundOutcome) -> None:
    if not outcome.written:
        return
    found = {int(r.transaction_id): r for r in reader.card_refunds_for_transaction_ids(map(str, outcome.written))}
    log.record_confirmed_many(KIND, [refund_id for refund_id in outcome.written if refund_id in found])


def _log_found(log: RefundLog, refund_id: int, links: pd.DataFrame, refunds: pd.DataFrame, day: date) -> None:
    """Sage holds the refund already: make sure the log says so (a crash before the intent leaves no row)."""
    if log.state_of(refund_id, KIND) is None:
        link = links.set_index("refund_id").loc[refund_id] if refund_id in set(links["refund_id"]) else None
        sale = link["sale_transaction_id"] if link is not None else pd.NA
        row = refunds.set_index(refunds["transaction_id"].astype("int64")).loc[refund_id]
        log.record_intent(RefundIntent(
            transaction_id=refund_id, kind=KIND, sale_transaction_id=None if pd.isna(sale) else int(sale),
            division="", customer_no="", amount_cents=int(row["amount_cents"]),
            business_date=_business_date(row, day), allocations={}))
    log.record_confirmed(refund_id, KIND)


def _link_problems(unlinked: pd.DataFrame, refunds: pd.DataFrame, day_ids: set[int]) -> list[Problem]:
    """Exceptions for the day's refunds that could not be linked (earlier days' ones were reported then)."""
    amounts = dict(zip(refunds["transaction_id"].astype("int64"), refunds["amount_cents"].astype("int64"),
                       strict=True))
    problems = []
    for row in unlinked.itertuples(index=False):
        refund_id = int(row.refund_id)
        if refund_id not in day_ids:
            continue
        amount = cents_to_decimal(int(amounts[refund_id]))
        candidates = str(row.candidates)
        sources = f"paytrace:{refund_id}" + (f" candidates:{candidates}" if candidates else "")
        if row.outcome == AMBIGUOUS:
            problems.append(Problem(
                "refund_sale_ambiguous", "error", refund_id, sources,
                f"refund {refund_id} of {amount} fits several sales ({candidates})",
                "record it in Sage by hand against the right sale's invoice (credit memo + card refund with "
                f"CreditCardTransactionID {refund_id})"))
        else:
            named = f"; sales with its keys: {candidates} (none with {amount} unrefunded)" if candidates else ""
            problems.append(Problem(
                "refund_sale_unknown", "error", refund_id, sources,
                f"refund {refund_id} of {amount} matches no sale in the warehouse{named}",
                "find the sale in PayTrace; record the refund in Sage by hand (credit memo + card refund with "
                f"CreditCardTransactionID {refund_id})"))
    return problems


def _awaiting(refund_id: int, sale_id: int, cents: int) -> Problem:
    return Problem("refund_awaiting_sale", "warning", refund_id, f"paytrace:{refund_id} sale:{sale_id}",
                   f"refund {refund_id} of {cents_to_decimal(cents)} is of sale {sale_id}, whose receipt is not in "
                   "Sage yet", f"post sale {sale_id}'s receipt (see its receivables exception); the refund then "
                   "posts on the next run")


def _business_date(row: pd.Series, day: date) -> date:
    value = row.get("business_date")
    return day if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _last4(value: object) -> str:
    text = _text(value)
    return text if len(text) == 4 and text.isdigit() else ""

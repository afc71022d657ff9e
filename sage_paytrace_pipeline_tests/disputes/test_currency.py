"""Dispute cases under a currency conversion (a USD PayTrace merchant, a CAD Sage company) on the demo company.

Case amounts are USD; the sales' receipts were posted in CAD at their business day's rate. The books are
checked to the cent, account by account, against what each side must have moved: the receivable, the loss
account and card clearing at the sale's recorded rate, chargebacks and the processor receivable at the rate
of the day the processor moved the money (what settlement booked there), the fee that day, and the rest on
the exchange difference account.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.disputes.assets import booked_processor_lines
from sage_paytrace_pipeline.defs.exchange import exchange_rates
from sage_paytrace_pipeline.disputes.flow import run_disputes
from sage_paytrace_pipeline.disputes.posting import DisputeConversion, PostingLog
from sage_paytrace_pipeline.disputes.posting import journal_entries as dispute_entries
from sage_paytrace_pipeline.domain.currency import RateTable, convert_cents
from sage_paytrace_pipeline.domain.disputes.currency import SaleExchange, stages_in_sage_currency
from sage_paytrace_pipeline.domain.disputes.postings import (
    DisputeAccounts,
    plan_postings,
    posting_reference,
    stage_fees,
)
from sage_paytrace_pipeline.domain.ledger import JournalEntry, JournalLine
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, journal_entries, reconcile
from sage_paytrace_pipeline.domain.settlement.currency import journal_in_sage_currency
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.day import post_journal_entries
from sage_paytrace_pipeline_tests.disputes.test_reopen import _drop, _invoice_at_least, _open_balance
from sage_paytrace_pipeline_tests.domain.disputes import samples
from sage_paytrace_pipeline_tests.domain.settlement.builders import MON, NEXT_MON, TUE, WED, Scenario, gl_accounts
from sage_paytrace_pipeline_tests.sage100.writer_support import account_key, dump, money, query, receipt

AS_OF = date(2026, 12, 1)
MC_CLEARING, VISA_CLEARING, AR, BANK = "1062-00", "1061-00", "1200-00", "1010-00"
CHARGEBACKS, FEES, RECEIVABLE, LOSS = "6160-00", "6150-00", "1250-00", "6170-00"
PROCESSOR, EXCHANGE = "1260-00", "7950-00"
ACCOUNTS = (MC_CLEARING, VISA_CLEARING, AR, BANK, CHARGEBACKS, FEES, RECEIVABLE, LOSS, PROCESSOR, EXCHANGE)
CURRENCY = {"paytrace": "USD", "sage": "CAD", "rates_file": "rates.csv", "max_rate_age_days": 0,
            "exchange_difference_account": EXCHANGE}
# The days of the sample cases: sales 502 (10/31) and 503 (11/01), C200's chargeback (11/03), C400's (11/04),
# C200 won (11/20), P300 re-debits it (11/25), C400 lost (11/29).
SALE_502, SALE_503 = date(2026, 10, 31), date(2026, 11, 1)
CB_C200, CB_C400, WON_C200, PA_P300 = date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 20), date(2026, 11, 25)


def rate_of(day: date) -> Decimal:
    """CAD per USD, another rate every day (four places: products of cents land on half cents)."""
    return Decimal("1.3500") + Decimal(day.toordinal() % 9) * Decimal("0.0037")


def write_rates(path, *, without: frozenset[date] = frozenset()) -> None:
    first = date(2026, 10, 20)
    lines = [f"{day},{rate_of(day)}" for day in (first + timedelta(days=n) for n in range(50)) if day not in without]
    path.write_text("date,rate\n" + "\n".join(lines) + "\n")


def usd(cents: int, day: date) -> int:
    """USD cents in CAD cents at the day's rate."""
    return convert_cents(cents, rate_of(day))


def dollars(cents: int) -> Decimal:
    return cents_to_decimal(cents)


def _config(tmp_path, **disputes) -> tuple[PipelineConfig, str]:
    config = PipelineConfig.model_validate({"currency": CURRENCY, "disputes": {
        "chargeback_account": RECEIVABLE, "loss_account": LOSS, "case_fee": "15.00", **disputes}})
    return config, str(tmp_path / "config.yaml")


def _conversion(config: PipelineConfig, config_path: str, sales: dict[int, SaleExchange]) -> DisputeConversion:
    rates = exchange_rates(config, config_path)
    assert rates is not None
    return DisputeConversion(rates, lambda ids: {sale: sales[sale] for sale in ids if sale in sales}, ("USD", "CAD"),
                             EXCHANGE)


def _balances(company) -> dict[str, Decimal]:
    result = {}
    for account in ACCOUNTS:
        rows = query(company, "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting WHERE AccountKey = ?",
                     (account_key(company, account),))
        result[account] = sum((money(d) - money(c) for d, c in rows), Decimal("0.00"))
    return result


def _settlement(writer, reference: str, on: date, debit: str, credit: str, usd_cents: int) -> None:
    """What settlement books for the processor's debit or credit in CAD: at the rate of the day it landed."""
    value = dollars(usd(usd_cents, on))
    writer.post_journal_entry(JournalEntry(reference=reference, posting_date=on, comment=reference, lines=(
        JournalLine(account=debit, debit=value, credit=Decimal("0.00"), comment=reference),
        JournalLine(account=credit, debit=Decimal("0.00"), credit=value, comment=reference))))


def _sales_paid_in_cad(company, writer) -> tuple[dict[int, SaleExchange], dict[str, tuple[str, str, str]]]:
    """Receipts of sales 502 (1,250.00 USD, Mastercard) and 503 (80.00 USD, Visa) posted in CAD at their day's rate."""
    sales = {502: SaleExchange(rate_of(SALE_502), usd(125_000, SALE_502), 125_000),
             503: SaleExchange(rate_of(SALE_503), usd(8_000, SALE_503), 8_000)}
    big = _invoice_at_least(company, dollars(sales[502].sage_cents), set())
    small = _invoice_at_least(company, dollars(sales[503].sage_cents), {big[2]})
    for sale, (division, customer, invoice), kind in ((502, big, "MC"), (503, small, "VISA")):
        amount = str(dollars(sales[sale].sage_cents))
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=amount)],
                                         transaction_id=str(sale), payment_type=kind, card_type=kind))
    return sales, {"big": big, "small": small}


def _processor_side(writer) -> None:
    """Settlement's entries for the processor's debits and credit, each on the case's activity day:
    C200's debit with its fee, C400's with the fee, C200's money given back (won), P300's re-debit."""
    for reference, on, debit, credit, cents in (
            ("PT-BC200", CB_C200, CHARGEBACKS, BANK, 126_500), ("PT-BC400", CB_C400, CHARGEBACKS, BANK, 9_500),
            ("PT-CR-C200", WON_C200, BANK, PROCESSOR, 125_000), ("PT-BP300", PA_P300, CHARGEBACKS, BANK, 125_000)):
        _settlement(writer, reference, on, debit, credit, cents)


def _processor_side_and_every_report(tmp_path, writer) -> Path:
    """The processor's settlement lines, then the dispute reports of both cases' whole lives."""
    _processor_side(writer)
    folder = tmp_path / "dispute_reports"
    _drop(folder, samples.CHARGEBACK, samples.REPRESENTMENT, samples.WON, samples.PRE_ARB, samples.LOST_CB,
          samples.LOST)
    return folder


def _moved(company, before: dict[str, Decimal]) -> dict[str, Decimal]:
    return {account: balance - before[account] for account, balance in _balances(company).items()}


def _bank_moved() -> Decimal:
    return dollars(usd(125_000, WON_C200) - usd(126_500, CB_C200) - usd(9_500, CB_C400) - usd(125_000, PA_P300))


def _fees() -> Decimal:
    """The fees at their case's day, as the cents settlement booked with the chargeback leave them."""
    return dollars(usd(126_500, CB_C200) - usd(125_000, CB_C200) + usd(9_500, CB_C400) - usd(8_000, CB_C400))


def _line(lines: pd.DataFrame, reference: str, account: str, comment: str = "") -> pd.Series:
    chosen = lines[(lines["reference"] == reference) & (lines["account"] == account)
                   & lines["comment"].str.startswith(comment)]
    assert len(chosen) == 1, chosen
    return chosen.iloc[0]


def _assert_balanced(company) -> None:
    debits, credits = query(company, "SELECT SUM(CAST(DebitAmount AS NUMERIC)), "
                                     "SUM(CAST(CreditAmount AS NUMERIC)) FROM GL_DetailPosting")[0]
    assert money(debits) == money(credits)


def test_a_won_and_a_lost_case_in_cad_net_every_account_and_the_difference_is_realized(tmp_path, warehouse, company,
                                                                                        writer):
    config, path = _config(tmp_path)
    write_rates(tmp_path / "rates.csv")
    sales, _ = _sales_paid_in_cad(company, writer)
    before = _balances(company)
    folder = _processor_side_and_every_report(tmp_path, writer)

    run = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1",
                       conversion=_conversion(config, path, sales))

    assert run.exceptions.empty, run.exceptions[["kind", "problem"]].to_string()
    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC200-WN", "PT-DC400-CB", "PT-DC400-LS",
                                          "PT-DP300-PA"]
    big, small = sales[502].sage_cents, sales[503].sage_cents
    moved = _moved(company, before)
    assert moved == {
        # P300 holds C200's sale again, at the sale's rate (exactly its receipt); C400's went to the loss account
        RECEIVABLE: dollars(big), LOSS: dollars(small),
        CHARGEBACKS: Decimal("0.00"), PROCESSOR: Decimal("0.00"),  # what settlement booked is moved out, to the cent
        BANK: _bank_moved(), FEES: _fees(),
        AR: Decimal("0.00"), MC_CLEARING: Decimal("0.00"), VISA_CLEARING: Decimal("0.00"),  # the receipts stand
        # realized: what the processor moved at its days' rates against the sales' recorded value
        EXCHANGE: dollars(usd(125_000, CB_C200) - big + big - usd(125_000, WON_C200) + usd(125_000, PA_P300) - big
                          + usd(8_000, CB_C400) - small),
    }
    assert moved[EXCHANGE] != 0
    _assert_balanced(company)
    # each line keeps both amounts and its rate; the log each entry's
    lines = run.posting.lines
    cb = _line(lines, "PT-DC200-CB", RECEIVABLE)
    assert (cb["debit_cents"], cb["paytrace_debit_cents"], cb["fx_rate"]) == (big, 125_000, str(rate_of(SALE_502)))
    settled = _line(lines, "PT-DC200-CB", CHARGEBACKS, comment="Chargeback C200")
    assert (settled["credit_cents"], settled["paytrace_credit_cents"], settled["fx_rate"]) == (
        usd(125_000, CB_C200), 125_000, str(rate_of(CB_C200)))
    fee = _line(lines, "PT-DC200-CB", FEES)
    assert (fee["paytrace_debit_cents"], fee["fx_rate"]) == (1_500, str(rate_of(CB_C200)))
    difference = _line(lines, "PT-DC200-CB", EXCHANGE)
    assert difference["debit_cents"] - difference["credit_cents"] == usd(125_000, CB_C200) - big
    log = PostingLog(warehouse, "r1").frame().set_index("reference")
    assert log.loc["PT-DC200-WN", "paytrace_amount_cents"] == 125_000
    assert log.loc["PT-DC200-WN", "fx_rate"] == "/".join(sorted({str(rate_of(SALE_502)), str(rate_of(WON_C200))}))
    assert log.loc["PT-DC200-WN", "amount_cents"] == max(big, usd(125_000, WON_C200))

    snapshot = dump(company)
    again = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r2",
                         conversion=_conversion(config, path, sales))
    assert again.posting.posted == [] and again.exceptions.empty
    assert dump(company) == snapshot


def test_reopened_invoices_take_the_receipt_as_sage_holds_it_and_clearing_nets(tmp_path, warehouse, company, writer):
    config, path = _config(tmp_path, reopen_invoice=True)
    write_rates(tmp_path / "rates.csv")
    sales, invoices = _sales_paid_in_cad(company, writer)
    paid = {name: _open_balance(company, *where) for name, where in invoices.items()}
    before = _balances(company)
    folder = _processor_side_and_every_report(tmp_path, writer)
    reader = Sage100Reader.for_sqlite(company)

    run = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1", reader=reader,
                       conversion=_conversion(config, path, sales))

    assert run.exceptions.empty, run.exceptions[["kind", "problem"]].to_string()
    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC200-WN", "PT-DC400-CB", "PT-DP300-PA"]
    big, small = sales[502].sage_cents, sales[503].sage_cents
    # the invoices owe again exactly what the CAD receipts had paid
    assert _open_balance(company, *invoices["big"]) == paid["big"] + dollars(big)
    assert _open_balance(company, *invoices["small"]) == paid["small"] + dollars(small)
    reapplied = Sage100Reader.for_sqlite(company).receipts_for_transaction_ids(["PT-AC200-WN"])
    assert [r.amount for r in reapplied] == [dollars(big)]
    assert _moved(company, before) == {
        AR: dollars(big + small), MC_CLEARING: Decimal("0.00"), VISA_CLEARING: Decimal("0.00"),
        CHARGEBACKS: Decimal("0.00"), PROCESSOR: Decimal("0.00"), RECEIVABLE: Decimal("0.00"), LOSS: Decimal("0.00"),
        BANK: _bank_moved(), FEES: _fees(),
        EXCHANGE: dollars(usd(125_000, CB_C200) - big + big - usd(125_000, WON_C200) + usd(125_000, PA_P300) - big
                          + usd(8_000, CB_C400) - small),
    }
    _assert_balanced(company)
    log = PostingLog(warehouse, "r1").frame().set_index("reference")
    assert (log.loc["PT-OC200-CB", "amount_cents"], log.loc["PT-OC200-CB", "paytrace_amount_cents"],
            log.loc["PT-OC200-CB", "fx_rate"]) == (big, 125_000, str(rate_of(SALE_502)))
    snapshot = dump(company)
    again = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r2", reader=reader,
                         conversion=_conversion(config, path, sales))
    assert again.posting.posted == [] and again.exceptions.empty
    assert dump(company) == snapshot


def test_a_partial_chargeback_is_converted_at_the_sales_rate_and_won_back(tmp_path, warehouse, company, writer):
    config, path = _config(tmp_path)
    write_rates(tmp_path / "rates.csv")
    sales, _ = _sales_paid_in_cad(company, writer)
    before = _balances(company)
    for reference, on, debit, credit, cents in (("PT-BC200", CB_C200, CHARGEBACKS, BANK, 25_001 + 1_500),
                                                ("PT-CR-C200", WON_C200, BANK, PROCESSOR, 25_001)):
        _settlement(writer, reference, on, debit, credit, cents)
    folder = tmp_path / "dispute_reports"
    _drop(folder, samples.CHARGEBACK.replace('"(1,250.00)"', '"(250.01)"'),
          samples.WON.replace("Won,11/20/2026,MC,4837,No cardholder authorization,1250.00", "Won,11/20/2026,MC,4837,"
                              "No cardholder authorization,250.01"))

    run = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1",
                       conversion=_conversion(config, path, sales))

    assert run.exceptions.empty, run.exceptions[["kind", "problem"]].to_string()
    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC200-WN"]
    part = usd(25_001, SALE_502)  # proportional, half-up: below the receipt's CAD amount
    assert part == int((Decimal(25_001) * rate_of(SALE_502)).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert part < sales[502].sage_cents
    assert _moved(company, before) == {
        RECEIVABLE: Decimal("0.00"), CHARGEBACKS: Decimal("0.00"), PROCESSOR: Decimal("0.00"),
        BANK: dollars(usd(25_001, WON_C200) - usd(26_501, CB_C200)),
        FEES: dollars(usd(26_501, CB_C200) - usd(25_001, CB_C200)),
        EXCHANGE: dollars(usd(25_001, CB_C200) - usd(25_001, WON_C200)),
        AR: Decimal("0.00"), MC_CLEARING: Decimal("0.00"), VISA_CLEARING: Decimal("0.00"), LOSS: Decimal("0.00"),
    }
    assert _line(run.posting.lines, "PT-DC200-CB", RECEIVABLE)["debit_cents"] == part
    assert _line(run.posting.lines, "PT-DC200-WN", RECEIVABLE)["credit_cents"] == part
    _assert_balanced(company)


def test_later_stages_never_take_more_than_the_receipt():
    sale = SaleExchange(Decimal("1.3333"), sage_cents=13_333, paytrace_cents=10_000)
    assert sale.book_cents(10_000) == 13_333  # the whole sale: exactly the receipt
    assert sale.book_cents(2_500) == 3_333  # 3,333.25 half-up
    assert sale.book_cents(10_001) == 13_333  # more than the sale (a later stage's amount): never above the receipt
    rounded_up = SaleExchange(Decimal("1.5"), sage_cents=1_500, paytrace_cents=1_000)
    assert rounded_up.book_cents(999) == 1_499  # 1,498.5 half-up
    assert rounded_up.book_cents(1_000) == 1_500


def test_a_missing_rate_waits_with_its_chain_then_posts_once(tmp_path, warehouse, company, writer):
    config, path = _config(tmp_path)
    # no rate the day C200 was won, nor the day C400 was lost (a write-off needs only the sale's rate)
    write_rates(tmp_path / "rates.csv", without=frozenset({WON_C200, date(2026, 11, 29)}))
    sales, _ = _sales_paid_in_cad(company, writer)
    before = _balances(company)
    folder = _processor_side_and_every_report(tmp_path, writer)

    first = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1",
                         conversion=_conversion(config, path, sales))
    # C200's won stage has no rate: it waits, and P300 (its chain's next stage) with it
    assert sorted(first.posting.posted) == ["PT-DC200-CB", "PT-DC400-CB", "PT-DC400-LS"]
    missing = first.exceptions[first.exceptions["kind"] == "missing_exchange_rate"]
    assert len(missing) == 1 and len(first.exceptions) == 1
    assert f"rate of {WON_C200}" in missing["problem"].iloc[0] and "C200" in missing["problem"].iloc[0]
    assert str(tmp_path / "rates.csv") in missing["action"].iloc[0]
    assert set(PostingLog(warehouse, "r1").frame()["reference"]) == set(first.posting.posted)

    write_rates(tmp_path / "rates.csv")  # the rate is added
    second = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r2",
                          conversion=_conversion(config, path, sales))
    assert sorted(second.posting.posted) == ["PT-DC200-WN", "PT-DP300-PA"] and second.exceptions.empty
    snapshot = dump(company)
    third = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r3",
                         conversion=_conversion(config, path, sales))
    assert third.posting.posted == [] and dump(company) == snapshot
    moved = _moved(company, before)
    assert (moved[CHARGEBACKS], moved[PROCESSOR], moved[RECEIVABLE]) == (
        Decimal("0.00"), Decimal("0.00"), dollars(sales[502].sage_cents))


def test_a_sale_posted_without_a_rate_is_an_exception_and_nothing_of_its_case_posts(tmp_path, warehouse, company,
                                                                                     writer):
    config, path = _config(tmp_path)
    write_rates(tmp_path / "rates.csv")
    sales, _ = _sales_paid_in_cad(company, writer)
    sales[503] = SaleExchange(None, sales[503].sage_cents, sales[503].sage_cents)  # posted before the conversion
    del sales[502]  # its receipt is not in Sage (yet)
    folder = tmp_path / "dispute_reports"
    _drop(folder, samples.CHARGEBACK, samples.LOST_CB, samples.LOST)
    snapshot = dump(company)

    run = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1",
                       conversion=_conversion(config, path, sales))

    assert run.posting.posted == [] and dump(company) == snapshot
    problems = run.exceptions.set_index("source_ids")
    assert set(run.exceptions["kind"]) == {"dispute_sale_without_rate"}
    c400 = problems.loc["dispute:C400"]
    assert c400["severity"] == "error" and "posted before currency conversion was configured" in c400["problem"]
    assert problems.loc["dispute:C200", "severity"] == "warning"
    assert "no posted receipt for sale 502" in problems.loc["dispute:C200", "problem"]


def test_a_chargeback_netted_in_a_deposit_on_a_day_of_another_rate(tmp_path, company, writer):
    """Settlement converts Tuesday's short deposit at Tuesday's rate and books the netted 25.00 to chargebacks;
    the case (its report says Wednesday, another rate) moves it out at the rate settlement booked it at and to
    the chargeback receivable at the sale's (Monday's) rate: chargebacks, clearing and the processor receivable
    net to zero, the difference is realized."""
    rates = {MON: Decimal("1.3017"), TUE: Decimal("1.3391"), WED: Decimal("1.3544")}
    table = RateTable.from_rows(rates.items(), max_age_days=0, source="rates.csv")
    reader = Sage100Reader.for_sqlite(company)
    scenario = Scenario().batch(1, MON)
    sale_id = scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 7_500, "BANKCARD DEP CHGBK ADJ")  # 25.00 netted: case C9
    receipt_cents = convert_cents(10_000, rates[MON])
    division, customer, invoice = _invoice_at_least(company, dollars(receipt_cents), set())
    before = _balances(company)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice,
                                                                      amount=str(dollars(receipt_cents)))],
                                     transaction_id=str(sale_id)))  # the sale's receipt, in CAD at Monday's rate

    recon = reconcile(*scenario.frames(), policy=SettlementPolicy(discount_method="monthly"), as_of=NEXT_MON)
    active = {account.account for account in reader.gl_accounts() if account.active}
    accounts = gl_accounts(processor_receivable=PROCESSOR, clearing_by_brand={"VISA": VISA_CLEARING},
                           active_accounts=active)
    plan = journal_in_sage_currency(journal_entries(recon, accounts=accounts), recon,
                                    receipt_cents={sale_id: receipt_cents}, sale_dates={sale_id: MON}, rates=table,
                                    exchange_account=EXCHANGE, active_accounts=active)
    assert plan.held.empty and plan.exceptions.empty
    settlement_lines = plan.lines.merge(plan.entries.drop(columns=["debit_cents", "credit_cents"]), on="reference")
    post_journal_entries(writer, settlement_lines)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as warehouse:  # as the settlement asset stores them
        warehouse.execute("CREATE SCHEMA pipeline")
        warehouse.execute("CREATE TABLE pipeline.gl_journal_entries AS SELECT * FROM settlement_lines")
        config = PipelineConfig.model_validate({"currency": CURRENCY, "disputes": {"chargeback_account": RECEIVABLE}})
        booked = booked_processor_lines(warehouse, config)
    assert booked[["side", "paytrace_cents", "fx_rate"]].values.tolist() == [["debit", 2_500, str(rates[TUE])]]

    stage = pd.DataFrame({"case_number": ["C9"], "chain": ["C9"], "stage": ["chargeback"], "activity_date": [WED],
                          "taken_cents": [2_500], "returned_cents": [0], "written_off_cents": [0], "fee_cents": [0],
                          "sale": [sale_id]})
    converted = stages_in_sage_currency(
        stage, sales={sale_id: SaleExchange(rates[MON], receipt_cents, 10_000)}, rates=table,
        fees=stage_fees(stage), posted=set(), entry_reference=posting_reference, currencies=("USD", "CAD"),
        processor_lines=booked)
    assert converted.exceptions.empty
    lines = plan_postings(converted.stages.drop(columns="sale"),
                          DisputeAccounts(settled=CHARGEBACKS, chargeback=RECEIVABLE, fee=FEES, owed=PROCESSOR),
                          exchange_account=EXCHANGE)
    assert _line(lines, "PT-DC9-CB", CHARGEBACKS)["fx_rate"] == str(rates[TUE])  # the deposit day's, not Wednesday's
    for entry in dispute_entries(lines):
        writer.post_journal_entry(entry)

    moved = _moved(company, before)
    assert moved == {
        BANK: dollars(convert_cents(7_500, rates[TUE])),
        AR: -dollars(receipt_cents), VISA_CLEARING: Decimal("0.00"),  # the receipt's debit, cleared by the deposit
        CHARGEBACKS: Decimal("0.00"), PROCESSOR: Decimal("0.00"),
        RECEIVABLE: dollars(convert_cents(2_500, rates[MON])),  # the sale's money, at the sale's rate
        # the sale's CAD value less what arrived and what the case holds
        EXCHANGE: -dollars(convert_cents(7_500, rates[TUE]) + convert_cents(2_500, rates[MON]) - receipt_cents),
        MC_CLEARING: Decimal("0.00"), FEES: Decimal("0.00"), LOSS: Decimal("0.00"),
    }
    _assert_balanced(company)


def test_without_its_booked_line_the_processor_side_takes_the_activity_days_rate():
    rates = {TUE: Decimal("1.3391"), WED: Decimal("1.3544")}
    table = RateTable.from_rows(rates.items(), max_age_days=0, source="rates.csv")
    stage = pd.DataFrame({"case_number": ["C9", "C8"], "chain": ["C9", "C8"], "stage": ["chargeback"] * 2,
                          "activity_date": [WED, WED], "taken_cents": [2_500, 2_500], "returned_cents": [0, 0],
                          "written_off_cents": [0, 0], "fee_cents": [1_500, 100], "sale": [1, 2]})
    # one debit of C9's chargeback with its fee on Tuesday; two debits of C8's (with its fee): neither is taken
    booked = pd.DataFrame({"posting_date": [TUE, TUE, TUE], "side": ["debit"] * 3,
                           "paytrace_cents": [4_000, 2_600, 2_600], "fx_rate": [str(rates[TUE])] * 3})
    sale = SaleExchange(Decimal("1.3"), 13_000, 10_000)
    converted = stages_in_sage_currency(stage, sales={1: sale, 2: sale}, rates=table, fees=stage_fees(stage),
                                        posted=set(), entry_reference=posting_reference, currencies=("USD", "CAD"),
                                        processor_lines=booked).stages.set_index("case_number")
    assert converted.loc["C9", "day_fx_rate"] == str(rates[TUE])
    assert converted.loc["C9", "fee_sage_cents"] == convert_cents(4_000, rates[TUE]) - convert_cents(2_500, rates[TUE])
    assert converted.loc["C8", "day_fx_rate"] == str(rates[WED])

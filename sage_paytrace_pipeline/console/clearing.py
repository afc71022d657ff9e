"""The card clearing balance on the dashboard, read from Sage's general ledger (GL_DetailPosting).

Card clearing is every account a card receipt debits: the asset account of each card payment type
in Sage (one per brand, or one for all) and `gl_accounts.card_clearing`. Its balance (debits less
credits, cents) is what the processor still owes for receipts whose batches are not yet cleared by a
deposit entry; a balance that does not come back to zero is what reconciliation looks for. Sage is
the book of record, so this is read from Sage, not from what the pipeline believes it posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.sage100.models import as_money
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_GL_COLUMNS = ["PostingDate", "SourceJournal", "DocumentNo", "DebitAmount", "CreditAmount", "PostingComment"]
LINE_COLUMNS = ["posting_date", "account", "journal", "document_no", "debit_cents", "credit_cents", "comment"]


@dataclass(frozen=True)
class Clearing:
    accounts: list[tuple[str, str, int]]  # (account, description, balance cents) today
    lines: pd.DataFrame  # LINE_COLUMNS, every GL line on those accounts, oldest first

    @property
    def balance_cents(self) -> int:
        return sum(balance for _, _, balance in self.accounts)

    def balance_at(self, labels: list[str]) -> dict[str, int]:
        """The balance at the end of each day (YYYY-MM-DD) or month (YYYY-MM) label."""
        if self.lines.empty:
            return dict.fromkeys(labels, 0)
        dates = pd.to_datetime(self.lines["posting_date"]).to_numpy(dtype="datetime64[D]")
        running = np.cumsum((self.lines["debit_cents"] - self.lines["credit_cents"]).to_numpy(dtype="int64"))
        out = {}
        for label in labels:
            end = _period_end(label)
            upto = int(np.searchsorted(dates, np.datetime64(end), side="right"))
            out[label] = int(running[upto - 1]) if upto else 0
        return out

    def lines_in(self, period: str) -> pd.DataFrame:
        text = pd.to_datetime(self.lines["posting_date"]).dt.strftime("%Y-%m-%d")
        return self.lines[text.str.startswith(period)]


def card_clearing(reader: Sage100Reader, configured: str | None) -> Clearing:
    """Card clearing in Sage: the card payment types' asset accounts and `configured` (gl_accounts.card_clearing)."""
    chart = {account.account_key: account for account in reader.gl_accounts()}
    keys = {kind.asset_account_key for kind in reader.payment_types() if kind.is_card and kind.asset_account_key}
    keys |= {key for key, account in chart.items() if account.account == configured}
    frames = []
    for key in sorted(keys & set(chart)):
        rows = reader.rows_where("GL_DetailPosting", "AccountKey", key, _GL_COLUMNS)
        frames.append(pd.DataFrame({
            "posting_date": [row["PostingDate"] for row in rows], "account": chart[key].account,
            "journal": [row["SourceJournal"] for row in rows], "document_no": [row["DocumentNo"] for row in rows],
            "debit_cents": [decimal_to_cents(as_money(row["DebitAmount"])) for row in rows],
            "credit_cents": [decimal_to_cents(as_money(row["CreditAmount"])) for row in rows],
            "comment": [row["PostingComment"] for row in rows]}, columns=LINE_COLUMNS))
    lines = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LINE_COLUMNS)
    lines = lines.astype({"debit_cents": "int64", "credit_cents": "int64"})
    lines = lines.sort_values("posting_date", kind="stable").reset_index(drop=True)
    net = (lines["debit_cents"] - lines["credit_cents"]).groupby(lines["account"]).sum()
    accounts = [(chart[key].account, chart[key].description, int(net.get(chart[key].account, 0)))
                for key in sorted(keys & set(chart))]
    return Clearing(accounts, lines)


def _period_end(label: str) -> date:
    if len(label) == 10:
        return date.fromisoformat(label)
    start = pd.Timestamp(f"{label}-01")
    return (start + pd.offsets.MonthEnd(1)).date()

"""One business day's matching, around the pure core: vault details in, earlier postings carried.

A payment already in Sage (looked up by transaction id) is never matched again: its links and
applications come from the posting log, as posted, so a re-run reproduces the day instead of
re-deciding it against balances that payment itself already reduced. A posted payment that
PayTrace now shows voided or declined is an exception: the receipt must be reversed in Sage. With the
refund flow on (`policy.refund_flow`) a voided one is not: that flow reverses its receipt (and
reports what it cannot); a declined one, which no flow reverses, still is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, match_day, render_messages
from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.matching.open_invoices import OpenInvoiceIndex
from sage_paytrace_pipeline.paytrace.ids import GENERATED_INVOICE_ID_PATTERN
from sage_paytrace_pipeline.receivables.posting_log import Intent

_VAULT_DETAILS = ["billing_name", "billing_zip", "email"]
_NOT_MONEY_ANY_MORE = ("VOIDED", "DECLINED")
_REVERSED_BY_REFUND_FLOW = ("VOIDED",)


@dataclass(frozen=True)
class DayMatch:
    customer_links: pd.DataFrame
    applications: pd.DataFrame
    exceptions: pd.DataFrame
    skipped_counts: dict[str, int] = field(default_factory=dict)


def with_vault_details(payments: pd.DataFrame, vault: pd.DataFrame) -> pd.DataFrame:
    """Blank billing name, ZIP or e-mail of a vault payment filled from the vault customer."""
    if vault.empty or payments.empty:
        return payments
    details = vault.drop_duplicates("customer_id").set_index("customer_id")
    filled = payments.copy()
    for column in _VAULT_DETAILS:
        blank = filled[column].isna() | (filled[column].astype(str).str.strip() == "")
        from_vault = filled["customer_id"].map(details[column])
        filled[column] = filled[column].astype(object).where(~blank, from_vault)
    return filled


def without_generated_keys(payments: pd.DataFrame) -> pd.DataFrame:
    """invoice_id blanked where it is a key our PayTrace client generated, not a reference a payer wrote."""
    generated = payments["invoice_id"].astype("string").str.fullmatch(GENERATED_INVOICE_ID_PATTERN).fillna(False)
    if not generated.any():
        return payments
    return payments.assign(invoice_id=payments["invoice_id"].astype(object).where(~generated.to_numpy(), ""))


def match_business_day(payments: pd.DataFrame, vault: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame,
                       open_invoices: pd.DataFrame | OpenInvoiceIndex, *, links: pd.DataFrame, policy: MatchingPolicy,
                       earlier: dict[int, Intent]) -> DayMatch:
    """Match the payments not yet in Sage; carry the ones in Sage (`earlier`, by transaction id).
    `open_invoices` may come indexed (see `match_day`)."""
    payments = without_generated_keys(with_vault_details(payments, vault))
    posted = payments["transaction_id"].isin(list(earlier))
    # every link and application of the day is stored (and shown): all of them get their explanation
    result = render_messages(match_day(payments[~posted], customers, cards, open_invoices, links=links,
                                       policy=policy))
    carried_links, carried_applications = carried_forward(earlier)
    return DayMatch(
        customer_links=_flagged(result.customer_links, carried_links),
        applications=_flagged(result.applications, carried_applications),
        exceptions=concat_exceptions([result.exceptions,
                                      _reversed_after_posting(payments[posted], earlier, policy.refund_flow)]),
        skipped_counts={**result.skipped_counts, "posted_earlier": int(posted.sum())},
    )


def carried_forward(earlier: dict[int, Intent]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(links, applications) of payments posted in earlier runs, as the log recorded them."""
    links, applications = [], []
    for transaction_id, intent in sorted(earlier.items()):
        link = json.loads(intent.link_json) or {}
        links.append({"transaction_id": transaction_id, "division": intent.division, "customer_no": intent.customer_no,
                      "method": link.get("method") or "posted_earlier", "score": link.get("score", 100.0),
                      "explanation": link.get("explanation") or "posted in an earlier run"})
        for line in json.loads(intent.applications_json):
            applications.append({"transaction_id": transaction_id, "division": intent.division,
                                 "customer_no": intent.customer_no, **line})
    return pd.DataFrame(links), pd.DataFrame(applications)


def _flagged(matched: pd.DataFrame, carried: pd.DataFrame) -> pd.DataFrame:
    frames = [matched.assign(posted_earlier=False)]
    if not carried.empty:
        frames.append(carried[list(matched.columns)].assign(posted_earlier=True))
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    combined["transaction_id"] = combined["transaction_id"].astype("int64")
    return combined.sort_values("transaction_id", kind="stable", ignore_index=True)


def _reversed_after_posting(posted: pd.DataFrame, earlier: dict[int, Intent], refund_flow: bool) -> pd.DataFrame:
    """`posted_then_voided` for each posted payment PayTrace no longer shows as money; voided ones are
    left to the refund flow when it is on (it reverses their receipts)."""
    status = posted["status"].astype(str).str.upper()
    gone = posted[status.isin(_NOT_MONEY_ANY_MORE) & ~(refund_flow & status.isin(_REVERSED_BY_REFUND_FLOW))]
    if gone.empty:
        return concat_exceptions([])
    ids = gone["transaction_id"]
    label = ids.map(lambda tid: f"{earlier[tid].division}-{earlier[tid].customer_no}")
    status = gone["status"].astype(str).str.lower()
    return make_exceptions(
        "posted_then_voided", "error", ids,
        source_ids="paytrace:" + ids.astype(str),
        problem="transaction " + ids.astype(str) + " is in Sage as a cash receipt of " + label + " but PayTrace now "
                "shows it " + status + "; the customer's balance is understated",
        action="Reverse the receipt in Sage (AR Cash Receipts: NSF/reversal of the deposit holding transaction "
               + ids.astype(str) + ") so the invoices are open again",
    )


INVOICE_KEY = ["division", "customer_no", "invoice_no", "invoice_type"]


def after_receipts(open_invoices: pd.DataFrame, applications: pd.DataFrame) -> pd.DataFrame:
    """The open invoices once the day's new receipts are posted: each invoice's balance less what they
    apply to it, paid-off invoices gone (as Sage's open items read the next day). Lets a run over many
    days match each day against the balances the earlier days leave, without reading Sage in between.
    Receipts posted earlier (`posted_earlier`) are already in the balances and change nothing."""
    applied = newly_applied(applications)
    if applied is None or open_invoices.empty:
        return open_invoices
    joined = open_invoices.join(applied.rename("applied_cents"), on=INVOICE_KEY)
    balance = open_invoices["balance_cents"] - joined["applied_cents"].fillna(0).astype("int64")
    remaining = open_invoices.assign(balance_cents=balance.astype(open_invoices["balance_cents"].dtype))
    return remaining[remaining["balance_cents"] != 0].reset_index(drop=True)


def newly_applied(applications: pd.DataFrame) -> pd.Series | None:
    """Cents the day's new receipts apply to each invoice (INVOICE_KEY), None when they apply to none."""
    new = applications
    if "posted_earlier" in new.columns:
        new = new[~new["posted_earlier"].astype(bool)]
    new = new[new["invoice_no"].notna() & (new["invoice_no"].astype(str) != "")]
    if new.empty:
        return None
    return new.groupby(INVOICE_KEY, dropna=False)["amount_cents"].sum()

"""A dispute case -> the PayTrace sale it disputes, without guessing.

The report does not carry PayTrace's transaction id; it carries the card's last 4, the sale's
amount and date, often the authorization code and the merchant's order reference (disputes.md
§3.5). A case is linked by, in order:

1. its ``reference`` equal to a sale's ``invoice_id`` on the same card last 4;
2. else the card last 4, the transaction amount (the case amount when the report prints none; a
   partial dispute needs the transaction amount), the sale's business date within
   ``DATE_TOLERANCE_DAYS`` of the transaction date, and the authorization code when the report has one.

Exactly one sale: linked. None: unknown. Several: ambiguous, with the candidates named. Several
cases may link to one sale (a retrieval, then a chargeback; disputes over time). Candidate
generation is one merge on card last 4 over the whole frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames

SALE_TYPES = frozenset({"SALE", "AUTHORIZATION", "CAPTURE", "FORCE"})
MONEY_STATUSES = frozenset({"PENDING", "SETTLED"})
DATE_TOLERANCE_DAYS = 3
LINKED, AMBIGUOUS, UNKNOWN = "linked", "ambiguous", "unknown"
LINK_COLUMNS = ["case_number", "sale_transaction_id", "link", "link_rule", "candidates"]
EXCEPTIONS = ExceptionFrames("transaction_id")


def approved_sales(transactions: pd.DataFrame) -> pd.DataFrame:
    """(transaction_id, business_date, amount_cents, card_last4, approval_code, invoice_id) of the
    approved sales (pending or settled), one row per id."""
    columns = ["transaction_id", "business_date", "amount_cents", "card_last4", "approval_code", "invoice_id"]
    if transactions.empty:
        return pd.DataFrame(columns=columns)
    kind = transactions["transaction_type"].astype("string").fillna("").str.upper()
    status = transactions["status"].astype("string").fillna("").str.upper()
    chosen = transactions.loc[kind.isin(SALE_TYPES) & status.isin(MONEY_STATUSES), columns].copy()
    for column in ("card_last4", "approval_code", "invoice_id"):
        chosen[column] = chosen[column].astype("string").fillna("").str.strip()
    chosen["approval_code"] = chosen["approval_code"].str.upper()
    chosen["business_date"] = pd.to_datetime(chosen["business_date"]).dt.date
    return chosen.drop_duplicates("transaction_id", keep="last").reset_index(drop=True)


def link_cases(cases: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """One row per case (LINK_COLUMNS): its sale (Int64, NA unless linked), linked / ambiguous / unknown,
    the rule that found it, and the candidate sale ids ("" when none)."""
    keys = cases[["case_number", "card_last4", "reference", "authorization_code", "transaction_date",
                  "amount_cents", "transaction_amount_cents"]].drop_duplicates("case_number").copy()
    keys["sale_amount_cents"] = keys["transaction_amount_cents"].fillna(keys["amount_cents"]).astype("int64")
    pairs = keys.merge(sales.rename(columns={"amount_cents": "sale_cents"}), on="card_last4", how="inner")
    by_reference = pairs[(pairs["reference"] != "") & (pairs["reference"] == pairs["invoice_id"])]
    days = (pd.to_datetime(pairs["business_date"]) - pd.to_datetime(pairs["transaction_date"])).dt.days.abs()
    by_card = pairs[(pairs["sale_cents"] == pairs["sale_amount_cents"]) & (days <= DATE_TOLERANCE_DAYS)
                    & ((pairs["authorization_code"] == "") | (pairs["authorization_code"] == pairs["approval_code"]))]
    referenced = set(by_reference["case_number"])
    found = pd.concat([by_reference.assign(link_rule="reference"),
                       by_card[~by_card["case_number"].isin(referenced)].assign(link_rule="card_amount_date")])
    found = found.drop_duplicates(["case_number", "transaction_id"]).sort_values(["case_number", "transaction_id"])
    grouped = found.groupby("case_number").agg(count=("transaction_id", "size"), first=("transaction_id", "min"),
                                               link_rule=("link_rule", "first"))
    grouped["candidates"] = found.assign(id_text=found["transaction_id"].astype(str)).groupby("case_number")[
        "id_text"].agg(", ".join)
    out = keys[["case_number"]].merge(grouped, left_on="case_number", right_index=True, how="left")
    count = out["count"].fillna(0).to_numpy()
    out["link"] = np.select([count == 1, count > 1], [LINKED, AMBIGUOUS], default=UNKNOWN)
    first = pd.to_numeric(out["first"], errors="coerce").fillna(0).astype("int64").to_numpy()
    out["sale_transaction_id"] = pd.array(np.where(count == 1, first, 0), dtype="Int64")
    out.loc[count != 1, "sale_transaction_id"] = pd.NA
    out["link_rule"] = out["link_rule"].where(count == 1, "").fillna("")
    out["candidates"] = out["candidates"].fillna("")
    return out[LINK_COLUMNS].reset_index(drop=True)


def link_exceptions(described: pd.DataFrame) -> pd.DataFrame:
    """An error per case (cases.case_summary rows, after a later case took its first case's sale) with
    no sale or several: what the report says, and the candidates."""
    described = described.reset_index(drop=True)
    what = ("case " + described["case_number"].astype(str) + " (card ending " + described["card_last4"].astype(str)
            + ", " + _dollars(described["transaction_amount_cents"].fillna(described["amount_cents"]))
            + " on " + described["transaction_date"].astype(str) + ")")
    unknown = described[described["link"] == UNKNOWN]
    ambiguous = described[described["link"] == AMBIGUOUS]
    return EXCEPTIONS.concat([
        EXCEPTIONS.rows("dispute_sale_unknown", "error", None, size=len(unknown),
                        source_ids=("dispute:" + unknown["case_number"].astype(str)).to_numpy(dtype=object),
                        problem=(what[unknown.index] + " matches no approved PayTrace sale by order reference, or by "
                                 "card, amount and date").to_numpy(dtype=object),
                        action="find the sale in PayTrace's virtual terminal and check the report's card, amount and "
                               "date; the case is tracked (and its deadline alerted) without a sale until then"),
        EXCEPTIONS.rows("dispute_sale_ambiguous", "error", None, size=len(ambiguous),
                        source_ids=("dispute:" + ambiguous["case_number"].astype(str) + "; sales "
                                    + ambiguous["candidates"]).to_numpy(dtype=object),
                        problem=(what[ambiguous.index] + " matches several PayTrace sales ("
                                 + ambiguous["candidates"] + ")").to_numpy(dtype=object),
                        action="ask the processor for the case's order reference or authorization code and add "
                               "it to the report; refunds stay blocked on every candidate meanwhile"),
    ])


def _dollars(cents: pd.Series) -> pd.Series:
    values = cents.astype("int64")
    return "$" + (values // 100).astype(str) + "." + (values % 100).astype(str).str.zfill(2)

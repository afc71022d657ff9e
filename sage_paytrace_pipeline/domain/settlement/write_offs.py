"""Writing off what the processor receivable still holds for a batch, by a recorded decision.

A short or missing deposit leaves the difference in ``gl_accounts.processor_receivable``
(journal.py). What nobody can explain (no dispute case, no fee adjustment, no late deposit) is
written off by a person's decision (who, when, batch, account, reason, optionally an amount): the
next settlement run posts ``PT-W<batch>-<decision>`` Dr the chosen account / Cr processor receivable,
once, for what the receivable still holds for the batch (never more).

What the receivable holds per batch is read back from Sage's GL detail of that account, by the line
comments the pipeline's entries write: ``Short batch <n> <group>`` and ``Missing batch <n> <group>``
(debits: booked owed), ``Short batch <n> <group> paid`` and ``Late deposit batch <n> <group>``
(credits: it arrived), ``Write-off <n> #<decision>`` (credits: written off). A decision whose
write-off line is in Sage is done, so a re-run posts nothing; lines of other entries (a won dispute
case and its credit) name no batch and are not counted for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.domain.settlement.frames import concat_exceptions, exception_rows

WRITE_OFF = "receivable_write_off"
WRITE_OFF_REFUSED = "write_off_refused"  # a recorded decision the run cannot post (what changed is said)
DECISION_COLUMNS = ("decision_id", "batch_number", "account", "amount_cents", "reason", "decided_by", "decided_on")
_BATCH_LINE = re.compile(r"^(?:Short batch|Missing batch|Late deposit batch|Write-off) (\d+)\b")
_WRITTEN = re.compile(r"^Write-off (\d+) #(\d+)$")
_RESOLVED_KINDS = ("deposit_variance", "deposit_missing")
COMMENT_LENGTH = 30  # Sage keeps 30 characters of a line comment


def write_off_reference(batch_number: int, decision_id: int) -> str:
    return f"PT-W{int(batch_number)}-{int(decision_id)}"


def write_off_comment(batch_number: int, decision_id: int) -> str:
    """The receivable line's comment: the record (read back from Sage) that the decision is posted."""
    return f"Write-off {int(batch_number)} #{int(decision_id)}"


def late_deposit_comment(batch_number: int, funding_group: str) -> str:
    return f"Late deposit batch {int(batch_number)} {funding_group}"


@dataclass(frozen=True)
class ReceivableByBatch:
    """What the processor receivable holds per batch (cents, debits less credits) and the decisions
    whose write-off line is in Sage (with the cents each wrote off)."""

    open_cents: dict[int, int]
    written: dict[int, int]  # decision_id -> cents written off

    def open_for(self, batch_number: int) -> int:
        return max(0, self.open_cents.get(int(batch_number), 0))


def receivable_by_batch(comments: Iterable[object], debit_cents: Iterable[int],
                        credit_cents: Iterable[int]) -> ReceivableByBatch:
    """From the receivable account's GL detail lines (comment, debit, credit in cents)."""
    open_cents: dict[int, int] = {}
    written: dict[int, int] = {}
    for comment, debit, credit in zip(comments, debit_cents, credit_cents, strict=True):
        text = str(comment or "").strip()
        match = _BATCH_LINE.match(text)
        if match is None:
            continue
        batch = int(match.group(1))
        open_cents[batch] = open_cents.get(batch, 0) + int(debit) - int(credit)
        if (done := _WRITTEN.match(text)) is not None:
            written[int(done.group(2))] = written.get(int(done.group(2)), 0) + int(credit) - int(debit)
    return ReceivableByBatch(open_cents, written)


@dataclass(frozen=True)
class WriteOffPlan:
    """The entries to post (journal.ENTRY_COLUMNS), their lines (journal.LINE_COLUMNS), the decisions
    that cannot be posted (exceptions), and per batch what the write-offs leave open (resolved)."""

    entries: pd.DataFrame
    lines: pd.DataFrame
    exceptions: pd.DataFrame
    resolved: pd.DataFrame  # batch_number, written_cents, left_cents, references, decided


def plan_write_offs(decisions: pd.DataFrame, receivable: ReceivableByBatch, *, receivable_account: str,
                    active_accounts: Iterable[str], first_open_date: date | None = None) -> WriteOffPlan:
    """One balanced entry per decision not yet in Sage: Dr the decision's account / Cr the receivable,
    the decision's amount (or, without one, what the batch still holds). A decision above what the
    batch still holds, for a batch holding nothing, or naming an account Sage does not have active is
    refused with an exception, and nothing of it is posted."""
    active = set(active_accounts)
    entries, lines, problems, resolved = [], [], [], []
    left = {batch: max(0, cents) for batch, cents in receivable.open_cents.items()}
    for row in decisions.sort_values("decision_id").itertuples(index=False):
        batch, decision = int(row.batch_number), int(row.decision_id)
        reference = write_off_reference(batch, decision)
        said = f"decision #{decision} by {row.decided_by} on {row.decided_on} ({row.reason})"
        if decision in receivable.written:  # in Sage already: what it wrote off is in `left` already
            resolved.append((batch, receivable.written[decision], reference, said))
            continue
        holds = left.get(batch, 0)
        amount = holds if pd.isna(row.amount_cents) else int(row.amount_cents)
        refusal = _refusal(batch, amount, holds, str(row.account), active=active, receivable_account=receivable_account,
                           cancel=f"sage-paytrace settlement cancel-write-off {decision}")
        if refusal:
            problems.append(exception_rows(
                WRITE_OFF_REFUSED, "error", [batch], source_ids=f"write-off #{decision} batch {batch}",
                problem=f"the write-off {said} is not posted: {refusal[0]}", action=refusal[1]))
            continue
        left[batch] = holds - amount
        posting_date = max(row.decided_on, first_open_date) if first_open_date else row.decided_on
        entries.append({"reference": reference, "kind": WRITE_OFF, "posting_date": posting_date,
                        "description": f"Write-off batch {batch}"[:COMMENT_LENGTH], "batch_number": batch,
                        "funding_group": "", "source_ids": f"write-off #{decision} by {row.decided_by}",
                        "debit_cents": amount, "credit_cents": amount, "line_count": 2})
        lines.append((reference, 1, "write_off", "", str(row.account), amount, 0, str(row.reason)[:COMMENT_LENGTH]))
        lines.append((reference, 2, "processor_receivable", "", receivable_account, 0, amount,
                      write_off_comment(batch, decision)))
        resolved.append((batch, amount, reference, said))
    resolved_frame = pd.DataFrame(resolved, columns=["batch_number", "written_cents", "reference", "decided"])
    if len(resolved_frame):
        resolved_frame = resolved_frame.groupby("batch_number", as_index=False).agg(
            written_cents=("written_cents", "sum"), references=("reference", ", ".join),
            decided=("decided", "; ".join))
        resolved_frame["left_cents"] = [left.get(int(batch), 0) for batch in resolved_frame["batch_number"]]
    else:
        resolved_frame = pd.DataFrame(columns=["batch_number", "written_cents", "references", "decided", "left_cents"])
    entry_frame = pd.DataFrame(entries, columns=["reference", "kind", "posting_date", "description", "batch_number",
                                                 "funding_group", "source_ids", "debit_cents", "credit_cents",
                                                 "line_count"])
    entry_frame["batch_number"] = entry_frame["batch_number"].astype("Int64")
    line_frame = pd.DataFrame(lines, columns=["reference", "line_no", "role", "brand", "account", "debit_cents",
                                              "credit_cents", "comment"])
    for column in ("line_no", "debit_cents", "credit_cents"):
        line_frame[column] = line_frame[column].astype("int64")
    return WriteOffPlan(entry_frame, line_frame,
                        concat_exceptions(problems), resolved_frame)


def _refusal(batch: int, amount: int, holds: int, account: str, *, active: set[str], receivable_account: str,
             cancel: str) -> tuple[str, str] | None:
    """(problem, action) when the decision cannot be posted as recorded; None when it can."""
    if holds <= 0:
        return (f"the processor receivable holds nothing for batch {batch} now",
                f"check batch {batch}'s entries in Sage (a late deposit or the rest of a short one may have cleared "
                f"it since the decision): nothing is left to write off; cancel the decision ({cancel})")
    if amount <= 0:
        return "a write-off must be above 0.00", f"cancel the decision ({cancel}) and record a positive amount"
    if amount > holds:
        return (f"it writes off {_money(amount)} but the processor receivable holds only "
                f"{_money(holds)} for batch {batch}",
                f"cancel the decision ({cancel}) and record one for at most what is open (or without --amount: "
                "all of it)")
    if account not in active or account == receivable_account:
        return (f"account {account} is not an active Sage account other than the processor receivable",
                f"cancel the decision ({cancel}) and record it with an active expense account")
    return None


def _money(cents: int) -> str:
    return format_cents([cents])[0]


def resolved_by_write_offs(exceptions: pd.DataFrame, resolved: pd.DataFrame) -> pd.DataFrame:
    """The short/missing deposit exceptions of written-off batches: resolved (info) when nothing is left
    open for the batch, else still an error saying what was written off and what is left."""
    if exceptions.empty or resolved.empty:
        return exceptions
    by_batch = resolved.set_index(resolved["batch_number"].astype("int64"))
    batch = pd.to_numeric(exceptions["batch_number"], errors="coerce").astype("Int64")
    hit = (exceptions["kind"].isin(_RESOLVED_KINDS) & batch.isin(by_batch.index)).fillna(False).to_numpy(dtype=bool)
    if not hit.any():
        return exceptions
    found = by_batch.reindex(batch[hit].astype("int64").to_numpy())
    done = (found["left_cents"] == 0).to_numpy()
    text = ("written off " + pd.Series(format_cents(found["written_cents"].astype("int64"))).to_numpy() + " (entry "
            + found["references"].to_numpy() + ", " + found["decided"].to_numpy() + ")")
    action = np.where(done, "resolved: " + text + "; nothing is left in the processor receivable for the batch",
                      text + "; " + pd.Series(format_cents(found["left_cents"].astype("int64"))).to_numpy()
                      + " is still in the processor receivable: clear it or write it off")
    out = exceptions.copy()
    out.loc[hit, "action"] = action
    out.loc[hit, "severity"] = np.where(done, "info", out.loc[hit, "severity"].to_numpy())
    return out

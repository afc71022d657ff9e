"""Bank statements for a PayTrace sandbox's closed batches, plus the truth file that explains them.

Layout under the output folder (one folder per format, so that a drop-folder scan of either sees
each deposit once):

    bai2/<posted date>.bai     one prior-day BAI2 file per posting date
    ofx/statement_<first>_<last>.ofx   one OFX download covering every posting date
    truth.json                 every entry with its batches, gross, fees, expected net, actual, problems
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from sage_paytrace_pipeline.paytrace.models import Batch, parse_batch
from sage_paytrace_pipeline.sandbox.bank.funding import (
    BankEntry,
    FundingProfile,
    plan_bank_entries,
)
from sage_paytrace_pipeline.sandbox.bank.writers import write_bai2, write_ofx

if TYPE_CHECKING:
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox

StatementFormatName = Literal["bai2", "ofx"]
# The v1 route the batches are read from (called on the sandbox engine directly, no HTTP client).
BATCH_EXPORT = "/v1/batches/export"
TRUTH_FILE = "truth.json"


class BankTruth(BaseModel):
    """Ground truth for the reconciliation: what should have arrived, and what the bank shows."""

    profile: FundingProfile
    entries: list[BankEntry]
    files: dict[str, list[str]]  # format -> file paths relative to the output folder

    def planted(self, problem: str) -> list[BankEntry]:
        return [entry for entry in self.entries if problem in entry.problems]


def sandbox_batches(sandbox: PayTraceSandbox, start: date = date(2000, 1, 1), end: date | None = None) -> list[Batch]:
    """The sandbox's closed batches, exported and parsed exactly as the PayTrace client does."""
    end = end or sandbox.now().date()
    status, body = sandbox.call(BATCH_EXPORT, {"start_date": f"{start:%m/%d/%Y}", "end_date": f"{end:%m/%d/%Y}"})
    if status != 200 or not body.get("success"):
        raise RuntimeError(f"the sandbox refused the batch export: HTTP {status} {body.get('errors')}")
    zone = sandbox.settings().zone
    return [parse_batch(record, zone) for record in body.get("batches") or []]


def generate_bank_statements(batches: Sequence[Batch], profile: FundingProfile, out: Path,
                             formats: Iterable[StatementFormatName] = ("bai2", "ofx")) -> BankTruth:
    entries = plan_bank_entries(batches, profile)
    shown = [entry for entry in entries if entry.amount_cents is not None]
    files: dict[str, list[str]] = {}
    if shown and "bai2" in formats:
        days = sorted({entry.posted_date for entry in shown})
        files["bai2"] = [str(write_bai2([e for e in shown if e.posted_date == day], out / "bai2" / f"{day}.bai")
                             .relative_to(out)) for day in days]
    if shown and "ofx" in formats:
        name = f"statement_{shown[0].posted_date}_{shown[-1].posted_date}.ofx"
        files["ofx"] = [str(write_ofx(shown, out / "ofx" / name).relative_to(out))]
    truth = BankTruth(profile=profile, entries=entries, files=files)
    out.mkdir(parents=True, exist_ok=True)
    (out / TRUTH_FILE).write_text(truth.model_dump_json(indent=2), encoding="utf-8")
    return truth

"""Activity plans: a list of v1 calls at given merchant-local times, replayed into a sandbox.

A plan is what the generator produces and what `POST /_sandbox/load` accepts. Replaying goes
through exactly the same `PayTraceSandbox.call` as the HTTP routes, with the virtual clock set to
each call's time, so generated data obeys the same state machine, batches and validation as live
traffic. Later calls refer to transactions created earlier by `ref` (ids are only known at replay).

Plans carry card numbers only in memory and in the request that loads them; they are never
written to disk by this project.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox


class PlanCall(BaseModel):
    """One v1 call: when (merchant local time), which route, which body."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    route: str
    body: dict[str, Any] = Field(default_factory=dict)
    # Name under which the returned transaction_id is remembered.
    ref: str | None = None
    # Body fields to fill from earlier refs: {"transaction_id": "sale-17"}.
    uses: dict[str, str] = Field(default_factory=dict)


class ActivityPlan(BaseModel):
    calls: list[PlanCall] = Field(default_factory=list)
    # Where to leave the clock afterwards (merchant local); None restores the previous clock mode.
    finish_at: datetime | None = None


class PlanOutcome(BaseModel):
    """What a replay did: counts by route and response code, and the ids each ref received."""

    calls: int
    responses: dict[str, int]
    transaction_ids: dict[str, int]
    failures: list[str]
    batches_closed: list[int]


def apply_plan(sandbox: PayTraceSandbox, plan: ActivityPlan, *, known: Mapping[str, int] | None = None) -> PlanOutcome:
    """Replay a plan call by call; a call whose ref target is missing is skipped and reported.

    `known`: the ids earlier parts of the same plan received (a plan replayed in stages, with the
    pipeline running in between, refers to transactions an earlier stage created).
    """
    previous_mode = sandbox.set_clock()["mode"]
    ids: dict[str, int] = dict(known or {})
    responses: Counter[str] = Counter()
    failures: list[str] = []
    batches: list[int] = []
    for index, call in enumerate(sorted(plan.calls, key=lambda c: c.at)):
        missing = [ref for ref in call.uses.values() if ref not in ids]
        if missing:
            failures.append(f"call {index} {call.route}: refs {missing} were never created")
            continue
        body = {**call.body, **{field: ids[ref] for field, ref in call.uses.items()}}
        batches += sandbox.set_clock(at=call.at)["batches_closed"]
        status, response = sandbox.call(call.route, body)
        responses[f"{call.route} {response.get('response_code')}"] += 1
        if call.ref and response.get("transaction_id") is not None:
            ids[call.ref] = int(response["transaction_id"])
        if status >= 500:
            failures.append(f"call {index} {call.route}: HTTP {status}")
    batches += _finish_clock(sandbox, plan, previous_mode)
    return PlanOutcome(calls=len(plan.calls), responses=dict(sorted(responses.items())),
                       transaction_ids=ids, failures=failures, batches_closed=batches)


def _finish_clock(sandbox: PayTraceSandbox, plan: ActivityPlan, previous_mode: str) -> list[int]:
    """Leave the clock where the plan says, back on real time if it was, else frozen at the end."""
    if plan.finish_at is not None:
        return sandbox.set_clock(at=plan.finish_at)["batches_closed"]
    if previous_mode == "real":
        return sandbox.set_clock(mode="real")["batches_closed"]
    return []

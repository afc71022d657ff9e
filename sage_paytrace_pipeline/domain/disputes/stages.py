"""A case's stages: the names a report uses, their order, and the money each one moves.

Order: retrieval -> chargeback -> representment -> pre-arbitration -> arbitration, then one outcome
(won, lost, accepted). A won case can still be re-opened by a pre-arbitration (the issuer rejects
the representment after the reversal): that is in order too. Pre-arbitration may come under its own
case number pointing back to the first chargeback (`original_case_number`); the two form one
*chain*, the unit money is followed in.

Money, per chain and in stage order (cents, positive = the processor took it from the merchant):
- chargeback: the disputed amount is taken;
- pre-arbitration / arbitration: taken again only when a reversal gave it back before (the money
  "may re-debit"); otherwise the chargeback's money is still held;
- won: what is held comes back (the reversal);
- lost / accepted: nothing moves; what is held stays lost (`written_off`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

RETRIEVAL = "retrieval"
CHARGEBACK = "chargeback"
REPRESENTMENT = "representment"
PRE_ARBITRATION = "pre_arbitration"
ARBITRATION = "arbitration"
WON = "won"
LOST = "lost"
ACCEPTED = "accepted"
STAGES = (RETRIEVAL, CHARGEBACK, REPRESENTMENT, PRE_ARBITRATION, ARBITRATION, WON, LOST, ACCEPTED)
OUTCOMES = (WON, LOST, ACCEPTED)
DEBITING = (CHARGEBACK, PRE_ARBITRATION, ARBITRATION)
_RANK = {RETRIEVAL: 0, CHARGEBACK: 1, REPRESENTMENT: 2, PRE_ARBITRATION: 3, ARBITRATION: 4,
         WON: 5, LOST: 5, ACCEPTED: 5}
# Two letters in posting references ("PT-D<case>-CB").
CODES = {RETRIEVAL: "RR", CHARGEBACK: "CB", REPRESENTMENT: "RP", PRE_ARBITRATION: "PA", ARBITRATION: "AR",
         WON: "WN", LOST: "LS", ACCEPTED: "AC"}

# What processors print -> our stage (Fiserv/TSYS status words, Braintree kinds, Adyen record types).
_ALIASES = {
    "retrieval": RETRIEVAL, "retrieval_request": RETRIEVAL, "rfi": RETRIEVAL, "request_for_information": RETRIEVAL,
    "copy_request": RETRIEVAL, "inquiry": RETRIEVAL,
    "chargeback": CHARGEBACK, "first_chargeback": CHARGEBACK, "cb": CHARGEBACK,
    "notification_of_chargeback": CHARGEBACK,
    "representment": REPRESENTMENT, "re_presentment": REPRESENTMENT, "second_presentment": REPRESENTMENT,
    "challenged": REPRESENTMENT, "responded": REPRESENTMENT, "disputed": REPRESENTMENT,
    "pre_arbitration": PRE_ARBITRATION, "pre_arb": PRE_ARBITRATION, "prearbitration": PRE_ARBITRATION,
    "second_chargeback": PRE_ARBITRATION, "secondchargeback": PRE_ARBITRATION,
    "arbitration": ARBITRATION, "arb": ARBITRATION,
    "won": WON, "closed_won": WON, "reversal": WON, "chargeback_reversed": WON, "chargebackreversed": WON,
    "lost": LOST, "closed_lost": LOST, "expired": LOST,
    "accepted": ACCEPTED, "closed_accepted": ACCEPTED,
}


def normalize_stage(text: str) -> str | None:
    """The stage a report's word means ("PRE-ARBITRATION", "Second Chargeback"), None when unknown."""
    key = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    return _ALIASES.get(key)


def stage_rank(stages: pd.Series) -> np.ndarray:
    return stages.map(_RANK).to_numpy(dtype="int64")


def in_stage_order(history: pd.DataFrame) -> pd.DataFrame:
    """`history` (chain, stage, activity_date, ...) sorted per chain by date, then stage order."""
    return (history.assign(_rank=stage_rank(history["stage"]))
            .sort_values(["chain", "activity_date", "_rank"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def out_of_order(history: pd.DataFrame) -> pd.Series:
    """Rows (of a frame `in_stage_order` sorted) whose stage goes back in its chain: a stage of lower
    rank after a higher one, except a pre-arbitration/arbitration re-opening a won case."""
    rank = pd.Series(stage_rank(history["stage"]), index=history.index)
    highest_before = rank.groupby(history["chain"]).cummax().groupby(history["chain"]).shift(1)
    previous = history.groupby("chain")["stage"].shift(1)
    reopening = history["stage"].isin([PRE_ARBITRATION, ARBITRATION]) & (previous == WON)
    after_outcome = previous.isin(OUTCOMES) & ~reopening
    return ((rank < highest_before.fillna(-1)) & ~reopening) | after_outcome


def money_moves(history: pd.DataFrame) -> pd.DataFrame:
    """Per row of a stage-ordered `history` (chain, stage, amount_cents): taken_cents (debited from
    the merchant), returned_cents (a reversal), written_off_cents (held when lost/accepted), held_cents after."""
    stage, chain = history["stage"], history["chain"]
    amount = history["amount_cents"].astype("int64")
    # Whether money is held before a row depends only on the kind of the chain's last money event.
    kind = pd.Series(np.where(stage.isin(DEBITING), "D", np.where(stage == WON, "W", "")), index=history.index)
    kind = kind.replace("", np.nan)
    previous_kind = kind.groupby(chain).ffill().groupby(chain).shift(1)
    debit = stage.isin(DEBITING) & (previous_kind != "D")
    event = pd.Series(np.where(debit, amount, np.where(stage == WON, 0, np.nan)), index=history.index)
    held_after = event.groupby(chain).ffill().fillna(0).astype("int64")
    held_before = held_after.groupby(chain).shift(1).fillna(0).astype("int64")
    return pd.DataFrame({
        "taken_cents": np.where(debit, amount, 0).astype("int64"),
        "returned_cents": np.where(stage == WON, held_before, 0).astype("int64"),
        "written_off_cents": np.where(stage.isin([LOST, ACCEPTED]), held_before, 0).astype("int64"),
        "held_cents": held_after.to_numpy(),
    }, index=history.index)

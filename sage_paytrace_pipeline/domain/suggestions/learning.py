"""Weights learned from people's decisions on customer suggestions, once enough decisions exist.

Until then the policy's rule weights rank the candidates. Each decided suggestion is a labelled
example: its reasons say which evidence it had (the same words `customers.py` writes), accepted is
1 and rejected 0. A logistic regression over that evidence (Newton's method on a dozen features:
no solver library needed) gives each piece of evidence its log-odds of being the right customer.

The rule weights are the prior: the fit is penalised by its distance to them (points / SCALE in
log-odds), so evidence nobody has decided on yet keeps its rule weight exactly, and a few
decisions move a weight a little, many move it a lot. The learned log-odds become points again
on the same scale, so scores, the 0-100 cap and the reasons read as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.suggestions.policy import CUSTOMER_REASONS, NAME_REASON, SuggestionPolicy

SCALE = 20.0  # points per unit of log-odds: the rule weights (8-45 points) are 0.4-2.25 log-odds
_PRIOR_STRENGTH = 1.0  # how many decisions' worth of weight the rule prior carries per feature
_ITERATIONS = 50


def evidence_matrix(reasons: pd.Series, policy: SuggestionPolicy) -> pd.DataFrame:
    """One column per piece of evidence (CUSTOMER_REASONS' fields and `name`), a row per reasons
    text: 1/0 for each reason it names, the name's share of the way from the floor to 100."""
    text = reasons.fillna("").astype(str)
    parts = text.str.split("; ")
    columns = {field: parts.map(lambda names, reason=reason: float(reason in names)).to_numpy(dtype="float64")
               for field, reason in CUSTOMER_REASONS.items()}
    similarity = pd.to_numeric(text.str.extract(rf"{NAME_REASON} (\d+)", expand=False), errors="coerce").fillna(0)
    floor = policy.name_floor
    columns["name"] = np.clip((similarity.to_numpy(dtype="float64") - floor) / max(100 - floor, 1), 0, 1)
    return pd.DataFrame(columns, index=reasons.index)


def learned_policy(decisions: pd.DataFrame, policy: SuggestionPolicy) -> SuggestionPolicy:
    """The policy with its customer-evidence weights learned from `decisions` (columns target,
    reasons, decision: accepted | rejected), or unchanged until `policy.learn_after` customer
    decisions with both outcomes exist (or learning is off)."""
    if policy.learn_after == 0 or decisions.empty:
        return policy
    decided = decisions[(decisions["target"] == "customer") & decisions["decision"].isin(["accepted", "rejected"])]
    outcome = (decided["decision"] == "accepted").to_numpy(dtype="float64")
    if len(decided) < policy.learn_after or outcome.min() == outcome.max():
        return policy
    features = evidence_matrix(decided["reasons"], policy)
    prior = np.array([getattr(policy, field) / SCALE for field in features.columns])
    weights = _fit(features.to_numpy(), outcome, prior)
    return policy.model_copy(update={field: float(round(weight * SCALE, 2))
                                     for field, weight in zip(features.columns, weights, strict=True)})


def _fit(features: np.ndarray, outcome: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Logistic regression with a free intercept and a ridge penalty towards `prior` (Newton steps)."""
    rows, width = features.shape
    design = np.hstack([np.ones((rows, 1)), features])
    center = np.concatenate([[0.0], prior])
    penalty = np.diag(np.concatenate([[0.0], np.full(width, _PRIOR_STRENGTH)]))
    beta = center.copy()
    for _ in range(_ITERATIONS):
        chance = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (chance - outcome) + penalty @ (beta - center)
        hessian = design.T @ (design * (chance * (1 - chance))[:, None]) + penalty + 1e-9 * np.eye(width + 1)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[1:]

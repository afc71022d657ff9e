"""Ranked Sage customers for an unknown payer: what the clerk picks from to link it.

The payer is read from the exception's own text (name, e-mail and ZIP, as matching wrote them);
active customers are scored in one vectorized pass (rapidfuzz over the names), an e-mail or ZIP
that agrees adds to the score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_FIELD = re.compile(r"\b(name|e-mail|ZIP) '([^']*)'")


@dataclass(frozen=True)
class Candidate:
    customer: str  # DIVISION-CUSTOMERNO
    name: str
    score: int  # 0-100
    why: str


def payer_fields(problem: str) -> dict[str, str]:
    return {label: value.strip() for label, value in _FIELD.findall(problem or "")}


def ranked_customers(reader: Sage100Reader, problem: str, limit: int = 5) -> list[Candidate]:
    payer = payer_fields(problem)
    customers = [c for c in reader.customers() if c.status == "A"]
    if not customers or not any(payer.values()):
        return []
    names = [c.name.upper() for c in customers]
    scores = process.cdist([payer.get("name", "").upper()], names, scorer=fuzz.token_sort_ratio)[0].astype(float)
    email = payer.get("e-mail", "").lower()
    zip5 = payer.get("ZIP", "")[:5]
    emails = np.array([c.email.strip().lower() for c in customers])
    zips = np.array([c.zip_code.strip()[:5] for c in customers])
    same_email = (emails == email) & (email != "")
    same_zip = (zips == zip5) & (zip5 != "")
    total = np.minimum(100, scores * 0.7 + same_email * 30 + same_zip * 10)
    best = np.argsort(-total, kind="stable")[:limit]
    return [Candidate(f"{customers[i].division}-{customers[i].customer_no}", customers[i].name, round(float(total[i])),
                      ", ".join(part for part, on in (("name", scores[i] >= 80), ("e-mail", same_email[i]),
                                                       ("ZIP", same_zip[i])) if on) or "similar name")
            for i in best if total[i] > 20]

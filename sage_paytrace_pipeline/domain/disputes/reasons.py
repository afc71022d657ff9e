"""Reason codes: which network a code belongs to, its family, and the evidence that answers it.

Families follow Visa's four (10 fraud, 11 authorization, 12 processing errors, 13 consumer
disputes); Mastercard, Amex and Discover codes are mapped onto the same four so one evidence list
serves every network (reference: disputes.md §2). A code this table does not know keeps its network
(from its form) and the family ``other``: the case is still tracked, the operator reads the text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

FRAUD = "fraud"
AUTHORIZATION = "authorization"
PROCESSING_ERROR = "processing_error"
CONSUMER_DISPUTE = "consumer_dispute"
OTHER = "other"
FAMILIES = (FRAUD, AUTHORIZATION, PROCESSING_ERROR, CONSUMER_DISPUTE, OTHER)

NETWORKS = ("VISA", "MASTERCARD", "AMEX", "DISCOVER", "UNKNOWN")

# The report's card-type text -> network (Payment Method Code VI/MC/AX/DI and spelled-out names).
_NETWORK_NAMES = {
    "VI": "VISA", "VISA": "VISA", "MC": "MASTERCARD", "MASTERCARD": "MASTERCARD", "MASTER CARD": "MASTERCARD",
    "AX": "AMEX", "AMEX": "AMEX", "AMERICAN EXPRESS": "AMEX", "DI": "DISCOVER", "DS": "DISCOVER",
    "DISC": "DISCOVER", "DISCOVER": "DISCOVER",
}

_VISA_FAMILY = {"10": FRAUD, "11": AUTHORIZATION, "12": PROCESSING_ERROR, "13": CONSUMER_DISPUTE}
# Legacy (pre-VCR) Visa numeric codes still printed by some processors.
_VISA_LEGACY = {"57": FRAUD, "62": FRAUD, "81": FRAUD, "83": FRAUD, "93": FRAUD,
                "70": AUTHORIZATION, "71": AUTHORIZATION, "72": AUTHORIZATION, "73": AUTHORIZATION,
                "74": AUTHORIZATION}
_MASTERCARD = {
    **dict.fromkeys(("4837", "4863", "4870", "4871", "4840", "4849"), FRAUD),
    **dict.fromkeys(("4808", "4807", "4812"), AUTHORIZATION),
    **dict.fromkeys(("4834", "4831", "4842", "4846"), PROCESSING_ERROR),
    **dict.fromkeys(("4853", "4854", "4855", "4860", "4841"), CONSUMER_DISPUTE),
}
_AMEX = {
    **dict.fromkeys(("F29", "FR2", "F10", "F14", "F24", "F30", "F31", "FR4", "FR6"), FRAUD),
    **dict.fromkeys(("A01", "A02", "A08"), AUTHORIZATION),
    **dict.fromkeys(("P01", "P03", "P04", "P05", "P07", "P08", "P22", "P23"), PROCESSING_ERROR),
    **dict.fromkeys(("C02", "C04", "C05", "C08", "C14", "C18", "C28", "C31", "C32"), CONSUMER_DISPUTE),
}
_DISCOVER = {
    **dict.fromkeys(("UA01", "UA02", "UA05", "UA06", "AA"), FRAUD),
    **dict.fromkeys(("AT", "DA", "EX", "NA"), AUTHORIZATION),
    **dict.fromkeys(("AP", "AW", "DP", "IC", "LP", "N", "RN2", "CD"), PROCESSING_ERROR),
    **dict.fromkeys(("RG", "RM", "PM", "CR", "NF"), CONSUMER_DISPUTE),
}

_VISA_CODE = re.compile(r"^1[0-3]\.\d{1,2}$")
_MASTERCARD_CODE = re.compile(r"^48\d\d$")
_AMEX_CODE = re.compile(r"^[A-Z]{1,2}\d{2}$")  # F29, C08, FR2, P05 (Amex letter+digits)
_DISCOVER_CODE = re.compile(r"^[A-Z]{2,4}\d{0,2}$")  # UA02, AA, RG

# What to send the processor, by family (the common defences; the processor's letter wins).
EVIDENCE = {
    FRAUD: "proof the cardholder authorized it: AVS/CSC match, billing = shipping address, signed delivery or "
           "IP/device record, prior undisputed orders on the same card",
    AUTHORIZATION: "the approval (authorization code and date) for the full amount, and that the sale settled "
                   "within the authorization's validity",
    PROCESSING_ERROR: "the sale record showing one charge for the correct amount and currency, presented on time; "
                      "for duplicates, that the other charge is a different order or was refunded",
    CONSUMER_DISPUTE: "invoice and proof of delivery or service, the terms the customer accepted, correspondence; "
                      "for credit not processed, the refund's PayTrace id and date or why none is due",
    OTHER: "the sale's receipt and invoice, and the processor's letter's list of documents for this reason code",
}
RETRIEVAL_EVIDENCE = "a copy of the sale's receipt/invoice (the issuer asks for the document; no money moved yet)"


def network_of(card_types: pd.Series, reason_codes: pd.Series) -> np.ndarray:
    """The network of each case: the report's card type when it names one, else the code's form."""
    named = card_types.fillna("").astype(str).str.strip().str.upper().map(_NETWORK_NAMES)
    codes = _normalized(reason_codes)
    by_form = np.select(
        [codes.str.match(_VISA_CODE.pattern) | codes.isin(list(_VISA_LEGACY)),
         codes.str.match(_MASTERCARD_CODE.pattern),
         codes.isin(list(_AMEX)) | codes.str.match(_AMEX_CODE.pattern) & ~codes.isin(list(_DISCOVER)),
         codes.isin(list(_DISCOVER)) | codes.str.match(_DISCOVER_CODE.pattern)],
        ["VISA", "MASTERCARD", "AMEX", "DISCOVER"], default="UNKNOWN")
    return named.fillna(pd.Series(by_form, index=named.index)).to_numpy(dtype=object)


def family_of(networks: np.ndarray | pd.Series, reason_codes: pd.Series) -> np.ndarray:
    """The reason family of each (network, code); ``other`` when the table does not know the code."""
    codes = _normalized(reason_codes)
    networks = pd.Series(np.asarray(networks, dtype=object), index=codes.index)
    visa = codes.str.split(".").str[0].map(_VISA_FAMILY).astype(object).where(
        lambda family: family.notna(), codes.map(_VISA_LEGACY))
    family = np.select(
        [networks == "VISA", networks == "MASTERCARD", networks == "AMEX", networks == "DISCOVER"],
        [visa.fillna(OTHER), codes.map(_MASTERCARD).fillna(OTHER), codes.map(_AMEX).fillna(OTHER),
         codes.map(_DISCOVER).fillna(OTHER)], default=OTHER)
    return np.asarray(family, dtype=object)


def evidence_for(families: np.ndarray | pd.Series, stages: np.ndarray | pd.Series) -> np.ndarray:
    """What to send for each case: a retrieval asks for the document, a dispute for its family's defence."""
    texts = pd.Series(np.asarray(families, dtype=object)).map(EVIDENCE).fillna(EVIDENCE[OTHER]).to_numpy(dtype=object)
    stage = pd.Series(np.asarray(stages, dtype=object))
    closed = ("nothing: the case is " + stage.astype(str)).to_numpy(dtype=object)
    return np.select([stage == "retrieval", stage.isin(["won", "lost", "accepted"])], [RETRIEVAL_EVIDENCE, closed],
                     default=texts)


def _normalized(codes: pd.Series) -> pd.Series:
    return codes.fillna("").astype(str).str.strip().str.upper()

"""A fingerprint of matching's outputs that sees everything a consumer could: columns, dtypes, index,
and each cell's Python type and value. Two runs with equal fingerprints gave the same frames."""

from __future__ import annotations

import hashlib

import pandas as pd


def frame_fingerprint(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(repr((list(frame.columns), [str(dtype) for dtype in frame.dtypes], type(frame.index).__name__,
                        frame.index.tolist())).encode())
    for name in frame.columns:
        digest.update(repr([(type(value).__name__, value) for value in frame[name].to_numpy(dtype=object)]).encode())
    return digest.hexdigest()[:16]


def result_fingerprint(result, references: pd.DataFrame) -> dict[str, object]:
    """Fingerprints of a MatchResult's frames and of the references extracted from the same payments."""
    return {"customer_links": frame_fingerprint(result.customer_links),
            "applications": frame_fingerprint(result.applications),
            "exceptions": frame_fingerprint(result.exceptions),
            "references": frame_fingerprint(references),
            "skipped_counts": dict(result.skipped_counts), "rows": [len(result.customer_links),
                                                                  len(result.applications), len(result.exceptions)]}

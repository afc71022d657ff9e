"""The invoice_id a money-moving call is sent with, and the shape of the ones generated for it.

PayTrace has no idempotency key; the invoice_id is how the client finds the outcome of a call whose
answer was lost (see `paytrace.recovery`). No I/O here, so the application layer may use the
pattern (matching must not read invoice numbers out of generated keys).
"""

from __future__ import annotations

import uuid

# The shape of the keys `lookup_key` generates: "SPP" + 17 upper-case hex digits. Matching must
# not read invoice numbers out of them (their digit runs are random).
GENERATED_INVOICE_ID_PATTERN = r"SPP[0-9A-F]{17}"


def lookup_key(invoice_id: str | None) -> str:
    """The invoice_id a money-moving call is sent with: it is how a lost answer is found again.

    Omitted → a unique one is generated. Given → it must not be blank; callers passing their own
    should keep it unique per payment (a repeat of the same amount would otherwise be ambiguous).
    """
    if invoice_id is None:
        return "SPP" + uuid.uuid4().hex[:17].upper()
    if not str(invoice_id).strip():
        raise ValueError("invoice_id is blank: pass a unique reference, or omit it to have one generated")
    return str(invoice_id)

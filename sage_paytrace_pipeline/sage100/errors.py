"""Errors of the Sage 100 connector. Each message names the thing that failed and what to fix."""

from __future__ import annotations


class Sage100Error(Exception):
    """Base of every Sage 100 connector error."""


class Sage100ConnectionError(Sage100Error):
    """The company cannot be opened: missing driver, wrong DSN or path, bad login."""


class Sage100SchemaError(Sage100Error):
    """The company is reachable but a table or column the connector needs is not there."""


class Sage100ConfigurationError(Sage100Error):
    """The site's Sage settings do not fit together (an unknown writer, a writer that cannot write
    to this company, a missing folder); nothing was opened."""


class Sage100UnsupportedOperation(Sage100Error):
    """This writer cannot do the operation at all (e.g. Visual Integrator cannot delete a saved card);
    the message says which operation, why, and how to do it instead. Nothing was written."""


class Sage100WriteError(Sage100Error):
    """Sage did not complete a write (a lost session, a locked file, a BOI error); the document was
    rolled back, nothing of it was written. Transient: the same call may be repeated."""


# --- writer errors (sage100/writer.py and its implementations) ------------------------------------


class Sage100ValidationError(Sage100Error):
    """Sage would refuse this document; nothing was written.

    `operation` and `reference` say which call, `field` where, `problem` what is wrong and `fix`
    what to do. The message carries all of them and never a card number.
    """

    def __init__(self, *, operation: str, reference: str, field: str, problem: str, fix: str) -> None:
        from sage_paytrace_pipeline.domain.pci import scrub_text

        self.operation = operation
        self.reference = scrub_text(reference)
        self.field = field
        self.problem = scrub_text(problem)
        self.fix = scrub_text(fix)
        super().__init__(f"{operation} {self.reference}: {field}: {self.problem}. Fix: {self.fix}")


class DistributionOutOfBalanceError(Sage100ValidationError):
    """The lines do not sum to the header amount (Sage: "The distribution is out of balance")."""


class InvoiceOfAnotherCustomerError(Sage100ValidationError):
    """The invoice exists but belongs to a different customer (or division)."""


class InvoiceNotOpenError(Sage100ValidationError):
    """The invoice is not an open item of this customer (unknown, fully paid or purged)."""


class AmountExceedsBalanceError(Sage100ValidationError):
    """The amount applied is more than the open item's balance (or the credit available)."""


class UnknownCustomerError(Sage100ValidationError):
    """No such customer in the division."""


class InactiveCustomerError(UnknownCustomerError):
    """The customer exists but its CustomerStatus is not active."""


class UnknownPaymentTypeError(Sage100ValidationError):
    """The payment type is missing, not a credit card type (PaymentMethod R) or has no asset account."""


class UnknownBankCodeError(Sage100ValidationError):
    """The bank code does not exist."""


class UnknownAccountError(Sage100ValidationError):
    """No GL account with that Account or AccountKey."""


class InactiveAccountError(UnknownAccountError):
    """The GL account exists but its Status is not 'A'."""


class UnbalancedJournalEntryError(Sage100ValidationError):
    """Debits and credits of a journal entry differ (or it has fewer than two lines)."""


class UnknownItemError(Sage100ValidationError):
    """No such item (CI_Item) or it is not stocked in the warehouse."""


class InactiveItemError(UnknownItemError):
    """The item is marked inactive."""


class InsufficientStockError(Sage100ValidationError):
    """The warehouse does not have the quantity on hand."""


class DocumentStateError(Sage100ValidationError):
    """The document is in the wrong state: order already invoiced or closed, reference already used elsewhere."""

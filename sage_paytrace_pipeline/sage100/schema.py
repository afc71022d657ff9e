"""Every Sage 100 table the project touches, described once with Sage's own names and sizes.

Facts come from ../shared/reference/sage100.md (the DDL lengths, i.e. the newest and largest
sizes). The demo company's DDL, the reader's SQL and the writer's validation all derive from this
module, so a site whose names differ corrects them in one place: `Sage100Schema(name_overrides=...)`
with keys from `UNCERTAIN_NAMES` (or any other table key / ``"Table.Column"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

# AR_CustomerCreditCard.CardType codes: defined with the card model the domain reads (domain.ledger)
from sage_paytrace_pipeline.domain.ledger import BRAND_BY_CARD_TYPE, CARD_TYPE_BY_BRAND

# Public names: the card-type codes of domain.ledger (re-exported with the layouts using them) and the schema.
__all__ = [
    "AUDIT",
    "AUDIT_CREATED",
    "BRAND_BY_CARD_TYPE",
    "CARD_TYPE_BY_BRAND",
    "DEFAULT_SCHEMA",
    "UNCERTAIN_NAMES",
    "Certainty",
    "Column",
    "ColumnKind",
    "D",
    "F",
    "I",
    "N",
    "S",
    "Sage100Schema",
    "Table",
]

ColumnKind = Literal["str", "decimal", "int", "date", "flag"]
Certainty = Literal["confirmed", "inferred", "uncertain"]


@dataclass(frozen=True)
class Column:
    """One column. `length` is the max length of a string or the precision of a number."""

    name: str
    kind: ColumnKind
    length: int | None = None
    scale: int = 0
    note: str = ""
    # The name code refers to the column by; differs from `name` only after a site override.
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


@dataclass(frozen=True)
class Table:
    key: str  # logical key, e.g. "AR_OpenInvoice" or "bank_codes"
    name: str  # the Sage table name (site-overridable when uncertain)
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    certainty: Certainty = "confirmed"
    demo_only: bool = False  # exists only in the demo company (real Sage keeps it elsewhere)
    note: str = ""

    def column(self, name: str) -> Column:
        """A column by its logical key (what code uses) or by its site name."""
        for column in self.columns:
            if column.key == name:
                return column
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def col(self, key: str) -> str:
        """The site's column name for a logical column key (shorthand for SQL building).

        User-defined fields (``UDF_<NAME>``, added per site with Custom Office) are not part of the
        schema and keep their own name.
        """
        if key.startswith("UDF_"):
            return key
        return self.column(key).name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def column_keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)


# --- column helpers: keep the table definitions below one line per Sage field -------------


def S(name: str, length: int | None, note: str = "") -> Column:
    """String; length None = Sage memo/text field without a fixed max."""
    return Column(name, "str", length, 0, note)


def N(name: str, precision: int, scale: int = 2, note: str = "") -> Column:
    """Decimal number, ProvideX `p.s` (money 12.2/13.2, quantity and price 15.6)."""
    return Column(name, "decimal", precision, scale, note)


def I(name: str, digits: int, note: str = "") -> Column:  # noqa: E743 - reads like the layouts
    return Column(name, "int", digits, 0, note)


def D(name: str, note: str = "") -> Column:
    return Column(name, "date", None, 0, note)


def F(name: str, note: str = "") -> Column:
    """Y/N flag (1 char; '' when unset, as Sage stores it)."""
    return Column(name, "flag", 1, 0, note)


def _numbered(prefix: str, first: int, last: int, make) -> tuple[Column, ...]:
    return tuple(make(f"{prefix}{n}") for n in range(first, last + 1))


# Most Sage tables carry these [C]; times are 8-char strings of decimal hours ("15.5" = 15:30).
AUDIT = (
    D("DateCreated"),
    S("TimeCreated", 8, "decimal hours, e.g. '15.5' = 15:30"),
    S("UserCreatedKey", 10),
    D("DateUpdated"),
    S("TimeUpdated", 8, "decimal hours"),
    S("UserUpdatedKey", 10),
)
AUDIT_CREATED = AUDIT[:3]

_MONEY = 13  # AR amounts are 13.2 unless the DDL says 12.2/11.2


def _address(prefix: str) -> tuple[Column, ...]:
    """BillTo/ShipTo block with the expanded (2021+) sizes."""
    return (
        S(f"{prefix}Name", 50),
        *_numbered(f"{prefix}Address", 1, 3, lambda n: S(n, 40)),
        S(f"{prefix}City", 30),
        S(f"{prefix}State", 2),
        S(f"{prefix}ZipCode", 10),
        S(f"{prefix}CountryCode", 3),
    )


def _avs() -> tuple[Column, ...]:
    return (
        *_numbered("AVSAddressLine", 1, 3, lambda n: S(n, 40)),
        S("AVSCity", 30),
        S("AVSState", 2),
        S("AVSZipCode", 10),
        S("AVSCountryCode", 3),
    )


# Card columns shared by SO_SalesOrderPayment / AR_InvoiceHistoryPayment [C, DDL]; no PAN anywhere.
def _card_payment(*, guid: bool, transaction_id_length: int) -> tuple[Column, ...]:
    return (
        S("PaymentType", 5),
        S("PaymentTypeCategory", 1, "D=deposit, P=payment [?]"),
        S("CreditCardID", 10),
        *((S("CreditCardGUID", 32, "vault token (PayTrace vault customer_id)"),) if guid else ()),
        S("CardType", 1),
        S("Last4UnencryptedCreditCardNos", 4),
        S("Last4BankRoutingNos", 4),
        S("Last4BankAccountNos", 4),
        S("BankName", 30),
        S("BankAccountType", 1),
        S("ExpirationDateYear", 4),
        S("ExpirationDateMonth", 2),
        S("CorporateCustIDPurchOrder", 17),
        F("CorporateTaxOverrd"),
        S("CardholderName", 50),
        S("CreditCardTrackingID", 36),
        S("CreditCardTransactionID", transaction_id_length, "gateway transaction id (PayTrace)"),
        S("CreditCardAuthorizationNo", 16),
        D("AuthorizationDate"),
        S("AuthorizationTime", 8, "decimal hours"),
        *_avs(),
        S("CreditCardEmailAddress", 250),
        S("CreditCardComment", 30),
        N("TransactionAmt", 12),
        N("CorporateSalesTax", 11),
    )


# --- the tables ---------------------------------------------------------------------------

_TABLES: tuple[Table, ...] = (
    Table(
        "AR_Division",
        "AR_Division",
        (
            S("ARDivisionNo", 2),
            S("ARDivisionDesc", 30),
            S("AccountsReceivableAcctKey", 9, "AR control (debit) account"),
            S("CashAcctKey", 9),
            S("DiscountsAllowedAcctKey", 9),
            S("FreightAcctKey", 9),
            S("SalesTaxAcctKey", 9),
            S("FinanceChrgAcctKey", 9),
            S("RetentionReceivableAcctKey", 9),
            S("PostSalesToGLSubAcct", 15),
            *AUDIT,
        ),
        ("ARDivisionNo",),
        note="FL440 layout [C-old]",
    ),
    Table(
        "AR_Customer",
        "AR_Customer",
        (
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("CustomerName", 50),
            *_numbered("AddressLine", 1, 3, lambda n: S(n, 40)),
            S("City", 30),
            S("State", 2),
            S("ZipCode", 10),
            S("CountryCode", 3),
            S("TelephoneNo", 20),
            S("TelephoneExt", 6),
            S("FaxNo", 20),
            S("EmailAddress", 250),
            S("URLAddress", 50),
            S("TermsCode", 2),
            S("TaxSchedule", 9),
            S("TaxExemptNo", 15),
            S("SalespersonDivisionNo", 2),
            S("SalespersonNo", 4),
            S("Comment", 30),
            S("SortField", 10),
            F("OpenItemCustomer"),
            S("StatementCycle", 1),
            S("CustomerType", 4),
            S("PriceLevel", 1),
            F("CreditHold"),
            N("CreditLimit", _MONEY),
            S("DefaultPaymentType", 5),
            S("DefaultCreditCardPmtType", 5),
            S("CreditCardGUID", 32, "default card's vault token"),
            S("PrimaryShipToCode", 4),
            D("DateEstablished"),
            D("DateLastActivity"),
            D("DateLastPayment"),
            D("DateLastStatement"),
            N("LastPaymentAmt", _MONEY),
            N("BalanceForward", _MONEY),
            N("CurrentBalance", _MONEY, note="maintained total, updated by posting"),
            *_numbered("AgingCategory", 1, 4, lambda n: N(n, _MONEY)),
            N("OpenOrderAmt", _MONEY),
            N("HighestStmntBalance", _MONEY),
            N("UnpaidServiceChrg", _MONEY),
            S("CustomerStatus", 1, "A=active, I=inactive, T=temporary [I]"),
            S("InactiveReasonCode", 5),
            F("EmailStatements"),
            F("EBMEnabled"),
            F("EInvoicePayments"),
            *AUDIT,
        ),
        ("ARDivisionNo", "CustomerNo"),
        (("CustomerNo",), ("CustomerName",), ("ZipCode",), ("TelephoneNo",), ("EmailAddress",)),
    ),
    Table(
        "AR_CustomerCreditCard",
        "AR_CustomerCreditCard",
        (
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("CreditCardGUID", 32, "vault token: the PayTrace vault customer_id; never a card number"),
            S("PaymentType", 5),
            S("CreditCardID", 10, "user label of the saved card"),
            S("ExpirationDateYear", 4),
            S("ExpirationDateMonth", 2),
            S("CardType", 1, "see CARD_TYPE_BY_BRAND"),
            S("BankAccountType", 1),
            S("CorporateCustIDPurchOrder", 17),
            S("CardholderName", 30),
            S("BankName", 30),
            *_numbered("AVSAddressLine", 1, 2, lambda n: S(n, 30)),
            S("AVSCity", 20),
            S("AVSState", 2),
            S("AVSZipCode", 10),
            S("AVSCountryCode", 3),
            S("EmailAddress", 250),
            S("CreditCardComment", 30),
            F("EBMEnabled"),
            S("Last4UnencryptedCreditCardNos", 4),
            S("Last4BankRoutingNos", 4),
            S("Last4BankAccountNos", 4),
            *AUDIT,
        ),
        ("ARDivisionNo", "CustomerNo", "CreditCardGUID"),  # [?] may be +CreditCardID
        (("CreditCardGUID",),),
        certainty="inferred",
        note="columns [C, SDE]; primary key [?]",
    ),
    Table(
        "AR_PaymentType",
        "AR_PaymentType",
        (
            S("PaymentType", 5),
            S("PaymentDesc", 30),
            S("PaymentMethod", 1, "C=check, O=other, R=credit card, D=COD, A=ACH [?]"),
            S("AssetAcctKey", 9, "card clearing account for R"),
            S("CreditCardAccrualAcctKey", 9, "accrued card expense (fees), only for R"),
            S("DefaultTransaction", 1, "D=deposit, P=payment"),
            F("EBMInternetEnabled"),
            F("CreditCardSetupTested"),
            S("CreditCardProcessorCode", 4),
            S("MerchantID", 32),
            S("ProcessorType", 1),
            F("DisplayAVSResponse"),
            F("DisplayCVV2Response"),
            F("RequireValidationCode"),
            F("AllowCorporateCards"),
            N("DiscountRate", 9, 3, "UI 'Discount Percentage'; column name [?]"),
            N("PerTransactionFee", 9, 2, "UI 'Per Transaction Fee'; column name [?]"),
            *AUDIT,
        ),
        ("PaymentType",),
    ),
    Table(
        "AR_TermsCode",
        "AR_TermsCode",
        (
            S("TermsCode", 2),
            S("TermsCodeDesc", 30),
            I("DaysBeforeDue", 3),
            F("DueDateADayOfTheMonth"),
            I("MinimumDaysAllowedInv", 3),
            I("DaysBeforeDiscountDue", 3),
            F("DiscountDateADayOfTheMo"),
            N("DiscountRate", 9, 3),
            *AUDIT,
        ),
        ("TermsCode",),
    ),
    Table(
        "CI_Item",
        "CI_Item",
        (
            S("ItemCode", 30, "misc/charge items start with '/'"),
            S("ItemType", 1, "1=regular, 2=special, 3=charge, 4=comment, 5=misc"),
            S("ItemCodeDesc", 30),
            S("ExtendedDescriptionKey", 10),
            S("ProductLine", 4),
            S("ProductType", 1),
            S("Valuation", 1),
            S("SalesUnitOfMeasure", 4),
            S("StandardUnitOfMeasure", 4),
            S("PriceCode", 4),
            S("TaxClass", 2),
            S("SalesAcctKey", 9),
            S("CostOfGoodsSoldAcctKey", 9),
            S("InventoryAcctKey", 9),
            S("PurchaseAcctKey", 9),
            S("DefaultWarehouseCode", 3),
            N("StandardUnitPrice", 15, 6),
            N("StandardUnitCost", 15, 6),
            N("AverageUnitCost", 15, 6),
            N("TotalQuantityOnHand", 15, 6),
            F("InactiveItem"),
            F("UseInAR"),
            F("UseInSO"),
            F("UseInPO"),
            S("CommodityCode", 12),
            *AUDIT,
        ),
        ("ItemCode",),
        (("ProductLine",),),
    ),
    Table(
        "IM_ItemWarehouse",
        "IM_ItemWarehouse",
        (
            S("ItemCode", 30),
            S("WarehouseCode", 3),
            N("QuantityOnHand", 15, 6, "[I]"),
            N("QuantityOnSalesOrder", 15, 6, "[I]"),
            N("QuantityOnBackOrder", 15, 6, "[I]"),
            N("QuantityOnPurchaseOrder", 15, 6, "[I]"),
            N("AverageCost", 15, 6, "[I]"),
            *AUDIT,
        ),
        ("ItemCode", "WarehouseCode"),
        certainty="inferred",
        note="key [C, DDL file list]; quantity column names [I]",
    ),
    Table(
        "GL_Account",
        "GL_Account",
        (
            S("AccountKey", 9, "read-only surrogate; joins use this, never Account"),
            S("AccountDesc", 50),
            S("Account", 41, "formatted, e.g. '1010-00'; unique"),
            S("RawAccount", 32),
            S("MainAccountCode", 15),
            D("DateStart"),
            D("DateEnd"),
            S("Status", 1, "A=active, I=inactive, D=deleted"),
            F("ClearBalance"),
            S("AccountType", 2, "01 cash, 02 net AR, ... 11 net revenue, 12 cost of sales, 13 op. expense"),
            S("CashFlowsType", 1),
            *_numbered("RollupCode", 1, 4, lambda n: S(n, 20)),
            S("AccountGroup", 15),
            S("AccountCategory", 1),
            *AUDIT,
        ),
        ("AccountKey",),
        (("Account",),),
    ),
    Table(
        "bank_codes",
        "GL_BankCode",
        (
            S("BankCode", 1, "A-Z, 0-9; A is the permanent default, Z is AP-from-AR clearing"),
            S("BankName", 30, "description [I]"),
            S("CashAcctKey", 9, "GL cash account [I]"),
            S("BankAcctNo", 17, "[I]"),
            S("NextCheckNo", 10, "[I]"),
            N("CurrentBalance", _MONEY, note="[I]"),
            *_numbered("AddressLine", 1, 3, lambda n: S(n, 40)),
            S("City", 30),
            S("State", 2),
            S("ZipCode", 10),
            *AUDIT,
        ),
        ("BankCode",),
        certainty="uncertain",
        note="table name [?]: read the site's ODBC table list; fields from Bank Code Maintenance UI",
    ),
    Table(
        "AR_OpenInvoice",
        "AR_OpenInvoice",
        (
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("InvoiceNo", 7, "zero padded"),
            S("InvoiceType", 2, "IN, CM, DM, FC, PP, PY, BF, BC, AD, CA"),
            D("InvoiceDate"),
            D("InvoiceDueDate"),
            D("InvoiceDiscountDate"),
            S("InvoiceHistoryHeaderSeqNo", 6),
            D("PostingDate"),
            S("TermsCode", 2),
            S("TaxSchedule", 9),
            S("SalespersonDivisionNo", 2),
            S("SalespersonNo", 4),
            S("Comment", 30),
            S("CreditMemoInvoiceReference", 7),
            S("JobNo", 7),
            S("CustomerPONo", 30),
            S("PostingReference", 14),
            S("CheckNo", 10),
            N("TaxableAmt", _MONEY),
            N("NonTaxableAmt", _MONEY),
            N("FreightAmt", 12),
            N("SalesTaxAmt", 12),
            N("CostOfSalesAmt", _MONEY),
            N("DiscountAmt", _MONEY),
            N("PaymentsToday", _MONEY),
            N("Balance", _MONEY, note="what remains open; negative for CM/PP"),
            N("RetentionAmt", _MONEY),
            N("CommissionAmt", _MONEY),
            S("SoldToDivisionNo", 2),
            S("SoldToCustomerNo", 20),
            S("EInvoiceId", 24),
            *AUDIT,
        ),
        ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType"),
        (("InvoiceNo", "InvoiceType"), ("InvoiceDueDate",)),
    ),
    Table(
        "AR_InvoiceHistoryHeader",
        "AR_InvoiceHistoryHeader",
        (
            S("InvoiceNo", 7),
            S("HeaderSeqNo", 6),
            S("ModuleCode", 3, "A/R, S/O, J/C"),
            S("InvoiceType", 2),
            D("InvoiceDate"),
            D("TransactionDate"),
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("TermsCode", 2),
            S("CustomerPONo", 30),
            S("ApplyToInvoiceNo", 7),
            D("InvoiceDueDate"),
            D("DiscountDueDate"),
            S("SourceJournal", 2),
            S("JournalNoGLBatchNo", 6),
            S("SalesOrderNo", 7),
            S("OrderType", 1),
            D("OrderDate"),
            *_address("BillTo"),
            S("ShipToCode", 4),
            *_address("ShipTo"),
            D("ShipDate"),
            S("ShipVia", 15),
            S("CheckNoForDeposit", 10),
            S("PaymentType", 5),
            S("PaymentTypeCategory", 1),
            S("OtherPaymentTypeRefNo", 24),
            N("TaxableSalesAmt", _MONEY),
            N("NonTaxableSalesAmt", _MONEY),
            N("FreightAmt", 12),
            N("SalesTaxAmt", 12),
            N("CostOfSalesAmt", _MONEY),
            N("DiscountAmt", _MONEY),
            N("DepositAmt", 12),
            F("MultipleDepositsApplied"),
            S("EmailAddress", 250),
            *AUDIT,
        ),
        ("InvoiceNo", "HeaderSeqNo"),
        # last: the credit memos marked for a card refund (`card_refund_requests`, a read a day) are a seek,
        # not a scan of every history header (a year's invoices)
        (("ARDivisionNo", "CustomerNo", "InvoiceNo"), ("ModuleCode", "SalesOrderNo"), ("InvoiceDate",),
         ("InvoiceType", "PaymentType")),
    ),
    Table(
        "AR_InvoiceHistoryDetail",
        "AR_InvoiceHistoryDetail",
        (
            S("InvoiceNo", 7),
            S("HeaderSeqNo", 6),
            S("DetailSeqNo", 6),
            S("ItemCode", 30),
            S("ItemType", 1),
            S("ItemCodeDesc", 30),
            S("SalesAcctKey", 9),
            S("CostOfGoodsSoldAcctKey", 9),
            S("WarehouseCode", 3),
            N("QuantityShipped", 15, 6),
            N("QuantityOrdered", 15, 6),
            N("QuantityBackordered", 15, 6),
            N("UnitPrice", 15, 6),
            N("UnitCost", 15, 6),
            N("ExtensionAmt", 11),
            S("TaxClass", 2),
            S("AppliedSalesOrderNo", 7),
            S("CommodityCode", 12),
            *AUDIT,
        ),
        ("InvoiceNo", "HeaderSeqNo", "DetailSeqNo"),
    ),
    Table(
        "AR_InvoiceHistoryPayment",
        "AR_InvoiceHistoryPayment",
        (
            S("InvoiceNo", 7),
            S("HeaderSeqNo", 6),
            S("PaymentSeqNo", 6),
            S("SalesOrderNo", 7),
            S("CheckNoForDeposit", 10),
            S("OtherPaymentTypeRefNo", 24),
            *_card_payment(guid=False, transaction_id_length=10),
            *AUDIT,
        ),
        ("InvoiceNo", "HeaderSeqNo", "PaymentSeqNo"),
        (("CreditCardTransactionID",),),
    ),
    Table(
        "AR_TransactionPaymentHistory",
        "AR_TransactionPaymentHistory",
        (
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("InvoiceNo", 7),
            S("InvoiceType", 2),
            D("TransactionDate"),
            S("SequenceNo", 6),
            S("InvoiceHistoryHeaderSeqNo", 6),
            S("PaymentReference", 14),
            S("CheckNo", 10),
            S("TransactionType", 1, "I invoice, C credit memo, D debit memo, P payment, A adjustment, F finance"),
            D("PaymentDate"),
            S("PaymentType", 5),
            S("CardholderName", 50),
            S("ExpirationDateYear", 4),
            S("ExpirationDateMonth", 2),
            S("CreditCardAuthorizationNo", 16),
            S("Last4UnencryptedCreditCardNos", 4),
            S("CreditCardTransactionID", 15),
            S("RMANo", 7),
            N("TransactionAmt", 12),
            S("CreditCardID", 10),
            S("CardType", 1),
            S("CreditCardEntryNo", 6),
            S("Last4BankRoutingNos", 4),
            S("Last4BankAccountNos", 4),
            *AUDIT,
        ),
        ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType", "TransactionDate", "SequenceNo"),
        (("CreditCardTransactionID",), ("InvoiceNo",)),  # InvoiceNo: a chunk's last payment numbers at once
    ),
    Table(
        "AR_CashReceiptsDeposit",
        "AR_CashReceiptsDeposit",
        (
            S("DepositNo", 5),
            S("BatchNo", 5, "[I]"),
            S("BankCode", 1),
            D("DepositDate"),
            S("DepositType", 1, "C=cash/check, R=credit card, A=ACH [?]; on the deposit [I]"),
            S("DepositDesc", 30),
            N("CashDepositAmt", _MONEY),
            N("CashBalanceAmt", _MONEY),
            N("CreditCardDepositAmt", _MONEY, note="[I]"),
            N("CreditCardBalanceAmt", _MONEY, note="[I]"),
            N("ACHDepositAmt", _MONEY, note="[I]"),
            N("ACHBalanceAmt", _MONEY, note="[I]"),
            N("DepositBalance", _MONEY),
            *AUDIT,
        ),
        ("DepositNo",),
        (("BankCode", "DepositDate"),),
        certainty="inferred",
    ),
    Table(
        "AR_CashReceiptsHeader",
        "AR_CashReceiptsHeader",
        (
            S("DepositNo", 5),
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("CreditCardEntryNo", 6, "card receipts: 'Entry No.' instead of a check no."),
            S("CheckNo", 10),
            S("BatchNo", 5),
            S("DepositType", 1, "C=cash/check, R=credit card"),
            N("PostingAmt", _MONEY, note="amount received; lines must sum to it"),
            S("PaymentType", 5, "[I]"),
            S("CreditCardID", 10, "[I]"),
            S("CreditCardGUID", 32, "[I]"),
            S("CardType", 1, "[I]"),
            S("Last4UnencryptedCreditCardNos", 4, "[I]"),
            S("ExpirationDateYear", 4, "[I]"),
            S("ExpirationDateMonth", 2, "[I]"),
            S("CardholderName", 50, "[I]"),
            S("CreditCardTransactionID", 15, "[I] idempotency key: the PayTrace transaction id"),
            S("CreditCardAuthorizationNo", 16, "[I]"),
            D("AuthorizationDate", "[I]"),
            S("AuthorizationTime", 8, "[I] decimal hours"),
            *_avs(),
            S("CreditCardEmailAddress", 250, "[I]"),
            S("CreditCardComment", 30, "[I]"),
            *AUDIT,
        ),
        ("DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo"),
        (("CreditCardTransactionID",),),
        certainty="inferred",
        note="confirmed core columns; card columns and key mirror AR_CashReceiptsHistory [I]",
    ),
    Table(
        "AR_CashReceiptsDetail",
        "AR_CashReceiptsDetail",
        (
            S("DepositNo", 5),
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("CreditCardEntryNo", 6, "[I]"),
            S("CheckNo", 10),
            S("LineKey", 6, "[I]"),
            S("LineSeqNo", 14, "[I]"),
            S("LineType", 2, "[?] '' or 'I' = invoice line, 'GL' = G/L account line"),
            S("InvoiceNo", 7),
            S("InvoiceType", 2, "[I]"),
            N("AmountPosted", _MONEY),
            N("DiscountAmt", _MONEY, note="[I] UI 'Disc Used'"),
            N("InvoiceBalance", _MONEY, note="[I]"),
            S("AccountKey", 9, "[I] GL lines"),
            S("Comment", 30, "[I]"),
            S("SoldToDivisionNo", 2, "[I]"),
            S("SoldToCustomerNo", 20, "[I]"),
            *AUDIT,
        ),
        ("DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo", "LineKey"),
        (("ARDivisionNo", "CustomerNo", "InvoiceNo"),),
        certainty="inferred",
    ),
    Table(
        "AR_CashReceiptsHistory",
        "AR_CashReceiptsHistory",
        (
            S("BankCode", 1),
            D("DepositDate"),
            S("DepositNo", 5),
            S("DepositType", 1),
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("CheckNo", 10),
            S("SequenceNo", 6),
            D("PostingDate"),
            S("CustomerName", 50),
            F("OpenItemCustomer"),
            S("TransactionType", 2),
            S("InvoiceNo", 7),
            S("InvoiceType", 2),
            S("AccountKey", 9),
            S("DepositDesc", 30),
            S("BatchNo", 5),
            N("CashAmountApplied", 12),
            N("DiscountAmountApplied", 12),
            N("InvoiceBalance", _MONEY, note="balance after this receipt"),
            S("Comment", None),
            S("CreditCardEntryNo", 6),
            S("SoldToDivisionNo", 2),
            S("SoldToCustomerNo", 20),
            S("PaymentType", 5),
            S("CreditCardID", 10),
            S("CardType", 1),
            S("BankAccountType", 1),
            S("Last4UnencryptedCreditCardNos", 4),
            S("Last4BankRoutingNos", 4),
            S("Last4BankAccountNos", 4),
            S("BankName", 30),
            S("ExpirationDateYear", 4),
            S("ExpirationDateMonth", 2),
            S("CorporateCustIDPurchOrder", 17),
            F("CorporateTaxOverrd"),
            N("CorporateSalesTax", 11),
            S("CardholderName", 50),
            S("CreditCardTransactionID", 15),
            S("CreditCardAuthorizationNo", 16),
            D("AuthorizationDate"),
            S("AuthorizationTime", 8),
            *_avs(),
            S("CreditCardEmailAddress", 250),
            S("CreditCardComment", 30),
            S("EInvoiceTransactionId", 24),
            *AUDIT,
        ),
        (
            "BankCode", "DepositDate", "DepositNo", "DepositType", "ARDivisionNo",
            "CustomerNo", "CreditCardEntryNo", "CheckNo", "SequenceNo",
        ),
        (
            ("ARDivisionNo", "CustomerNo", "InvoiceNo"), ("CheckNo",), ("CreditCardTransactionID",),
            ("BankCode", "DepositDate", "DepositDesc"),  # a posted deposit found again by its description
        ),
        note="one row per applied line; no CreditCardGUID, no fee column",
    ),
    Table(
        "SO_SalesOrderHeader",
        "SO_SalesOrderHeader",
        (
            S("SalesOrderNo", 7),
            D("OrderDate"),
            S("OrderType", 1, "S standard, B back order, Q quote, M master, R repeating, P prospect"),
            S("OrderStatus", 1, "N new, O open, C closed, H hold"),
            D("ShipExpireDate"),
            S("ARDivisionNo", 2),
            S("CustomerNo", 20),
            S("BillToDivisionNo", 2),
            S("BillToCustomerNo", 20),
            *_address("BillTo"),
            S("ShipToCode", 4),
            *_address("ShipTo"),
            S("ShipVia", 15),
            S("CustomerPONo", 30),
            S("FOB", 15),
            S("WarehouseCode", 3),
            S("ConfirmTo", 50),
            S("Comment", 30),
            S("TermsCode", 2),
            S("TaxSchedule", 9),
            S("TaxExemptNo", 15),
            S("EmailAddress", 250),
            S("SalespersonDivisionNo", 2),
            S("SalespersonNo", 4),
            S("PaymentType", 5),
            S("PaymentTypeCategory", 1),
            S("OtherPaymentTypeRefNo", 24),
            S("CheckNoForDeposit", 10),
            S("CurrentInvoiceNo", 7),
            S("LastInvoiceOrderNo", 7),
            N("TaxableAmt", 12),
            N("NonTaxableAmt", 12),
            N("SalesTaxAmt", 11),
            N("FreightAmt", 11),
            N("DiscountAmt", 11),
            N("DepositAmt", 12),
            S("CancelReasonCode", 5),
            F("PayBalance"),
            *AUDIT,
        ),
        ("SalesOrderNo",),
        (
            ("ARDivisionNo", "CustomerNo", "SalesOrderNo"),
            ("ARDivisionNo", "CustomerNo", "CustomerPONo", "SalesOrderNo"),
        ),
    ),
    Table(
        "SO_SalesOrderDetail",
        "SO_SalesOrderDetail",
        (
            S("SalesOrderNo", 7),
            S("LineKey", 6),
            S("LineSeqNo", 14),
            S("ItemCode", 30),
            S("ItemType", 1),
            S("ItemCodeDesc", 30),
            S("WarehouseCode", 3),
            S("UnitOfMeasure", 4),
            S("PriceLevel", 1),
            S("SalesAcctKey", 9),
            S("CostOfGoodsSoldAcctKey", 9),
            N("QuantityOrdered", 15, 6),
            N("QuantityShipped", 15, 6),
            N("QuantityBackordered", 15, 6),
            N("UnitPrice", 15, 6),
            N("UnitCost", 15, 6),
            N("ExtensionAmt", 11),
            N("LineDiscountPercent", 8, 3),
            S("TaxClass", 2),
            D("PromiseDate"),
            S("CommentText", None),
            F("DropShip"),
            S("CommodityCode", 12),
            *AUDIT,
        ),
        ("SalesOrderNo", "LineKey"),
        (("SalesOrderNo", "LineSeqNo", "LineKey"),),
    ),
    Table(
        "SO_SalesOrderPayment",
        "SO_SalesOrderPayment",
        (
            S("SalesOrderNo", 7),
            S("PaymentSeqNo", 6),
            *_card_payment(guid=True, transaction_id_length=10),
            F("SaveCreditCard"),
            *AUDIT,
        ),
        ("SalesOrderNo", "PaymentSeqNo"),
        (("CreditCardGUID",), ("PaymentType",), ("CreditCardTransactionID",)),
    ),
    Table(
        "GL_DetailPosting",
        "GL_DetailPosting",
        (
            S("AccountKey", 9),
            D("PostingDate"),
            S("SourceJournal", 2, "GJ, CR, SJ, SO ... [?]"),
            S("JournalRegisterNo", 6),
            S("SequenceNo", 14),
            N("DebitAmount", 16),
            N("CreditAmount", 16),
            S("PostingComment", 2048),
            S("SourceModule", 3, "length [I]"),
            S("BatchNo", 5, "length [I]"),
            S("BatchType", 2, "length [I]"),
            S("DocumentNo", 10, "length [I]"),
            S("DocumentType", 2, "length [I]"),
            S("DocSequenceNo", 6, "length [I]"),
            D("LineDate"),
            S("LineBankCode", 1),
            S("LineDocRefer", 30, "length [I]"),
            S("ReceiptNo", 10, "length [I]"),
            F("HeaderRec", "kind [I]"),
            *AUDIT_CREATED,
        ),
        ("AccountKey", "PostingDate", "SourceJournal", "JournalRegisterNo", "SequenceNo"),
        (("SourceJournal", "JournalRegisterNo"), ("PostingDate",)),
        certainty="inferred",
        note="columns [C, dbt staging model]; primary key [I]",
    ),
    Table(
        "GL_GeneralJournalHeader",
        "GL_GeneralJournalHeader",
        (
            S("SourceJournal", 2),
            S("EntryNo", 6),
            D("PostingDate"),
            S("JournalComment", 30),
            S("BatchNo", 5),
            S("TransactionType", 1, "A adjustment, B bank transfer, C check, D deposit, R doc ref"),
            F("AcceptOutofBalance"),
            *AUDIT,
        ),
        ("SourceJournal", "EntryNo"),
        certainty="inferred",
        note="name [I] mirrors GL_TransactionJournalHeader (KPRIMARY SourceJournal+EntryNo)",
    ),
    Table(
        "GL_GeneralJournalDetail",
        "GL_GeneralJournalDetail",
        (
            S("SourceJournal", 2),
            S("EntryNo", 6),
            S("LineKey", 6),
            S("LineSeqNo", 14),
            S("AccountKey", 9),
            N("DebitAmount", 16, note="[?] may be one signed PostingAmt"),
            N("CreditAmount", 16, note="[?]"),
            S("Comment", 30, "[?]"),
            *AUDIT,
        ),
        ("SourceJournal", "EntryNo", "LineKey"),
        certainty="uncertain",
    ),
    Table(
        "GL_GeneralJournalHistory",
        "GL_GeneralJournalHistory",
        (
            S("SourceJournal", 2),
            S("EntryNo", 6),
            D("PostingDate"),
            S("JournalComment", 30),
            S("JournalRegisterNo", 6, "[I] link to GL_DetailPosting"),
            S("BatchNo", 5, "[I]"),
            *AUDIT,
        ),
        ("SourceJournal", "EntryNo", "PostingDate"),
        certainty="inferred",
        note="EntryNo, SourceJournal, PostingDate, JournalComment [C, dbt]; the rest [I]",
    ),
    Table(
        "next_numbers",
        "SY_NextNumber",
        (
            S("ModuleCode", 3, "A/R, S/O, G/L"),
            S("NumberType", 30, "CustomerNo, SalesOrderNo, InvoiceNo, DepositNo, EntryNo, ..."),
            S("NextNumber", 20, "the next number to hand out, zero padded to the field length"),
            *AUDIT,
        ),
        ("ModuleCode", "NumberType"),
        certainty="inferred",
        demo_only=True,
        note="demo company only: real Sage keeps next numbers in module options and hands them out via BOI",
    ),
)

# Names a site may need to correct, each with the reason it is not confirmed. Keys are the
# override keys accepted by `Sage100Schema(name_overrides=...)`: a table key or "Table.Column".
UNCERTAIN_NAMES: dict[str, str] = {
    # The bank code table was not found in any file layout or DDL (reference §2.1, §8.5);
    # candidates GL_BankCode / BR_...; read the site's ODBC table list.
    "bank_codes": "GL_BankCode",
    "bank_codes.BankName": "BankName",
    "bank_codes.CashAcctKey": "CashAcctKey",
    "bank_codes.BankAcctNo": "BankAcctNo",
    "bank_codes.NextCheckNo": "NextCheckNo",
    "bank_codes.CurrentBalance": "CurrentBalance",
    # Deposit card/ACH totals and batch: UI fields seen in help, column names inferred (§2.3, §8.1).
    "AR_CashReceiptsDeposit.BatchNo": "BatchNo",
    "AR_CashReceiptsDeposit.DepositType": "DepositType",
    "AR_CashReceiptsDeposit.CreditCardDepositAmt": "CreditCardDepositAmt",
    "AR_CashReceiptsDeposit.CreditCardBalanceAmt": "CreditCardBalanceAmt",
    "AR_CashReceiptsDeposit.ACHDepositAmt": "ACHDepositAmt",
    "AR_CashReceiptsDeposit.ACHBalanceAmt": "ACHBalanceAmt",
    # Header card columns mirror AR_CashReceiptsHistory [I] (§2.3); History has no GUID column.
    "AR_CashReceiptsHeader.CreditCardTransactionID": "CreditCardTransactionID",
    "AR_CashReceiptsHeader.CreditCardGUID": "CreditCardGUID",
    "AR_CashReceiptsHeader.CreditCardAuthorizationNo": "CreditCardAuthorizationNo",
    "AR_CashReceiptsHeader.PaymentType": "PaymentType",
    # Detail line columns by analogy with AP_ARClearingDetail [I]; LineType name/values [?] (§8.1).
    "AR_CashReceiptsDetail.CreditCardEntryNo": "CreditCardEntryNo",
    "AR_CashReceiptsDetail.LineKey": "LineKey",
    "AR_CashReceiptsDetail.LineSeqNo": "LineSeqNo",
    "AR_CashReceiptsDetail.LineType": "LineType",
    "AR_CashReceiptsDetail.InvoiceType": "InvoiceType",
    "AR_CashReceiptsDetail.DiscountAmt": "DiscountAmt",
    "AR_CashReceiptsDetail.InvoiceBalance": "InvoiceBalance",
    "AR_CashReceiptsDetail.AccountKey": "AccountKey",
    # Payment type fee fields: UI labels known, column names not (§2.1).
    "AR_PaymentType.DiscountRate": "DiscountRate",
    "AR_PaymentType.PerTransactionFee": "PerTransactionFee",
    # Per-warehouse quantities: only the key is confirmed (§2.1).
    "IM_ItemWarehouse.QuantityOnHand": "QuantityOnHand",
    "IM_ItemWarehouse.QuantityOnSalesOrder": "QuantityOnSalesOrder",
    "IM_ItemWarehouse.QuantityOnBackOrder": "QuantityOnBackOrder",
    "IM_ItemWarehouse.QuantityOnPurchaseOrder": "QuantityOnPurchaseOrder",
    "IM_ItemWarehouse.AverageCost": "AverageCost",
    # General Journal entry tables: names mirror GL_TransactionJournal* [I]; line amounts [?] (§2.5, §8.2).
    "GL_GeneralJournalHeader": "GL_GeneralJournalHeader",
    "GL_GeneralJournalDetail": "GL_GeneralJournalDetail",
    "GL_GeneralJournalDetail.DebitAmount": "DebitAmount",
    "GL_GeneralJournalDetail.CreditAmount": "CreditAmount",
    "GL_GeneralJournalDetail.Comment": "Comment",
    "GL_GeneralJournalHistory.JournalRegisterNo": "JournalRegisterNo",
}

class Sage100Schema:
    """The tables with a site's name corrections applied.

    `name_overrides` maps a table key ("bank_codes") to the site's table name, or
    "TableKey.ColumnKey" to the site's column name. Unknown keys are refused, so a typo cannot
    silently leave the default in place.
    """

    def __init__(self, name_overrides: Mapping[str, str] | None = None) -> None:
        overrides = dict(name_overrides or {})
        tables = {table.key: table for table in _TABLES}
        for key, site_name in overrides.items():
            table_key, _, column_key = key.partition(".")
            if table_key not in tables:
                raise KeyError(f"sage100 names: unknown table {table_key!r}; known: {', '.join(sorted(tables))}")
            if not site_name or not site_name.replace("_", "").isalnum():
                raise ValueError(f"sage100 names: {key} -> {site_name!r} is not a plain SQL identifier")
            table = tables[table_key]
            if not column_key:
                tables[table_key] = replace(table, name=site_name)
                continue
            if column_key not in table.column_keys:
                raise KeyError(f"sage100 names: {table_key} has no column {column_key!r}")
            columns = tuple(replace(c, name=site_name) if c.key == column_key else c for c in table.columns)
            primary_key = tuple(site_name if c == column_key else c for c in table.primary_key)
            indexes = tuple(tuple(site_name if c == column_key else c for c in ix) for ix in table.indexes)
            tables[table_key] = replace(table, columns=columns, primary_key=primary_key, indexes=indexes)
        self._tables = tables
        self.name_overrides: dict[str, str] = overrides

    def table(self, key: str) -> Table:
        try:
            return self._tables[key]
        except KeyError:
            raise KeyError(f"no Sage 100 table {key!r} in the schema; known: {', '.join(self._tables)}") from None

    __getitem__ = table

    def tables(self) -> list[Table]:
        return list(self._tables.values())

    def sqlite_ddl(self) -> list[str]:
        """CREATE TABLE and CREATE INDEX statements for the demo company (SQLite)."""
        statements = []
        for table in self._tables.values():
            body = [f"    {_sqlite_column(column)}" for column in table.columns]
            body.append(f"    PRIMARY KEY ({', '.join(table.primary_key)})")
            statements.append(f"CREATE TABLE {table.name} (\n" + ",\n".join(body) + "\n)")
            for number, index in enumerate(table.indexes, start=1):
                statements.append(f"CREATE INDEX IX_{table.name}_{number} ON {table.name} ({', '.join(index)})")
        return statements

    def create_in(self, connection) -> None:
        """Create every table in a sqlite3 connection, atomically."""
        with connection:
            for statement in self.sqlite_ddl():
                connection.execute(statement)


def _sqlite_column(column: Column) -> str:
    name = column.name
    if column.kind == "str":
        check = f" CHECK (length({name}) <= {column.length})" if column.length else ""
        return f"{name} TEXT NOT NULL DEFAULT ''{check}"
    if column.kind == "flag":
        return f"{name} TEXT NOT NULL DEFAULT '' CHECK ({name} IN ('Y', 'N', ''))"
    if column.kind == "date":
        # ISO text; the check refuses anything date() would not give back unchanged.
        return f"{name} DATE CHECK ({name} IS NULL OR coalesce({name} = date({name}), 0))"
    limit = 10 ** ((column.length or 18) - column.scale)  # refuse what the Sage field cannot hold
    if column.kind == "int":
        return f"{name} INTEGER NOT NULL DEFAULT 0 CHECK (typeof({name}) = 'integer' AND abs({name}) < {limit})"
    return _sqlite_decimal_column(column, limit)


def _sqlite_decimal_column(column: Column, limit: int) -> str:
    """Money and quantities as their exact decimal text at the column's scale ("12.30", "-5.00").

    The declared type decides SQLite's affinity: a plain DECIMAL has NUMERIC affinity, which would
    turn '12.30' into the double 12.3; a declared type containing TEXT gives TEXT affinity, while
    Python's PARSE_DECLTYPES still reads its first word, DECIMAL, and converts the value to a
    `Decimal` (sqlite_connection.py). The check refuses anything but that exact form.
    """
    name, scale = column.name, column.scale
    digits = "." + "[0-9]" * scale if scale else ""
    return (
        f"{name} DECIMAL TEXT({column.length},{scale}) NOT NULL DEFAULT '{Decimal(0):.{scale}f}'"
        f" CHECK (typeof({name}) = 'text' AND ltrim({name}, '-') GLOB '[0-9]*{digits}'"
        f" AND ltrim({name}, '-') NOT GLOB '*[^0-9.]*' AND {name} NOT GLOB '--*'"
        f" AND length({name}) - length(replace({name}, '.', '')) = {1 if scale else 0}"
        f" AND abs({name}) < {limit})"
    )


DEFAULT_SCHEMA = Sage100Schema()

"""The demo company's fixed master data: GL chart, divisions, terms, payment types, bank codes, items.

Kept apart from the random parts so the accounts a configuration refers to ("1061-00 Visa
clearing") are the same for every seed.
"""

from __future__ import annotations

from decimal import Decimal

# (Account, description, AccountType, Status). AccountType codes follow GL_AccountType as far as
# the reference confirms them (01 cash, 02 net AR, 11 net revenue, 12 cost of sales, 13 operating
# expense); the liability/equity codes are this demo's choice.
GL_CHART: tuple[tuple[str, str, str, str], ...] = (
    ("1010-00", "Cash - Operating Account", "01", "A"),
    ("1020-00", "Cash - Savings Account", "01", "A"),
    ("1050-00", "Undeposited Funds", "01", "A"),
    ("1060-00", "Credit Card Clearing", "01", "A"),
    ("1061-00", "Visa Clearing", "01", "A"),
    ("1062-00", "MasterCard Clearing", "01", "A"),
    ("1063-00", "American Express Clearing", "01", "A"),
    ("1064-00", "Discover Clearing", "01", "A"),
    ("1200-00", "Accounts Receivable - Wholesale", "02", "A"),
    ("1210-00", "Accounts Receivable - Service", "02", "A"),
    ("1300-00", "Inventory", "03", "A"),
    ("2100-00", "Sales Tax Payable", "05", "A"),
    ("2200-00", "Customer Deposits", "05", "A"),
    ("2300-00", "Accrued Credit Card Fees", "05", "A"),
    ("3900-00", "Retained Earnings", "09", "A"),
    ("4000-00", "Sales", "11", "A"),
    ("4050-00", "Freight Income", "11", "A"),
    ("4800-00", "Finance Charge Income", "11", "A"),
    ("4900-00", "Sales Discounts", "11", "A"),
    ("4950-00", "Sales Returns and Refunds", "11", "A"),
    ("5000-00", "Cost of Goods Sold", "12", "A"),
    ("6150-00", "Merchant Card Fees", "13", "A"),
    ("6160-00", "Chargebacks", "13", "A"),
    ("6170-00", "Bad Debt Expense", "13", "A"),
    ("6999-00", "Suspense (closed)", "13", "I"),  # inactive: postings to it must be refused
    # appended, not sorted in: account keys are positions in this chart (see APPENDED_ACCOUNTS)
    ("2350-00", "Card Sales Awaiting AR Receipts", "05", "A"),
    ("1250-00", "Chargebacks Receivable", "02", "A"),  # open dispute cases (README "Chargebacks")
    ("1260-00", "Processor Receivable", "02", "A"),  # short/missing deposits (gl_accounts.processor_receivable)
    ("7950-00", "Realized Exchange Gain/Loss", "13", "A"),  # currency.exchange_difference_account
)


# Accounts added to the chart after companies were generated from seeds: they get a fixed audit
# stamp instead of one drawn from the seeded random stream, so a seed still makes the same company.
APPENDED_ACCOUNTS = frozenset({"2350-00", "1250-00", "1260-00", "7950-00"})


def account_key(account: str) -> str:
    """The 9-char surrogate AccountKey of a chart account (stable: position in the chart)."""
    for number, (code, *_rest) in enumerate(GL_CHART, start=1):
        if code == account:
            return f"{number:09d}"
    raise KeyError(f"demo GL chart has no account {account}")


# ARDivisionNo -> (description, AR control, cash) ; other control accounts are shared.
DIVISIONS = {"01": ("Wholesale", "1200-00", "1010-00"), "02": ("Service", "1210-00", "1010-00")}
DIVISION_SHARED_ACCOUNTS = {
    "DiscountsAllowedAcctKey": "4900-00",
    "FreightAcctKey": "4050-00",
    "SalesTaxAcctKey": "2100-00",
    "FinanceChrgAcctKey": "4800-00",
    "RetentionReceivableAcctKey": "1200-00",
}

# TermsCode -> (description, days before due, days before discount, discount %)
TERMS = {
    "00": ("Due Upon Receipt", 0, 0, Decimal("0")),
    "01": ("Net 30 Days", 30, 0, Decimal("0")),
    "02": ("2% 10 Net 30", 30, 10, Decimal("2")),
    "03": ("Net 15 Days", 15, 0, Decimal("0")),
    "05": ("Net 60 Days", 60, 0, Decimal("0")),
}

# PaymentType -> (brand, description, method, asset account, accrual account, fee %, per-item fee).
# Card types post to a clearing account (asset) with the fee accrual on the merchant fee account;
# their processor fields stay blank: payments are processed by PayTrace, not by Sage (KB-manual-cc).
PAYMENT_TYPES = {
    "VISA": ("VISA", "Visa", "R", "1061-00", "6150-00", Decimal("2.500"), Decimal("0.10")),
    "MC": ("MASTERCARD", "MasterCard", "R", "1062-00", "6150-00", Decimal("2.500"), Decimal("0.10")),
    "AMEX": ("AMEX", "American Express", "R", "1063-00", "6150-00", Decimal("3.500"), Decimal("0.10")),
    "DISC": ("DISCOVER", "Discover", "R", "1064-00", "6150-00", Decimal("2.600"), Decimal("0.10")),
    "CHECK": ("", "Check", "C", "1010-00", "", Decimal("0"), Decimal("0")),
}
PAYMENT_TYPE_BY_BRAND = {brand: code for code, (brand, *_rest) in PAYMENT_TYPES.items() if brand}

# BankCode -> (name, cash account, account number shown masked as Sage users type it)
BANK_CODES = {"A": ("First Cascade Bank - Operating", "1010-00", "xxxxxx4821"),
              "B": ("First Cascade Bank - Savings", "1020-00", "xxxxxx9034")}

WAREHOUSES = ("000", "001")
SALES_TAX_RATE = {"WA": Decimal("0.089"), "OR": Decimal("0"), "ID": Decimal("0.06")}

# ItemCode, description, product line, price, cost. Misc items ('/'): service lines for invoices
# whose goods are not tracked (the web store and phone orders of the PayTrace generator).
ITEMS: tuple[tuple[str, str, str, Decimal, Decimal], ...] = (
    ("BOLT-1420", "Hex Bolt 1/4-20 x 1 (box 100)", "HDWR", Decimal("14.95"), Decimal("6.10")),
    ("BOLT-3816", "Hex Bolt 3/8-16 x 2 (box 50)", "HDWR", Decimal("18.50"), Decimal("7.85")),
    ("NUT-1420", "Nylon Lock Nut 1/4-20 (bx 100)", "HDWR", Decimal("9.75"), Decimal("3.40")),
    ("WASH-0250", "Flat Washer 1/4 (box 200)", "HDWR", Decimal("7.20"), Decimal("2.15")),
    ("ANCH-0500", "Wedge Anchor 1/2 x 4", "HDWR", Decimal("2.35"), Decimal("0.88")),
    ("GLOVE-NIT", "Nitrile Gloves (box 100)", "SAFE", Decimal("12.99"), Decimal("5.40")),
    ("GLASS-CLR", "Safety Glasses, clear", "SAFE", Decimal("4.50"), Decimal("1.25")),
    ("VEST-HIVIS", "Hi-Vis Vest, class 2", "SAFE", Decimal("11.00"), Decimal("4.10")),
    ("HELMET-W", "Hard Hat, white", "SAFE", Decimal("19.95"), Decimal("8.30")),
    ("TAPE-DUCT", "Duct Tape 2in x 60yd", "SUPP", Decimal("8.49"), Decimal("3.05")),
    ("TAPE-PAINT", "Painter's Tape 1.5in", "SUPP", Decimal("6.25"), Decimal("2.20")),
    ("RAG-BOX", "Shop Rags (box 10 lb)", "SUPP", Decimal("24.00"), Decimal("11.50")),
    ("ABSORB-50", "Oil Absorbent (50 lb)", "SUPP", Decimal("17.80"), Decimal("8.95")),
    ("DRILL-18V", "Cordless Drill 18V", "TOOL", Decimal("149.00"), Decimal("88.00")),
    ("SAW-CIRC", "Circular Saw 7-1/4", "TOOL", Decimal("129.00"), Decimal("74.50")),
    ("BIT-SET29", "Drill Bit Set, 29 pc", "TOOL", Decimal("39.99"), Decimal("16.20")),
    ("LEVEL-48", "Box Level 48in", "TOOL", Decimal("54.00"), Decimal("23.75")),
    ("LADDER-6", "Step Ladder 6ft", "TOOL", Decimal("89.00"), Decimal("47.00")),
    ("FILTER-HV", "HVAC Filter 20x25x1 (case 12)", "HVAC", Decimal("64.00"), Decimal("30.10")),
    ("THERM-PRG", "Programmable Thermostat", "HVAC", Decimal("79.95"), Decimal("41.00")),
    ("/SERVICE", "Service / order (see invoice)", "MISC", Decimal("0"), Decimal("0")),
    ("/FREIGHT", "Freight charge", "MISC", Decimal("0"), Decimal("0")),
)

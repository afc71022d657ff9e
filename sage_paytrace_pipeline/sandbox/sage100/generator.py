"""Create a realistic Sage 100 demo company in SQLite, deterministic from a seed.

Masters (GL chart, divisions, terms, payment types, bank codes, items with stock), a few hundred
customers (some on credit hold, some inactive, some with vault cards), aged open invoices and
credit memos with their invoice history, a few open sales orders, customer balances, an opening
GL entry that ties AR control to the open items, and next numbers.

Given the PayTrace generator's `GeneratedActivity`, it also creates the customers and open
invoices those payments refer to, so generated payments pay generated invoices: one customer per
vault customer (its saved card's `CreditCardGUID` is the vault `customer_id`), one per web buyer
(by e-mail), and one open invoice per generated invoice with exactly its number, date and amount.
Card numbers never exist here: a saved card is a vault token, brand, last 4 and expiry.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.sage100.schema import CARD_TYPE_BY_BRAND, DEFAULT_SCHEMA, Column, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import decimal_text, open_demo_database
from sage_paytrace_pipeline.sandbox.paytrace.generator import GeneratedActivity, GeneratedCustomer, GeneratedInvoice
from sage_paytrace_pipeline.sandbox.sage100 import catalog
from sage_paytrace_pipeline.sandbox.sage100.catalog import account_key
from sage_paytrace_pipeline.sandbox.sage100.company.indexes import ensure_lookup_indexes

CENT = Decimal("0.01")
USER_KEY = "0000000001"  # the demo's Sage user (UserCreatedKey is a 10-char key into SY_User)
FIRST_RANDOM_INVOICE = 50001  # the PayTrace generator's invoices start at 0100100; stay below
LAST_RANDOM_INVOICE = 99999
FIRST_SALES_ORDER = 1001

_PREFIX = ("Cascade", "Ridgeline", "Blue Heron", "Summit", "Pinecrest", "Harbor", "Lakeside", "Northwind",
           "Evergreen", "Granite Peak", "Riverbend", "Sunrise", "Timberline", "Columbia", "Palouse",
           "Silver Creek", "Red Cedar", "Bayview", "Mountain View", "Westgate", "Kettle Falls", "Iron Horse")
_KIND = ("Supply", "Dental", "Cafe", "Auto Glass", "Veterinary", "Printing", "Landscaping", "HVAC",
         "Pharmacy", "Bakery", "Construction", "Plumbing", "Electric", "Property Mgmt", "Brewing",
         "Fitness", "Roofing", "Machine Works", "Cabinetry", "Logistics")
_SUFFIX = ("", "", " Inc", " LLC", " Co", " Group")
_FIRST = ("Ana", "Ben", "Carla", "Dev", "Elena", "Frank", "Grace", "Hiro", "Ines", "Jamal", "Kim", "Luis",
          "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Victor", "Wen", "Yusuf", "Zoe")
_LAST = ("Alvarez", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jones",
         "Lopez", "Murphy", "Nguyen", "O'Brien", "Patel", "Rossi", "Smith", "Tanaka", "Weber", "Zhang")
_STREETS = ("Main St", "Oak Ave", "Division St", "Monroe St", "Pine St", "Sprague Ave", "Market St",
            "Lincoln Blvd", "Industrial Way", "Airport Rd")
_CITIES = (("Spokane", "WA", "99201"), ("Spokane Valley", "WA", "99216"), ("Seattle", "WA", "98101"),
           ("Tacoma", "WA", "98402"), ("Yakima", "WA", "98901"), ("Portland", "OR", "97205"),
           ("Eugene", "OR", "97401"), ("Bend", "OR", "97701"), ("Boise", "ID", "83702"),
           ("Coeur d'Alene", "ID", "83814"))


class DemoCompanySummary(BaseModel):
    """What was created, without card data: row counts and the customers linked to PayTrace."""

    model_config = ConfigDict(frozen=True)

    db_path: str
    seed: int
    today: date
    counts: dict[str, int]  # Sage table name -> rows
    vault_customers: dict[str, tuple[str, str]]  # PayTrace vault customer_id -> (ARDivisionNo, CustomerNo)
    web_customers: dict[str, tuple[str, str]]  # web buyer e-mail -> (ARDivisionNo, CustomerNo)
    next_numbers: dict[str, str]  # "A/R InvoiceNo" -> next number


def create_demo_company(
    db_path: str | Path,
    *,
    seed: int = 1,
    activity: GeneratedActivity | None = None,
    customers: int = 300,
    today: date | None = None,
    overwrite: bool = False,
    schema: Sage100Schema = DEFAULT_SCHEMA,
) -> DemoCompanySummary:
    """Write a fresh demo company to `db_path` (refuses an existing file unless `overwrite`)."""
    path = Path(db_path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pick another file or pass overwrite=True (--force)")
        path.unlink()
    today = today or (activity.end if activity else date.today())
    company = _Company(random.Random(seed), today)
    company.build_masters()
    company.add_random_customers(customers)
    if activity is not None:
        company.add_activity(activity)
    company.add_sales_orders()
    company.finish()

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = open_demo_database(path, create=True)
    try:
        schema.create_in(connection)
        ensure_lookup_indexes(connection, schema)  # the writer's document-number indexes too
        with connection:
            for key, rows in company.rows.items():
                _insert(connection, schema, key, rows)
        connection.execute("VACUUM")  # a compact file without free pages
    finally:
        connection.close()
    return DemoCompanySummary(
        db_path=str(path), seed=seed, today=today,
        counts={schema.table(key).name: len(company.rows.get(key, [])) for key in (t.key for t in schema.tables())},
        vault_customers=company.vault_links, web_customers=company.web_links,
        next_numbers={f"{module} {kind}": number for (module, kind), number in company.next_numbers.items()},
    )


def _insert(connection, schema: Sage100Schema, key: str, rows: list[dict[str, Any]]) -> None:
    table = schema.table(key)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_columns[tuple(row)].append(row)
    for column_keys, group in by_columns.items():
        names = ", ".join(table.col(k) for k in column_keys)
        marks = ", ".join("?" for _ in column_keys)
        columns = [table.column(k) for k in column_keys]
        connection.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
            [tuple(_stored(column, r[column.key]) for column in columns) for r in group],
        )


def _stored(column: Column, value: Any) -> Any:
    """Decimals as the exact text the demo company keeps (one rule with the writer's store)."""
    if column.kind == "decimal" and value is not None:
        return decimal_text(Decimal(str(value)), column.scale)
    return value


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class _Customer:
    division: str
    customer_no: str
    row: dict[str, Any]
    open_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Company:
    """Collects rows per schema table key; nothing touches the database until `finish`."""

    rng: random.Random
    today: date
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    customers: list[_Customer] = field(default_factory=list)
    vault_links: dict[str, tuple[str, str]] = field(default_factory=dict)
    web_links: dict[str, tuple[str, str]] = field(default_factory=dict)
    next_numbers: dict[tuple[str, str], str] = field(default_factory=dict)
    customer_seq: int = 0
    invoice_seq: int = FIRST_RANDOM_INVOICE
    highest_invoice: int = 0
    quantity_on_hand: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    quantity_on_order: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    used_guids: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------ audit and helpers

    def audit(self, day: date | None = None) -> dict[str, Any]:
        """Sage audit columns; times are decimal hours as Sage stores them ('9.25' = 09:15)."""
        day = day or self.today
        hours = Decimal(self.rng.randrange(7 * 60, 18 * 60)) / 60
        return {"DateCreated": day, "TimeCreated": f"{hours:.2f}".rstrip("0").rstrip("."),
                "UserCreatedKey": USER_KEY, "DateUpdated": day,
                "TimeUpdated": f"{hours:.2f}".rstrip("0").rstrip("."), "UserUpdatedKey": USER_KEY}

    def fixed_audit(self) -> dict[str, Any]:
        """An audit stamp that draws nothing from the seeded stream (08:00 on `today`)."""
        return {"DateCreated": self.today, "TimeCreated": "8", "UserCreatedKey": USER_KEY,
                "DateUpdated": self.today, "TimeUpdated": "8", "UserUpdatedKey": USER_KEY}

    def add(self, key: str, row: dict[str, Any], *, audited: bool = True, day: date | None = None) -> dict[str, Any]:
        if audited:
            row = {**row, **self.audit(day)}
        self.rows[key].append(row)
        return row

    # ------------------------------------------------------------------ masters

    def build_masters(self) -> None:
        for account, description, account_type, status in catalog.GL_CHART:
            main, _, sub = account.partition("-")
            appended = account in catalog.APPENDED_ACCOUNTS
            self.add("GL_Account", {
                "AccountKey": account_key(account), "AccountDesc": description, "Account": account,
                "RawAccount": main + sub, "MainAccountCode": main, "Status": status, "ClearBalance": "N",
                "AccountType": account_type, "AccountCategory": "", **(self.fixed_audit() if appended else {}),
            }, audited=not appended)
        for division, (description, ar_account, cash_account) in catalog.DIVISIONS.items():
            self.add("AR_Division", {
                "ARDivisionNo": division, "ARDivisionDesc": description,
                "AccountsReceivableAcctKey": account_key(ar_account), "CashAcctKey": account_key(cash_account),
                **{column: account_key(account) for column, account in catalog.DIVISION_SHARED_ACCOUNTS.items()},
            })
        for code, (description, due_days, discount_days, rate) in catalog.TERMS.items():
            self.add("AR_TermsCode", {
                "TermsCode": code, "TermsCodeDesc": description, "DaysBeforeDue": due_days,
                "DueDateADayOfTheMonth": "N", "MinimumDaysAllowedInv": 0, "DaysBeforeDiscountDue": discount_days,
                "DiscountDateADayOfTheMo": "N", "DiscountRate": rate,
            })
        for code, (_brand, description, method, asset, accrual, rate, fee) in catalog.PAYMENT_TYPES.items():
            self.add("AR_PaymentType", {
                "PaymentType": code, "PaymentDesc": description, "PaymentMethod": method,
                "AssetAcctKey": account_key(asset), "CreditCardAccrualAcctKey": account_key(accrual) if accrual else "",
                "DefaultTransaction": "D", "AllowCorporateCards": "N", "DiscountRate": rate, "PerTransactionFee": fee,
            })
        for code, (name, cash_account, account_no) in catalog.BANK_CODES.items():
            self.add("bank_codes", {"BankCode": code, "BankName": name, "CashAcctKey": account_key(cash_account),
                                    "BankAcctNo": account_no, "NextCheckNo": "0001001",
                                    "City": "Spokane", "State": "WA", "ZipCode": "99201"})
        self.build_items()

    def build_items(self) -> None:
        for code, description, line, price, cost in catalog.ITEMS:
            misc = code.startswith("/")
            total = Decimal(0)
            for warehouse in catalog.WAREHOUSES:
                on_hand = Decimal(0) if misc else Decimal(self.rng.randrange(0, 400))
                self.quantity_on_hand[(code, warehouse)] = on_hand
                total += on_hand
            self.add("CI_Item", {
                "ItemCode": code, "ItemType": "5" if misc else "1", "ItemCodeDesc": description, "ProductLine": line,
                "ProductType": "" if misc else "F", "Valuation": "" if misc else "2",
                "SalesUnitOfMeasure": "EACH", "StandardUnitOfMeasure": "EACH", "TaxClass": "NT" if misc else "TX",
                "SalesAcctKey": account_key("4050-00" if code == "/FREIGHT" else "4000-00"),
                "CostOfGoodsSoldAcctKey": account_key("5000-00"), "InventoryAcctKey": account_key("1300-00"),
                "PurchaseAcctKey": account_key("1300-00"), "DefaultWarehouseCode": catalog.WAREHOUSES[0],
                "StandardUnitPrice": price, "StandardUnitCost": cost, "AverageUnitCost": cost,
                "TotalQuantityOnHand": total, "InactiveItem": "N", "UseInAR": "Y", "UseInSO": "Y",
                "UseInPO": "N" if misc else "Y",
            })

    # ------------------------------------------------------------------ customers

    def new_customer(
        self, division: str, name: str, *, email: str = "", zip_code: str = "", contact: str = "",
        status: str = "A", credit_hold: bool = False, terms: str | None = None,
    ) -> _Customer:
        rng = self.rng
        self.customer_seq += 1
        letters = re.sub(r"[^A-Z]", "", name.upper())[:4].ljust(4, "X")
        customer_no = f"{letters}{self.customer_seq:04d}"
        city, state, default_zip = rng.choice(_CITIES)
        if zip_code:  # keep the buyer's own ZIP; pick a city of the same state when we know it
            state = next((c[1] for c in _CITIES if c[2][:3] == zip_code[:3]), state)
        established = self.today - timedelta(days=rng.randrange(200, 3000))
        row = self.add("AR_Customer", {
            "ARDivisionNo": division, "CustomerNo": customer_no, "CustomerName": name[:50],
            "AddressLine1": f"{rng.randrange(100, 9999)} {rng.choice(_STREETS)}",
            "AddressLine2": rng.choice(("", "", "", f"Suite {rng.randrange(100, 500)}")),
            "City": city, "State": state, "ZipCode": zip_code or default_zip, "CountryCode": "USA",
            "TelephoneNo": f"({rng.choice(('509', '206', '503', '208'))}) 555-{rng.randrange(100, 999):04d}",
            "EmailAddress": email or f"ap@{_slug(name)[:30]}.example",
            "URLAddress": f"www.{_slug(name)[:30]}.example" if rng.random() < 0.3 else "",
            "TermsCode": terms or rng.choices(("01", "02", "00", "03", "05"), (60, 15, 12, 8, 5))[0],
            "TaxSchedule": state, "SalespersonDivisionNo": division,
            "SalespersonNo": rng.choice(("0100", "0200", "0300")), "Comment": contact[:30],
            "SortField": _slug(name)[:10].upper(), "OpenItemCustomer": "Y", "StatementCycle": "M",
            "CustomerType": rng.choice(("WHL", "RET", "SVC")), "PriceLevel": "",
            "CreditHold": "Y" if credit_hold else "N",
            "CreditLimit": Decimal(rng.choice((0, 2500, 5000, 10000, 25000))), "DefaultPaymentType": "CHECK",
            "DateEstablished": established, "DateLastActivity": established, "CustomerStatus": status,
            "InactiveReasonCode": "CLOSD" if status == "I" else "", "EmailStatements": "Y" if email else "N",
            "EBMEnabled": "N", "EInvoicePayments": "N",
        }, day=established)
        customer = _Customer(division, customer_no, row)
        self.customers.append(customer)
        return customer

    def add_card(self, customer: _Customer, *, guid: str, brand: str, last4: str, holder: str) -> None:
        """A saved card: vault token, brand, last 4, expiry. It becomes the customer's default card."""
        payment_type = catalog.PAYMENT_TYPE_BY_BRAND[brand]
        self.add("AR_CustomerCreditCard", {
            "ARDivisionNo": customer.division, "CustomerNo": customer.customer_no, "CreditCardGUID": guid,
            "PaymentType": payment_type, "CreditCardID": f"{payment_type}-{last4}",
            "ExpirationDateYear": str(self.today.year + self.rng.randrange(0, 5)),
            "ExpirationDateMonth": f"{self.rng.randrange(1, 13):02d}", "CardType": CARD_TYPE_BY_BRAND[brand],
            "CardholderName": holder[:30], "AVSAddressLine1": customer.row["AddressLine1"][:30],
            "AVSCity": customer.row["City"][:20], "AVSState": customer.row["State"],
            "AVSZipCode": customer.row["ZipCode"], "AVSCountryCode": "USA",
            "EmailAddress": customer.row["EmailAddress"], "EBMEnabled": "N", "Last4UnencryptedCreditCardNos": last4,
        })
        customer.row.update(DefaultCreditCardPmtType=payment_type, CreditCardGUID=guid)
        self.used_guids.add(guid)

    def random_guid(self) -> str:
        """32 hex chars, re-drawn if the hex happens to contain a card-number-shaped digit run."""
        while True:
            guid = f"{self.rng.getrandbits(128):032x}"
            if guid not in self.used_guids and not find_card_numbers(guid):
                return guid

    def add_random_customers(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            name = f"{rng.choice(_PREFIX)} {rng.choice(_KIND)}{rng.choice(_SUFFIX)}"
            contact = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            status = "I" if rng.random() < 0.06 else "A"
            customer = self.new_customer(
                "01" if rng.random() < 0.8 else "02", name, contact=contact, status=status,
                credit_hold=status == "A" and rng.random() < 0.05,
            )
            if status == "A" and rng.random() < 0.25:
                brand = rng.choices(("VISA", "MASTERCARD", "AMEX", "DISCOVER"), (55, 25, 12, 8))[0]
                self.add_card(customer, guid=self.random_guid(), brand=brand,
                              last4=f"{rng.randrange(10000):04d}", holder=contact)
            if status == "A":
                for _ in range(rng.choices((0, 1, 2, 3, 4), (30, 30, 20, 12, 8))[0]):
                    self.add_random_invoice(customer)
                if rng.random() < 0.06:
                    self.add_random_invoice(customer, credit_memo=True)

    # ------------------------------------------------------------------ invoices

    def next_random_invoice_no(self) -> str:
        number = self.invoice_seq
        self.invoice_seq += self.rng.randrange(1, 3)
        if number > LAST_RANDOM_INVOICE:
            raise ValueError("too many random invoices for the demo's number range (below 0100000)")
        self.highest_invoice = max(self.highest_invoice, number)
        return f"{number:07d}"

    def add_random_invoice(self, customer: _Customer, *, credit_memo: bool = False) -> None:
        rng = self.rng
        items = [item for item in catalog.ITEMS if not item[0].startswith("/")]
        lines = []
        for _ in range(rng.choices((1, 2, 3), (50, 35, 15))[0]):
            code, description, _line, price, cost = rng.choice(items)
            quantity = Decimal(rng.randrange(1, 12))
            lines.append((code, description, quantity, price, cost))
        freight = _money(Decimal(rng.randrange(800, 4500)) / 100) if rng.random() < 0.3 and not credit_memo else None
        age = rng.randrange(0, 150)
        self.add_invoice(customer, self.next_random_invoice_no(), self.today - timedelta(days=age), lines,
                         freight=freight, credit_memo=credit_memo, paid_share=rng.random())

    def add_invoice(
        self, customer: _Customer, invoice_no: str, invoice_date: date,
        lines: list[tuple[str, str, Decimal, Decimal, Decimal]], *, freight: Decimal | None = None,
        credit_memo: bool = False, paid_share: float = 1.0, taxable: bool | None = None,
    ) -> None:
        """An invoice (or credit memo) posted in the past: history header/detail and the open item."""
        rng, c = self.rng, customer.row
        sign = Decimal(-1) if credit_memo else Decimal(1)
        subtotal = sum((_money(qty * price) for _code, _desc, qty, price, _cost in lines), Decimal(0))
        rate = catalog.SALES_TAX_RATE.get(c["State"], Decimal(0))
        is_taxable = taxable if taxable is not None else (rate > 0 and rng.random() < 0.6)
        taxable_amt, non_taxable = (subtotal, Decimal(0)) if is_taxable else (Decimal(0), subtotal)
        sales_tax = _money(taxable_amt * rate)
        freight = freight or Decimal(0)
        total = taxable_amt + non_taxable + sales_tax + freight
        terms = catalog.TERMS[c["TermsCode"]]
        due = invoice_date + timedelta(days=terms[1])
        discount_date = invoice_date + timedelta(days=terms[2]) if terms[2] else None
        # Older invoices are more likely partly paid; a paid part leaves a payment history row.
        balance = total
        past_due_days = (self.today - due).days
        if not credit_memo and past_due_days > 0 and paid_share < 0.25:
            balance = _money(total * Decimal(rng.choice(("0.5", "0.25", "0.6"))))
        invoice_type = "CM" if credit_memo else "IN"
        cost_total = sum((_money(qty * cost) for _code, _desc, qty, _price, cost in lines), Decimal(0))
        po = f"PO{rng.randrange(10000, 99999)}" if rng.random() < 0.4 else ""
        header_seq = "000000"
        self.add("AR_InvoiceHistoryHeader", {
            "InvoiceNo": invoice_no, "HeaderSeqNo": header_seq, "ModuleCode": "A/R", "InvoiceType": invoice_type,
            "InvoiceDate": invoice_date, "TransactionDate": invoice_date, "ARDivisionNo": customer.division,
            "CustomerNo": customer.customer_no, "TermsCode": c["TermsCode"], "CustomerPONo": po,
            "InvoiceDueDate": due, "DiscountDueDate": discount_date, "SourceJournal": "SJ",
            "JournalNoGLBatchNo": f"{rng.randrange(1, 900):06d}", "BillToName": c["CustomerName"],
            "BillToAddress1": c["AddressLine1"], "BillToAddress2": c["AddressLine2"], "BillToCity": c["City"],
            "BillToState": c["State"], "BillToZipCode": c["ZipCode"], "BillToCountryCode": c["CountryCode"],
            "ShipToName": c["CustomerName"], "ShipToAddress1": c["AddressLine1"], "ShipToCity": c["City"],
            "ShipToState": c["State"], "ShipToZipCode": c["ZipCode"], "ShipToCountryCode": c["CountryCode"],
            "ShipDate": invoice_date, "TaxableSalesAmt": sign * taxable_amt, "NonTaxableSalesAmt": sign * non_taxable,
            "FreightAmt": sign * freight, "SalesTaxAmt": sign * sales_tax, "CostOfSalesAmt": sign * cost_total,
            "EmailAddress": c["EmailAddress"],
        }, day=invoice_date)
        for number, (code, description, quantity, price, cost) in enumerate(lines, start=1):
            self.add("AR_InvoiceHistoryDetail", {
                "InvoiceNo": invoice_no, "HeaderSeqNo": header_seq, "DetailSeqNo": f"{number:06d}",
                "ItemCode": code, "ItemType": "5" if code.startswith("/") else "1", "ItemCodeDesc": description[:30],
                "SalesAcctKey": account_key("4950-00" if credit_memo else "4000-00"),
                "CostOfGoodsSoldAcctKey": account_key("5000-00"), "WarehouseCode": catalog.WAREHOUSES[0],
                "QuantityShipped": sign * quantity, "QuantityOrdered": sign * quantity, "UnitPrice": price,
                "UnitCost": cost, "ExtensionAmt": sign * _money(quantity * price),
                "TaxClass": "TX" if is_taxable else "NT",
            }, day=invoice_date)
        open_row = self.add("AR_OpenInvoice", {
            "ARDivisionNo": customer.division, "CustomerNo": customer.customer_no, "InvoiceNo": invoice_no,
            "InvoiceType": invoice_type, "InvoiceDate": invoice_date, "InvoiceDueDate": due,
            "InvoiceDiscountDate": discount_date, "InvoiceHistoryHeaderSeqNo": header_seq, "PostingDate": invoice_date,
            "TermsCode": c["TermsCode"], "TaxSchedule": c["TaxSchedule"],
            "SalespersonDivisionNo": c["SalespersonDivisionNo"], "SalespersonNo": c["SalespersonNo"],
            "CustomerPONo": po, "TaxableAmt": sign * taxable_amt, "NonTaxableAmt": sign * non_taxable,
            "FreightAmt": sign * freight, "SalesTaxAmt": sign * sales_tax, "CostOfSalesAmt": sign * cost_total,
            "Balance": sign * balance,
        }, day=invoice_date)
        customer.open_rows.append(open_row)
        if balance != total:
            paid_on = min(self.today, due + timedelta(days=rng.randrange(0, 20)))
            self.add_check_payment(customer, open_row, total - balance, paid_on)

    def add_check_payment(self, customer: _Customer, open_row: dict[str, Any], amount: Decimal, paid_on: date) -> None:
        check_no = f"{self.rng.randrange(1000, 99999):010d}"
        self.add("AR_TransactionPaymentHistory", {
            "ARDivisionNo": customer.division, "CustomerNo": customer.customer_no,
            "InvoiceNo": open_row["InvoiceNo"], "InvoiceType": open_row["InvoiceType"], "TransactionDate": paid_on,
            "SequenceNo": "000001", "InvoiceHistoryHeaderSeqNo": "000000", "PaymentReference": check_no[-6:],
            "CheckNo": check_no, "TransactionType": "P", "PaymentDate": paid_on, "PaymentType": "CHECK",
            "TransactionAmt": amount,
        }, day=paid_on)
        row = customer.row
        if row.get("DateLastPayment") is None or paid_on >= row["DateLastPayment"]:
            row.update(DateLastPayment=paid_on, LastPaymentAmt=amount, DateLastActivity=paid_on)

    # ------------------------------------------------------------------ PayTrace activity

    def add_activity(self, activity: GeneratedActivity) -> None:
        by_vault_id: dict[str, _Customer] = {}
        for generated in activity.customers:
            by_vault_id[generated.customer_id] = self.vault_customer(generated)
        by_email: dict[str, _Customer] = {}
        for invoice in sorted(activity.invoices, key=lambda i: i.invoice_no):
            if invoice.customer_id is not None:
                customer = by_vault_id[invoice.customer_id]
            else:
                email = invoice.bill_to_email.strip().lower()
                if email not in by_email:
                    by_email[email] = self.new_customer(
                        "01", invoice.bill_to_name, email=invoice.bill_to_email, zip_code=invoice.bill_to_zip,
                        contact=invoice.bill_to_name, terms="00",
                    )
                    self.web_links[email] = (by_email[email].division, by_email[email].customer_no)
                customer = by_email[email]
            self.activity_invoice(customer, invoice)

    def vault_customer(self, generated: GeneratedCustomer) -> _Customer:
        customer = self.new_customer("01", generated.company, email=generated.email, zip_code=generated.zip,
                                     contact=generated.name)
        self.add_card(customer, guid=generated.customer_id, brand=generated.brand, last4=generated.last4,
                      holder=generated.name)
        self.vault_links[generated.customer_id] = ("01", customer.customer_no)
        return customer

    def activity_invoice(self, customer: _Customer, invoice: GeneratedInvoice) -> None:
        """Exactly the generated number, date and amount: one non-taxable service line, fully open."""
        number = int(invoice.invoice_no)
        self.highest_invoice = max(self.highest_invoice, number)
        line = ("/SERVICE", "Order " + invoice.invoice_no, Decimal(1), invoice.amount, Decimal(0))
        self.add_invoice(customer, invoice.invoice_no, invoice.invoice_date, [line], taxable=False, paid_share=1.0)

    # ------------------------------------------------------------------ sales orders

    def add_sales_orders(self, count: int = 12) -> None:
        rng = self.rng
        buyers = [c for c in self.customers if c.row["CustomerStatus"] == "A" and c.row["CreditHold"] == "N"]
        items = [item for item in catalog.ITEMS if not item[0].startswith("/")]
        for offset in range(min(count, len(buyers))):
            customer = rng.choice(buyers)
            c = customer.row
            order_no = f"{FIRST_SALES_ORDER + offset:07d}"
            order_date = self.today - timedelta(days=rng.randrange(0, 14))
            subtotal = Decimal(0)
            for number in range(1, rng.randrange(2, 5)):
                code, description, _line, price, cost = rng.choice(items)
                quantity = Decimal(rng.randrange(1, 10))
                warehouse = catalog.WAREHOUSES[0]
                extension = _money(quantity * price)
                subtotal += extension
                self.quantity_on_order[(code, warehouse)] += quantity
                self.add("SO_SalesOrderDetail", {
                    "SalesOrderNo": order_no, "LineKey": f"{number:06d}", "LineSeqNo": f"{number:014d}",
                    "ItemCode": code, "ItemType": "1", "ItemCodeDesc": description[:30], "WarehouseCode": warehouse,
                    "UnitOfMeasure": "EACH", "SalesAcctKey": account_key("4000-00"),
                    "CostOfGoodsSoldAcctKey": account_key("5000-00"), "QuantityOrdered": quantity,
                    "UnitPrice": price, "UnitCost": cost, "ExtensionAmt": extension, "TaxClass": "NT",
                }, day=order_date)
            self.add("SO_SalesOrderHeader", {
                "SalesOrderNo": order_no, "OrderDate": order_date, "OrderType": "S",
                "OrderStatus": rng.choice(("N", "O", "O")), "ARDivisionNo": customer.division,
                "CustomerNo": customer.customer_no, "BillToName": c["CustomerName"],
                "BillToAddress1": c["AddressLine1"], "BillToCity": c["City"], "BillToState": c["State"],
                "BillToZipCode": c["ZipCode"], "BillToCountryCode": c["CountryCode"], "ShipToName": c["CustomerName"],
                "ShipToAddress1": c["AddressLine1"], "ShipToCity": c["City"], "ShipToState": c["State"],
                "ShipToZipCode": c["ZipCode"], "ShipToCountryCode": c["CountryCode"], "ShipVia": "UPS GROUND",
                "CustomerPONo": f"PO{rng.randrange(10000, 99999)}", "WarehouseCode": catalog.WAREHOUSES[0],
                "TermsCode": c["TermsCode"], "TaxSchedule": c["TaxSchedule"], "EmailAddress": c["EmailAddress"],
                "SalespersonDivisionNo": c["SalespersonDivisionNo"], "SalespersonNo": c["SalespersonNo"],
                "NonTaxableAmt": subtotal,
            }, day=order_date)
            c["OpenOrderAmt"] = c.get("OpenOrderAmt", Decimal(0)) + subtotal
        self.next_numbers[("S/O", "SalesOrderNo")] = f"{FIRST_SALES_ORDER + min(count, len(buyers)):07d}"

    # ------------------------------------------------------------------ totals and numbers

    def finish(self) -> None:
        for (code, warehouse), on_hand in self.quantity_on_hand.items():
            self.add("IM_ItemWarehouse", {
                "ItemCode": code, "WarehouseCode": warehouse, "QuantityOnHand": on_hand,
                "QuantityOnSalesOrder": self.quantity_on_order.get((code, warehouse), Decimal(0)),
                "AverageCost": next(item[4] for item in catalog.ITEMS if item[0] == code),
            })
        ar_by_division: dict[str, Decimal] = defaultdict(Decimal)
        for customer in self.customers:
            self.set_balances(customer)
            ar_by_division[customer.division] += customer.row["CurrentBalance"]
        self.add_opening_entry(ar_by_division)
        self.next_numbers.update({
            ("A/R", "CustomerNo"): f"{self.customer_seq + 1:07d}",
            ("A/R", "InvoiceNo"): f"{self.highest_invoice + 1:07d}",
            ("A/R", "DepositNo"): "00001",
            ("G/L", "EntryNo"): "000002",
            ("G/L", "JournalRegisterNo"): "000002",
        })
        for (module, kind), number in sorted(self.next_numbers.items()):
            self.add("next_numbers", {"ModuleCode": module, "NumberType": kind, "NextNumber": number})

    def set_balances(self, customer: _Customer) -> None:
        """CurrentBalance = all open items (this demo's reading [?]); aging by days past due."""
        buckets = [Decimal(0)] * 4
        total = Decimal(0)
        for row in customer.open_rows:
            total += row["Balance"]
            past_due = (self.today - row["InvoiceDueDate"]).days
            if past_due > 0:
                buckets[min((past_due - 1) // 30, 3)] += row["Balance"]
        customer.row.update(
            CurrentBalance=total, AgingCategory1=buckets[0], AgingCategory2=buckets[1],
            AgingCategory3=buckets[2], AgingCategory4=buckets[3],
            HighestStmntBalance=max(total, Decimal(0)),
        )

    def add_opening_entry(self, ar_by_division: dict[str, Decimal]) -> None:
        """One posted general journal entry putting the open AR on the division control accounts."""
        day = self.today - timedelta(days=150)
        lines = [(account_key(catalog.DIVISIONS[d][1]), amount) for d, amount in sorted(ar_by_division.items())]
        lines.append((account_key("3900-00"), -sum((amount for _key, amount in lines), Decimal(0))))
        self.add("GL_GeneralJournalHistory", {
            "SourceJournal": "GJ", "EntryNo": "000001", "PostingDate": day,
            "JournalComment": "Opening AR balances", "JournalRegisterNo": "000001",
        }, day=day)
        for sequence, (key, amount) in enumerate(lines, start=1):
            if amount == 0:
                continue
            self.add("GL_DetailPosting", {
                "AccountKey": key, "PostingDate": day, "SourceJournal": "GJ", "JournalRegisterNo": "000001",
                "SequenceNo": f"{sequence:014d}", "DebitAmount": max(amount, Decimal(0)),
                "CreditAmount": max(-amount, Decimal(0)), "PostingComment": "Opening AR balances",
                "SourceModule": "G/L", "DocumentNo": "000001", "DocumentType": "GJ", "LineDate": day,
                **{k: v for k, v in self.audit(day).items() if k.endswith("Created") or k == "UserCreatedKey"},
            }, audited=False)

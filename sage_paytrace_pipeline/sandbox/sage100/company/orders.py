"""Sales orders and their invoicing (S/O Invoice Data Entry + Daily Sales Journal update).

An order takes its prices, descriptions and GL accounts from CI_Item and reserves stock
(IM_ItemWarehouse.QuantityOnSalesOrder, the customer's OpenOrderAmt). Invoicing ships every
line in full: AR_InvoiceHistoryHeader/Detail (ModuleCode ``S/O``), an ``IN`` open item with its
due date from the terms code, an ``I`` row in AR_TransactionPaymentHistory, stock relieved in
IM_ItemWarehouse and CI_Item.TotalQuantityOnHand, the customer's balance raised, the order
closed, and the ``SO`` journal: Dr AR control / Cr each item's sales account (+ sales tax, which
the demo does not compute) and Dr cost of goods sold / Cr inventory at the item's unit cost.
Regular items (ItemType 1) need stock on hand; miscellaneous ``/`` items do not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sage_paytrace_pipeline.domain.money import CENT
from sage_paytrace_pipeline.sage100.documents import DocumentResult, SalesOrder
from sage_paytrace_pipeline.sage100.errors import DocumentStateError, InsufficientStockError, UnknownItemError
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import CREATE_SALES_ORDER, INVOICE_SALES_ORDER, total
from sage_paytrace_pipeline.sandbox.sage100.company.ledger import GLLine, post_gl
from sage_paytrace_pipeline.sandbox.sage100.company.master import (
    Ctx,
    require_account_key,
    require_customer,
    require_division,
    require_item,
)
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row

SALES_ORDER_JOURNAL = "SO"
ZERO = Decimal("0.00")
_BILL_TO = {  # SO header column -> AR_Customer column
    "BillToName": "CustomerName", "BillToAddress1": "AddressLine1", "BillToAddress2": "AddressLine2",
    "BillToAddress3": "AddressLine3", "BillToCity": "City", "BillToState": "State",
    "BillToZipCode": "ZipCode", "BillToCountryCode": "CountryCode",
}


def _stocked(item: Row) -> bool:
    return item["ItemType"] == "1" and not item["ItemCode"].startswith("/")


def _warehouse(session: DemoSession, ctx: Ctx, item_code: str, warehouse: str, field: str) -> Row:
    row = session.select_one("IM_ItemWarehouse", {"ItemCode": item_code, "WarehouseCode": warehouse})
    if row is None:
        raise ctx.error(
            UnknownItemError, field, f"item {item_code} is not stocked in warehouse {warehouse}",
            "order from a warehouse that carries the item, or add it in Item Maintenance (Quantity tab)",
        )
    return row


def _check_stock(ctx: Ctx, field: str, item_code: str, warehouse: str, *, wanted: Decimal, available: Decimal) -> None:
    if wanted > available:
        raise ctx.error(
            InsufficientStockError, field,
            f"{wanted.normalize()} of {item_code} wanted, {max(available, Decimal(0)).normalize()} available"
            f" in warehouse {warehouse}",
            "reduce the quantity, order from another warehouse, or receive stock first",
        )


# ------------------------------------------------------------------------------- sales order


def find_sales_order(session: DemoSession, reference: str) -> DocumentResult | None:
    row = session.select_one("SO_SalesOrderHeader", {UDF_PAYTRACE_REF: reference})
    if row is None:
        return None
    return DocumentResult(
        operation=CREATE_SALES_ORDER,
        reference=reference,
        documents={"SalesOrderNo": row["SalesOrderNo"]},
        created=False,
    )


def create_sales_order(session: DemoSession, order: SalesOrder) -> DocumentResult:
    existing = find_sales_order(session, order.reference)
    if existing is not None:
        return existing
    ctx = Ctx(CREATE_SALES_ORDER, order.reference)
    require_division(session, ctx, order.division)
    customer = require_customer(session, ctx, order.division, order.customer_no)
    items = _validate_lines(session, ctx, order)
    order_no = next_number(session, "SalesOrderNo")
    lines = [_order_line(order_no, number, line, item, order.warehouse_code)
             for number, (line, item) in enumerate(zip(order.lines, items), start=1)]
    amount = total(line["ExtensionAmt"] for line in lines)
    session.insert("SO_SalesOrderHeader", _order_header(session, order, order_no, customer, amount))
    for line in lines:
        session.insert("SO_SalesOrderDetail", line)
        _reserve(session, line, line["QuantityOrdered"])
    _customer_add(session, customer, OpenOrderAmt=amount)
    result = find_sales_order(session, order.reference)
    assert result is not None
    return result.model_copy(update={"created": True})


def _validate_lines(session: DemoSession, ctx: Ctx, order: SalesOrder) -> list[Row]:
    items: list[Row] = []
    wanted: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for number, line in enumerate(order.lines):
        field = f"lines[{number}].item_code"
        item = require_item(session, ctx, line.item_code, field)
        require_account_key(session, ctx, item["SalesAcctKey"], f"CI_Item {item['ItemCode']} sales account")
        items.append(item)
        if _stocked(item):
            wanted[item["ItemCode"], field] += line.quantity
    for (item_code, field), quantity in wanted.items():
        stock = _warehouse(session, ctx, item_code, order.warehouse_code, field)
        _check_stock(ctx, field.replace("item_code", "quantity"), item_code, order.warehouse_code, wanted=quantity,
                     available=stock["QuantityOnHand"] - stock["QuantityOnSalesOrder"])
    return items


def _order_line(order_no: str, number: int, line, item: Row, warehouse: str) -> Row:
    price = item["StandardUnitPrice"] if line.unit_price is None else line.unit_price
    return {
        "SalesOrderNo": order_no,
        "LineKey": str(number).zfill(6),
        "LineSeqNo": str(number).zfill(6),
        "ItemCode": item["ItemCode"],
        "ItemType": item["ItemType"],
        "ItemCodeDesc": item["ItemCodeDesc"],
        "WarehouseCode": warehouse,
        "UnitOfMeasure": item["SalesUnitOfMeasure"],
        "SalesAcctKey": item["SalesAcctKey"],
        "CostOfGoodsSoldAcctKey": item["CostOfGoodsSoldAcctKey"],
        "QuantityOrdered": line.quantity,
        "UnitPrice": price,
        "UnitCost": item["AverageUnitCost"] or item["StandardUnitCost"],
        "ExtensionAmt": (line.quantity * price).quantize(CENT, rounding=ROUND_HALF_UP),
        "TaxClass": item["TaxClass"],
        "CommodityCode": item["CommodityCode"],
    }


def _order_header(session: DemoSession, order: SalesOrder, order_no: str, customer: Row, amount: Decimal) -> Row:
    bill_to = {column: customer[source] for column, source in _BILL_TO.items()}
    ship_to = {column.replace("BillTo", "ShipTo"): value for column, value in bill_to.items()}
    return {
        "SalesOrderNo": order_no,
        "OrderDate": order.order_date,
        "OrderType": "S",
        "OrderStatus": "N",
        "ARDivisionNo": order.division,
        "CustomerNo": order.customer_no,
        "BillToDivisionNo": order.division,
        "BillToCustomerNo": order.customer_no,
        **bill_to,
        **ship_to,
        "CustomerPONo": order.customer_po_no,
        "WarehouseCode": order.warehouse_code,
        "TermsCode": customer["TermsCode"],
        "TaxSchedule": customer["TaxSchedule"],
        "EmailAddress": customer["EmailAddress"],
        "NonTaxableAmt": amount,
        UDF_PAYTRACE_REF: order.reference,
    }


def _reserve(session: DemoSession, line: Row, quantity: Decimal) -> None:
    """Change the warehouse's quantity on sales order (regular items only)."""
    where = {"ItemCode": line["ItemCode"], "WarehouseCode": line["WarehouseCode"]}
    stock = session.select_one("IM_ItemWarehouse", where)
    if stock is not None and line["ItemType"] == "1":
        reserved = max(Decimal(0), stock["QuantityOnSalesOrder"] + quantity)
        session.update("IM_ItemWarehouse", where, {"QuantityOnSalesOrder": reserved})


def _customer_add(session: DemoSession, customer: Row, **amounts: Decimal) -> None:
    key = {"ARDivisionNo": customer["ARDivisionNo"], "CustomerNo": customer["CustomerNo"]}
    current = session.select_one("AR_Customer", key)
    assert current is not None
    session.update("AR_Customer", key, {column: max(ZERO, current[column] + amount) if column == "OpenOrderAmt"
                                        else current[column] + amount for column, amount in amounts.items()})


# ------------------------------------------------------------------------------- invoicing


def find_order_invoice(session: DemoSession, reference: str) -> DocumentResult | None:
    row = session.select_one("AR_InvoiceHistoryHeader", {UDF_PAYTRACE_REF: reference})
    if row is None:
        return None
    if row["ModuleCode"] != "S/O" or row["InvoiceType"] != "IN":
        raise Ctx(INVOICE_SALES_ORDER, reference).error(
            DocumentStateError, "reference",
            f"reference {reference} is already used by {row['InvoiceType']} {row['InvoiceNo']}",
            "give the invoice its own reference")
    documents = {"InvoiceNo": row["InvoiceNo"], "SalesOrderNo": row["SalesOrderNo"]}
    return DocumentResult(operation=INVOICE_SALES_ORDER, reference=reference, documents=documents, created=False)


def invoice_sales_order(
    session: DemoSession, sales_order_no: str, reference: str, invoice_date: date
) -> DocumentResult:
    existing = find_order_invoice(session, reference)
    if existing is not None:
        return existing
    ctx = Ctx(INVOICE_SALES_ORDER, reference)
    header, lines = _open_order(session, ctx, sales_order_no)
    require_division(session, ctx, header["ARDivisionNo"])
    customer = require_customer(session, ctx, header["ARDivisionNo"], header["CustomerNo"])
    _validate_shipment(session, ctx, lines)
    invoice_no = next_number(session, "InvoiceNo")
    register_no = next_number(session, "JournalRegisterNo")
    amount = total(line["ExtensionAmt"] for line in lines)
    cost = total(_line_cost(line) for line in lines if line["ItemType"] == "1")
    doc = _InvoiceDoc(invoice_no, register_no, invoice_date, reference, amount, cost)
    _write_history(session, doc, header, customer, lines)
    _write_open_item(session, doc, header)
    for line in lines:
        _ship(session, line)
    ordered = header["NonTaxableAmt"] + header["TaxableAmt"]
    _customer_add(session, customer, CurrentBalance=amount, OpenOrderAmt=-ordered)
    session.update("AR_Customer", {"ARDivisionNo": customer["ARDivisionNo"], "CustomerNo": customer["CustomerNo"]},
                   {"DateLastActivity": max(invoice_date, customer["DateLastActivity"] or invoice_date)})
    session.update("SO_SalesOrderHeader", {"SalesOrderNo": sales_order_no},
                   {"OrderStatus": "C", "LastInvoiceOrderNo": invoice_no, "CurrentInvoiceNo": invoice_no})
    _post_sales_gl(session, doc, header, lines)
    result = find_order_invoice(session, reference)
    assert result is not None
    return result.model_copy(update={"created": True})


@dataclass(frozen=True)
class _InvoiceDoc:
    invoice_no: str
    register_no: str
    invoice_date: date
    reference: str
    amount: Decimal
    cost: Decimal


def _line_cost(line: Row) -> Decimal:
    return (line["QuantityOrdered"] * line["UnitCost"]).quantize(CENT, rounding=ROUND_HALF_UP)


def _open_order(session: DemoSession, ctx: Ctx, sales_order_no: str) -> tuple[Row, list[Row]]:
    header = session.select_one("SO_SalesOrderHeader", {"SalesOrderNo": sales_order_no})
    if header is None:
        raise ctx.error(DocumentStateError, "sales_order_no", f"sales order {sales_order_no} does not exist",
                        "invoice an order created with create_sales_order")
    if header["OrderStatus"] in ("C", "H") or header["OrderType"] != "S":
        state = {"C": "closed (already invoiced)", "H": "on hold"}.get(header["OrderStatus"], "not a standard order")
        raise ctx.error(DocumentStateError, "sales_order_no",
                        f"sales order {sales_order_no} is {state}"
                        + (f", invoice {header['LastInvoiceOrderNo']}" if header["LastInvoiceOrderNo"] else ""),
                        "invoice an open standard order; look up the existing invoice instead of invoicing twice")
    lines = session.select("SO_SalesOrderDetail", {"SalesOrderNo": sales_order_no}, order_by=("LineSeqNo", "LineKey"))
    return header, lines


def _validate_shipment(session: DemoSession, ctx: Ctx, lines: list[Row]) -> None:
    wanted: defaultdict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for number, line in enumerate(lines):
        item = require_item(session, ctx, line["ItemCode"], f"lines[{number}].item_code")
        require_account_key(session, ctx, line["SalesAcctKey"], f"CI_Item {line['ItemCode']} sales account")
        if _stocked(item):
            wanted[line["ItemCode"], line["WarehouseCode"], number] += line["QuantityOrdered"]
            _cost_accounts(session, ctx, item)
    for (item_code, warehouse, number), quantity in wanted.items():
        stock = _warehouse(session, ctx, item_code, warehouse, f"lines[{number}].item_code")
        _check_stock(ctx, f"lines[{number}].quantity", item_code, warehouse, wanted=quantity,
                     available=stock["QuantityOnHand"])


def _cost_accounts(session: DemoSession, ctx: Ctx, item: Row) -> None:
    if item["CostOfGoodsSoldAcctKey"] and item["InventoryAcctKey"]:
        require_account_key(session, ctx, item["CostOfGoodsSoldAcctKey"], f"CI_Item {item['ItemCode']} COGS account")
        require_account_key(session, ctx, item["InventoryAcctKey"], f"CI_Item {item['ItemCode']} inventory account")


def _due_dates(session: DemoSession, terms_code: str, invoice_date: date) -> tuple[date, date | None]:
    terms = session.select_one("AR_TermsCode", {"TermsCode": terms_code}) if terms_code else None
    if terms is None:
        return invoice_date, None
    discount = terms["DaysBeforeDiscountDue"]
    return (invoice_date + timedelta(days=terms["DaysBeforeDue"]),
            invoice_date + timedelta(days=discount) if discount else None)


def _write_history(session: DemoSession, doc: _InvoiceDoc, header: Row, customer: Row, lines: list[Row]) -> None:
    due, discount = _due_dates(session, header["TermsCode"], doc.invoice_date)
    copied = {key: header[key] for key in header if key.startswith(("BillTo", "ShipTo"))
              and session.has_column("AR_InvoiceHistoryHeader", key)}
    session.insert("AR_InvoiceHistoryHeader", {
        "InvoiceNo": doc.invoice_no, "HeaderSeqNo": "000000", "ModuleCode": "S/O", "InvoiceType": "IN",
        "InvoiceDate": doc.invoice_date, "TransactionDate": doc.invoice_date,
        "ARDivisionNo": header["ARDivisionNo"], "CustomerNo": header["CustomerNo"], "TermsCode": header["TermsCode"],
        "CustomerPONo": header["CustomerPONo"], "InvoiceDueDate": due, "DiscountDueDate": discount,
        "SourceJournal": SALES_ORDER_JOURNAL, "JournalNoGLBatchNo": doc.register_no,
        "SalesOrderNo": header["SalesOrderNo"], "OrderType": header["OrderType"], "OrderDate": header["OrderDate"],
        **copied, "ShipDate": doc.invoice_date, "NonTaxableSalesAmt": doc.amount, "CostOfSalesAmt": doc.cost,
        "EmailAddress": customer["EmailAddress"], UDF_PAYTRACE_REF: doc.reference,
    })
    for number, line in enumerate(lines, start=1):
        session.insert("AR_InvoiceHistoryDetail", {
            "InvoiceNo": doc.invoice_no, "HeaderSeqNo": "000000", "DetailSeqNo": str(number).zfill(6),
            **{key: line[key] for key in ("ItemCode", "ItemType", "ItemCodeDesc", "SalesAcctKey",
                                          "CostOfGoodsSoldAcctKey", "WarehouseCode", "QuantityOrdered",
                                          "UnitPrice", "UnitCost", "ExtensionAmt", "TaxClass", "CommodityCode")},
            "QuantityShipped": line["QuantityOrdered"], "AppliedSalesOrderNo": header["SalesOrderNo"],
        })


def _write_open_item(session: DemoSession, doc: _InvoiceDoc, header: Row) -> None:
    due, discount = _due_dates(session, header["TermsCode"], doc.invoice_date)
    key = {"ARDivisionNo": header["ARDivisionNo"], "CustomerNo": header["CustomerNo"], "InvoiceNo": doc.invoice_no,
           "InvoiceType": "IN"}
    session.insert("AR_OpenInvoice", {
        **key, "InvoiceDate": doc.invoice_date, "InvoiceDueDate": due, "InvoiceDiscountDate": discount,
        "InvoiceHistoryHeaderSeqNo": "000000", "PostingDate": doc.invoice_date, "TermsCode": header["TermsCode"],
        "CustomerPONo": header["CustomerPONo"], "NonTaxableAmt": doc.amount, "CostOfSalesAmt": doc.cost,
        "Balance": doc.amount,
    })
    session.insert("AR_TransactionPaymentHistory", {
        **key, "TransactionDate": doc.invoice_date, "SequenceNo": "000001", "InvoiceHistoryHeaderSeqNo": "000000",
        "PaymentReference": header["SalesOrderNo"], "TransactionType": "I", "TransactionAmt": doc.amount,
    })


def _ship(session: DemoSession, line: Row) -> None:
    session.update("SO_SalesOrderDetail", {"SalesOrderNo": line["SalesOrderNo"], "LineKey": line["LineKey"]},
                   {"QuantityShipped": line["QuantityOrdered"]})
    if line["ItemType"] != "1":
        return
    _reserve(session, line, -line["QuantityOrdered"])
    where = {"ItemCode": line["ItemCode"], "WarehouseCode": line["WarehouseCode"]}
    stock = session.select_one("IM_ItemWarehouse", where)
    if stock is not None:
        session.update("IM_ItemWarehouse", where, {"QuantityOnHand": stock["QuantityOnHand"] - line["QuantityOrdered"]})
    item = session.select_one("CI_Item", {"ItemCode": line["ItemCode"]})
    assert item is not None
    session.update("CI_Item", {"ItemCode": line["ItemCode"]},
                   {"TotalQuantityOnHand": item["TotalQuantityOnHand"] - line["QuantityOrdered"]})


def _post_sales_gl(session: DemoSession, doc: _InvoiceDoc, header: Row, lines: list[Row]) -> None:
    division = session.select_one("AR_Division", {"ARDivisionNo": header["ARDivisionNo"]})
    assert division is not None
    comment = f"Invoice {doc.invoice_no} SO {header['SalesOrderNo']} {header['ARDivisionNo']}-{header['CustomerNo']}"
    sales: defaultdict[str, Decimal] = defaultdict(Decimal)
    costs: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        sales[line["SalesAcctKey"]] += line["ExtensionAmt"]
        item = session.select_one("CI_Item", {"ItemCode": line["ItemCode"]})
        cost = _line_cost(line)
        if line["ItemType"] == "1" and item and item["CostOfGoodsSoldAcctKey"] and item["InventoryAcctKey"] and cost:
            costs[item["CostOfGoodsSoldAcctKey"], item["InventoryAcctKey"]] += cost
    gl = [GLLine(division["AccountsReceivableAcctKey"], debit=doc.amount, comment=comment)]
    # a negative sales line (a store discount on a /-item) nets into its account; a net debit stays a debit
    gl += [GLLine(key, credit=amount.quantize(CENT), comment=comment) if amount >= 0
           else GLLine(key, debit=-amount.quantize(CENT), comment=comment) for key, amount in sales.items()]
    for (cogs, inventory), amount in costs.items():
        gl += [GLLine(cogs, debit=amount, comment=comment), GLLine(inventory, credit=amount, comment=comment)]
    post_gl(session, journal=SALES_ORDER_JOURNAL, register_no=doc.register_no, posting_date=doc.invoice_date,
            lines=gl, module="S/O", document_no=doc.invoice_no)

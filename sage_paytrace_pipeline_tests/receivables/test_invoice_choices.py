"""Invoice choices: stored through SQLAlchemy, the latest per payment read back, given to matching once."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from sage_paytrace_pipeline.receivables.invoice_choices import (
    InvoiceChoice,
    create_tables,
    insert_choice,
    read_choices,
    with_invoice_choices,
)


def test_the_latest_choice_per_payment_is_read_and_a_missing_store_is_not_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'console.sqlite3'}"
    assert read_choices(url, [1]).empty and not (tmp_path / "console.sqlite3").exists()
    engine = sa.create_engine(url)
    create_tables(engine)
    with engine.begin() as connection:
        insert_choice(connection, InvoiceChoice(101, "01", "ABC", "0100001", "carl"))
        insert_choice(connection, InvoiceChoice(101, "01", "ABC", "0100002", "carl"))  # changed their mind
        insert_choice(connection, InvoiceChoice(102, "01", "XYZ", "0100009", "anna"))
    engine.dispose()
    choices = read_choices(url, [101, 103])
    assert choices[["transaction_id", "invoice_no"]].values.tolist() == [[101, "0100002"]]


def test_a_chosen_payment_names_its_invoice_until_sage_holds_it():
    payments = pd.DataFrame({"transaction_id": [101, 102, 103], "invoice_id": ["", "9999", "0100003"],
                             "description": ["inv 7777", "thanks", "inv 0100003"]})
    choices = pd.DataFrame({"transaction_id": [101, 102], "division": "01", "customer_no": "ABC",
                            "invoice_no": ["0100002", "0100009"], "decided_by": "carl"})
    chosen = with_invoice_choices(payments, choices, in_sage={102})
    assert chosen["invoice_id"].tolist() == ["0100002", "9999", "0100003"]
    assert chosen["description"].tolist() == ["", "thanks", "inv 0100003"]
    assert with_invoice_choices(payments, choices.head(0), in_sage=set()) is payments

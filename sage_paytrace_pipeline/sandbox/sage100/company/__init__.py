"""The demo company's writer: Sage 100's business operations applied to the SQLite demo company.

`writer.DemoCompanyWriter` implements `sage100.writer.Sage100Writer`; the operations live in
receipts, customers, orders, credits and ledger, row access in store, master-data checks in
master, Sage-style document numbers in numbers.
"""

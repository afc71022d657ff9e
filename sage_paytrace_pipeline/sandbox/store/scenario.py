"""The store's day of trouble, against a running receiver: what an independent store will send.

Valid orders from registered buyers and guests (one of them already a Sage customer by e-mail and
ZIP), each paid through the PayTrace sandbox; and the faults a receiver must survive: the ping, a
retry of every paid order with a new delivery id, a replay of a delivery byte for byte, an update
delivered before its create, an order whose webhook never arrives (only the reconcile poll finds
it), one delivery with a bad signature, an order with an unknown SKU, and a refund.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender

_GUESTS = (Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101"),
           Buyer("Omar", "Haddad", "omar.h@example.org", "400 Fir Ave", "Spokane", "WA", "99201"),
           Buyer("Mia", "Chen", "mia.chen@example.com", "77 Alder Rd", "Portland", "OR", "97205"))
_REGISTERED = (Buyer("Ann", "Ray", "ann.ray@example.com", "5 Elm", "Boise", "ID", "83702", customer_id=41),
               Buyer("Ben", "Ortiz", "ben.ortiz@example.com", "9 Cedar Ln", "Tacoma", "WA", "98402", customer_id=42))


@dataclass
class ScenarioReport:
    valid_orders: list[int] = field(default_factory=list)  # paid orders that belong in Sage
    unknown_sku_orders: list[int] = field(default_factory=list)
    poll_only_orders: list[int] = field(default_factory=list)  # never delivered by webhook
    refunded_orders: list[int] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)  # what the receiver answered, per case

    def answered(self, case: str, status: int) -> None:
        self.statuses.setdefault(case, []).append(status)


def run_scenario(shop: Shop, sender: WebhookSender, *, existing_customer: Buyer | None, orders: int = 6,
                 seed: int = 1) -> ScenarioReport:
    report = ScenarioReport()
    rng = random.Random(seed)
    skus = sorted(shop.catalogue)
    report.answered("ping", sender.ping().status_code)
    buyers = [*_REGISTERED, *_GUESTS] + ([existing_customer] if existing_customer else [])
    for number in range(orders):
        buyer = buyers[number % len(buyers)] if number < len(buyers) else rng.choice(buyers)
        items = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, k=rng.randint(1, 3))]
        placed = shop.place(buyer, items, coupon_percent=Decimal(rng.choice((0, 0, 10))),
                            shipping=Decimal(rng.choice(("0.00", "7.50", "12.95"))),
                            tax_rate=Decimal(rng.choice(("0", "0.089"))))
        paid = shop.pay(placed["id"])
        report.valid_orders.append(placed["id"])
        if number == 1:  # the update arrives before the create
            report.answered("update_before_create", sender.send(paid, "order.updated").status_code)
            report.answered("update_before_create", sender.send(placed, "order.created").status_code)
        elif number == 2:  # the webhook never arrives
            report.poll_only_orders.append(placed["id"])
        else:
            report.answered("created", sender.send(placed, "order.created").status_code)
            report.answered("paid", sender.send(paid, "order.updated").status_code)
            report.answered("retry", sender.send(paid, "order.updated").status_code)  # new delivery id, same body
    replayed = shop.get(report.valid_orders[0])
    body = sender.body(replayed)
    delivery_id = sender.new_delivery_id()
    for _ in range(2):  # the same request twice, byte for byte
        report.answered("replay", sender.send(replayed, "order.updated", delivery_id=delivery_id,
                                              body=body).status_code)
    report.answered("bad_signature", sender.send(replayed, "order.updated", secret="not-the-secret").status_code)
    unknown = shop.pay(shop.place(_GUESTS[0], [("NO-SUCH-SKU", 1)])["id"])
    report.unknown_sku_orders.append(unknown["id"])
    report.answered("unknown_sku", sender.send(unknown, "order.updated").status_code)
    refunded_id = report.valid_orders[-1]
    order = shop.get(refunded_id)
    refunded = shop.refund(refunded_id, Decimal(order["total"]), "returned unopened")
    report.refunded_orders.append(refunded_id)
    report.answered("refund", sender.send(refunded, "order.refunded").status_code)
    return report

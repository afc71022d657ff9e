"""Customer sync planning throughput: 100k vault profiles x 100k Sage customers (measured, not asserted).

    .venv/bin/python -m benchmarks.bench_customers [--profiles 100000] [--customers 100000]

Synthetic data (numpy, seeded): customers in 5,000 ZIPs with e-mail, address and phone; profiles:
70% of one customer's e-mail + ZIP, 10% with the customer's card saved in Sage under the vault id,
10% with another e-mail but the customer's name and ZIP (fuzzy), 10% unknown; 5% of the customers
have a second profile (one person, two cards). Runs:
- first: no state (every profile goes through the link cascade),
- steady: the state the first run leaves, 1% of customers edited in Sage by a clerk, 1% of the
  profiles edited in PayTrace (address or expiry), 0.5% deleted: a typical daily sync.
Times `plan_sync` only (the frames are built beforehand); prints a markdown table.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncInputs, SyncPolicy, SyncState, plan_sync

ZIPS = 5_000
POLICY = SyncPolicy(payment_types={"VISA": "VISA", "MASTERCARD": "MC", "AMEX": "AMEX", "DISCOVER": "DISC"})
_WORDS = np.array(["Cascade", "Ridgeline", "Blue", "Heron", "Summit", "Pinecrest", "Harbor", "Lakeside", "Northwind",
                   "Evergreen", "Granite", "Riverbend", "Sunrise", "Dental", "Supply", "Bakery", "Printing", "Glass"])


def synthetic(profiles: int, customers: int, seed: int = 3) -> SyncInputs:
    rng = np.random.default_rng(seed)
    ids = pd.Series(np.arange(customers)).astype(str)
    words = _WORDS[rng.integers(0, len(_WORDS), (customers, 2))]
    sage = pd.DataFrame({
        "division": "01", "customer_no": "C" + ids.str.zfill(7),
        "name": pd.Series(words[:, 0]) + " " + pd.Series(words[:, 1]) + " " + ids,
        "address_line1": ids + " Main St", "address_line2": "", "city": "Spokane", "state": "WA",
        "zip_code": pd.Series(rng.integers(10000, 10000 + ZIPS, customers)).astype(str),
        "phone": "509-555-" + ids.str[-4:].str.zfill(4), "email": "c" + ids + "@x.example", "status": "A",
        "credit_card_guid": "", "stamp": pd.Timestamp("2026-03-01 09:00"), "user_updated": "CLERK"})
    owner = rng.integers(0, customers, profiles)
    kind = rng.random(profiles)
    vault_id = pd.Series(np.arange(profiles)).astype(str).radd("V").str.zfill(12)
    email = np.where(kind < 0.9, sage["email"].to_numpy()[owner], "p" + vault_id + "@y.example")
    known = kind < 0.9  # the other 10%: new names in a ZIP nobody has
    name = np.where(kind < 0.9, sage["name"].to_numpy()[owner], "Nobody " + vault_id)
    vault = pd.DataFrame({
        "customer_id": vault_id, "billing_name": np.where((kind >= 0.8) & (kind < 0.9), sage["name"].to_numpy()[owner],
                                                          name),
        "billing_address1": "1 Old Rd", "billing_address2": "", "billing_city": "Spokane", "billing_state": "WA",
        "billing_zip": np.where(known, sage["zip_code"].to_numpy()[owner], "00001"), "phone": "",
        "email": np.where((kind >= 0.8) & (kind < 0.9), "other" + vault_id + "@z.example", email),
        "card_brand": "VISA", "card_last4": pd.Series(rng.integers(0, 10_000, profiles)).astype(str).str.zfill(4),
        "card_expiration_month": rng.integers(1, 13, profiles), "card_expiration_year": rng.integers(2027, 2032,
                                                                                                      profiles)})
    on_card = (kind >= 0.7) & (kind < 0.8)
    cards = pd.DataFrame({"division": "01", "customer_no": sage["customer_no"].to_numpy()[owner[on_card]],
                          "credit_card_guid": vault_id[on_card].to_numpy(), "card_type": "4",
                          "last4": vault["card_last4"][on_card].to_numpy(), "expiration_year": "2030",
                          "expiration_month": "01", "cardholder_name": "", "avs_address_line1": "",
                          "avs_address_line2": "", "avs_city": "", "avs_state": "", "avs_zip_code": ""})
    cards = cards.drop_duplicates("credit_card_guid")
    links = pd.DataFrame({"vault_id": pd.Series(dtype=object), "division": pd.Series(dtype=object),
                          "customer_no": pd.Series(dtype=object)})
    return SyncInputs(vault=vault, customers=sage, cards=cards, operator_links=links)


def carried_out(inputs: SyncInputs, plan) -> SyncInputs:
    """The inputs as they are once the plan is written (vectorized, for the steady-state run)."""
    customers = inputs.customers.set_index(["division", "customer_no"])
    for field, rows in plan.sage_updates.groupby("field"):
        customers.loc[list(zip(rows["division"], rows["customer_no"])), field] = rows["value"].to_numpy()
    vault = inputs.vault.set_index("customer_id")
    columns = {"name": "billing_name", "address_line1": "billing_address1", "address_line2": "billing_address2",
               "city": "billing_city", "state": "billing_state", "zip_code": "billing_zip", "phone": "phone",
               "email": "email"}
    for field, rows in plan.paytrace_updates.groupby("field"):
        vault.loc[rows["vault_id"].to_numpy(), columns[field]] = rows["value"].to_numpy()
    upserts = plan.card_upserts.assign(card_type="4").rename(columns={"card_brand": "brand"})
    kept = inputs.cards[~inputs.cards["credit_card_guid"].isin(set(upserts["credit_card_guid"])
                                                               | set(plan.card_deletes["credit_card_guid"]))]
    cards = pd.concat([kept, upserts.loc[:, list(inputs.cards.columns)]], ignore_index=True)
    return SyncInputs(vault=vault.reset_index(), customers=customers.reset_index(), cards=cards,
                      operator_links=inputs.operator_links)


def daily_changes(inputs: SyncInputs, seed: int = 4) -> SyncInputs:
    rng = np.random.default_rng(seed)
    customers, vault = inputs.customers.copy(), inputs.vault.copy()
    edited = rng.random(len(customers)) < 0.01
    customers.loc[edited, "city"] = "Tacoma"
    customers.loc[edited, "stamp"] = pd.Timestamp("2026-03-02 11:00")
    changed = rng.random(len(vault)) < 0.01
    vault.loc[changed, "billing_address1"] = "77 New Rd"
    vault.loc[changed, "card_expiration_year"] = 2033
    vault = vault[rng.random(len(vault)) >= 0.005]
    return SyncInputs(vault=vault, customers=customers, cards=inputs.cards, operator_links=inputs.operator_links)


def timed(inputs: SyncInputs, state: SyncState):
    """The plan, its wall-clock seconds and this process's CPU seconds (the machine is shared: the
    wall clock includes waiting for a core)."""
    start, cpu = time.perf_counter(), time.process_time()
    plan = plan_sync(inputs, state, POLICY)
    return plan, (time.perf_counter() - start, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    inputs = synthetic(args.profiles, args.customers)
    first, first_seconds = timed(inputs, SyncState())
    synced = carried_out(inputs, first)
    steady_inputs = daily_changes(synced)
    steady, steady_seconds = timed(steady_inputs, first.state)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| run | profiles | customers | wall s | CPU s | linked | exceptions | Sage fields | PayTrace fields "
          "| cards saved | cards removed |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, plan, seconds, size in (("first (no state)", first, first_seconds, len(inputs.vault)),
                                      ("steady (daily changes)", steady, steady_seconds, len(steady_inputs.vault))):
        counts = plan.counts()
        print(f"| {name} | {size:,} | {args.customers:,} | {seconds[0]:.1f} | {seconds[1]:.1f} | "
              f"{counts['profiles_linked']:,} | "
              f"{counts['exceptions']:,} | {len(plan.sage_updates):,} | {len(plan.paytrace_updates):,} | "
              f"{counts['sage_cards_to_save']:,} | {counts['sage_cards_to_remove']:,} |")
    print(f"\npeak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()

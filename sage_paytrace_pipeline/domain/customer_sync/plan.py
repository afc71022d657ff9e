"""The sync plan: what to write on each side so Sage customers, their saved cards and the PayTrace
vault agree, and only that (a second run over unchanged data plans nothing).

Fields (name, billing address, phone, e-mail) are merged three ways per linked customer: Sage's
value, each linked profile's value, and the value both sides agreed on at the last sync (`base`).
- Sage changed a field when its value differs from the base *and* AR_Customer's change stamp
  (Sage's own clock) is at or after the stored watermark by a user other than the integration's
  (`UserUpdatedKey`): a value this sync wrote is never sent back (no echo).
- PayTrace changed it when a linked profile's value differs from the base.
- Only one side changed: that side's value goes to the other. Both changed to different values:
  `conflict` decides (sage_wins, paytrace_wins, or exception: neither is written and an exception
  row holds both values). Nothing changed: Sage's value is the truth (a newly linked profile
  takes Sage's billing address). An empty value is never copied over a filled one.
Every field that changed or is written has a decision row with both sides' values.

Cards: each linked profile's card is saved on its customer by vault id (brand, last 4, expiry,
AVS address = the profile's billing address after the sync); a profile seen in an earlier run and
now gone from the vault removes its Sage card; a Sage card whose vault id PayTrace never had is
never touched. A customer whose default card is removed gets one of its remaining cards.
Inactive (or vanished) Sage customers: their profiles are deleted in PayTrace or left with an
exception, per `inactive_customer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync.fields import BY_NAME, FIELD_NAMES, FIELDS, SyncField, clean, text
from sage_paytrace_pipeline.domain.customer_sync.linking import (
    LINK_ACTION,
    empty_exceptions,
    empty_unmatched,
    exception_frame,
    link_profiles,
    sage_fingerprint,
)
from sage_paytrace_pipeline.domain.ledger import CARD_TYPE_BY_BRAND
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

CONFLICT_POLICIES = ("sage_wins", "paytrace_wins", "exception")
INACTIVE_POLICIES = ("delete_profile", "exception")
KEY = ["division", "customer_no"]
BASE_COLUMNS = (*KEY, *FIELD_NAMES)
CARD_COLUMNS = ("division", "customer_no", "credit_card_guid", "payment_type", "card_brand", "last4",
                "expiration_year", "expiration_month", "cardholder_name", "avs_address_line1", "avs_address_line2",
                "avs_city", "avs_state", "avs_zip_code", "change")
DECISION_COLUMNS = ("division", "customer_no", "field", "sage_value", "paytrace_value", "base_value",
                    "sage_changed", "paytrace_changed", "decision", "value")
CREATE_COLUMNS = ("reference", "division", "vault_ids", *FIELD_NAMES)
# AVS columns of AR_CustomerCreditCard and the sync field each copies, with Sage's length.
_AVS = (("avs_address_line1", "address_line1", 30), ("avs_address_line2", "address_line2", 30),
        ("avs_city", "city", 20), ("avs_state", "state", 2), ("avs_zip_code", "zip_code", 10))


def _frame(columns) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


@dataclass(frozen=True)
class SyncPolicy:
    conflict: str = "sage_wins"
    inactive_customer: str = "exception"
    auto_create: bool = False
    new_customer_division: str = "01"
    integration_user: str = "PAYTRACE"  # AR_Customer.UserUpdatedKey of the pipeline's own writes
    payment_types: Mapping[str, str] = field(default_factory=dict)  # card brand -> Sage card payment type
    matching: MatchingPolicy | None = None
    fields: tuple[str, ...] = FIELD_NAMES  # the billing fields kept in sync (the others are left alone)

    def __post_init__(self) -> None:
        if self.conflict not in CONFLICT_POLICIES:
            raise ValueError(f"conflict must be one of {CONFLICT_POLICIES}, not {self.conflict!r}")
        unknown = set(self.fields) - set(FIELD_NAMES)
        if unknown:
            raise ValueError(f"fields: {', '.join(sorted(unknown))} not among {', '.join(FIELD_NAMES)}")
        if self.inactive_customer not in INACTIVE_POLICIES:
            raise ValueError(f"inactive_customer must be one of {INACTIVE_POLICIES}, not {self.inactive_customer!r}")


@dataclass(frozen=True)
class SyncState:
    """What the sync remembers between runs (kept by the application in the warehouse)."""

    links: pd.DataFrame = field(default_factory=lambda: _frame(("vault_id", "division", "customer_no")))
    seen: frozenset[str] = frozenset()  # every vault id any run has read
    base: pd.DataFrame = field(default_factory=lambda: _frame(BASE_COLUMNS))  # the agreed values per customer
    watermark: pd.Timestamp | None = None  # the newest AR_Customer change stamp read (Sage's clock)
    # Profiles the payment cascade could not place, per profile fingerprint, and the fingerprint of
    # Sage's customers and cards they were tried against (linking.py): unchanged, they are not retried.
    unmatched: pd.DataFrame = field(default_factory=empty_unmatched)
    sage_fingerprint: str = ""


@dataclass(frozen=True)
class SyncInputs:
    vault: pd.DataFrame  # paytrace_customers (paytrace/frames.py VAULT_CUSTOMER_COLUMNS)
    # Sage customers: KEY, the sage columns of FIELDS, status, credit_card_guid, stamp, user_updated
    customers: pd.DataFrame
    # Sage saved cards: KEY, credit_card_guid, card_type, last4, expiration_*, cardholder_name, avs_*
    cards: pd.DataFrame
    operator_links: pd.DataFrame  # vault_id, division, customer_no


@dataclass(frozen=True)
class SyncPlan:
    links: pd.DataFrame  # vault_id, division, customer_no, method, explanation, customer_status
    customers_to_create: pd.DataFrame  # CREATE_COLUMNS
    sage_updates: pd.DataFrame  # division, customer_no, field, value
    paytrace_updates: pd.DataFrame  # vault_id, field, value
    card_upserts: pd.DataFrame  # CARD_COLUMNS
    card_deletes: pd.DataFrame  # credit_card_guid, division, customer_no, reason
    default_cards: pd.DataFrame  # division, customer_no, credit_card_guid
    profile_deletes: pd.DataFrame  # vault_id, division, customer_no, reason
    decisions: pd.DataFrame  # DECISION_COLUMNS
    exceptions: pd.DataFrame  # linking.EXCEPTION_COLUMNS
    state: SyncState  # what to remember once the plan is carried out
    cascaded: int = 0  # profiles the fuzzy payment cascade ran on this time (the cache answered the others)

    def counts(self) -> dict[str, int]:
        return {
            "profiles_linked": len(self.links),
            "customers_to_create": len(self.customers_to_create),
            "sage_customers_to_update": int(self.sage_updates[KEY].drop_duplicates().shape[0]),
            "paytrace_profiles_to_update": int(self.paytrace_updates["vault_id"].nunique()),
            "sage_cards_to_save": len(self.card_upserts),
            "sage_cards_to_remove": len(self.card_deletes),
            "default_cards_to_set": len(self.default_cards),
            "paytrace_profiles_to_delete": len(self.profile_deletes),
            "conflicts": int(self.decisions["decision"].isin(["sage_wins", "paytrace_wins", "exception"]).sum()),
            "exceptions": len(self.exceptions),
        }

    @property
    def writes(self) -> int:
        counts = self.counts()
        return sum(counts[k] for k in ("customers_to_create", "sage_customers_to_update",
                                       "paytrace_profiles_to_update", "sage_cards_to_save", "sage_cards_to_remove",
                                       "default_cards_to_set", "paytrace_profiles_to_delete"))


def plan_sync(inputs: SyncInputs, state: SyncState, policy: SyncPolicy) -> SyncPlan:
    vault, customers, cards = inputs.vault, inputs.customers, inputs.cards
    fingerprint = sage_fingerprint(customers, cards)
    linking = link_profiles(vault, customers, cards, operator_links=inputs.operator_links,
                            stored_links=state.links, policy=policy.matching,
                            cached_unmatched=state.unmatched if state.sage_fingerprint == fingerprint else None)
    links = _with_status(linking.links, customers)
    active = links[links["customer_status"] == "active"]
    decided, decisions, sage_updates, paytrace_updates, field_problems, base = _merge_fields(
        vault, customers, active, state, policy)
    card_upserts, card_problems = _desired_cards(vault, active, cards, decided, policy)
    gone = _deleted_from_paytrace(vault, cards, state)
    profile_deletes, inactive_problems = _inactive(links, cards, policy)
    moved = _moved_cards(card_upserts, cards)
    card_deletes = pd.concat([gone, moved, _cards_of(profile_deletes, cards)], ignore_index=True)
    card_deletes = card_deletes.drop_duplicates("credit_card_guid", ignore_index=True)
    card_upserts = card_upserts[card_upserts["change"] != "none"].reset_index(drop=True)
    creates, create_problems = _to_create(linking.unlinked, policy)
    exceptions = pd.concat([linking.exceptions, field_problems, card_problems, inactive_problems, create_problems],
                           ignore_index=True)
    kept_links = links[~links["vault_id"].isin(set(gone["credit_card_guid"]) | set(profile_deletes["vault_id"]))]
    kept_links = kept_links[kept_links["vault_id"].isin(set(vault["customer_id"]))]
    new_state = SyncState(
        links=kept_links.loc[:, ["vault_id", "division", "customer_no"]].reset_index(drop=True),
        seen=state.seen | frozenset(vault["customer_id"].astype(str)) - frozenset(profile_deletes["vault_id"]),
        base=base,
        watermark=_newest_stamp(customers, state.watermark),
        unmatched=linking.unmatched,
        sage_fingerprint=fingerprint,
    )
    return SyncPlan(
        links=links, customers_to_create=creates, sage_updates=sage_updates, paytrace_updates=paytrace_updates,
        card_upserts=card_upserts,
        card_deletes=card_deletes,
        default_cards=_default_cards(customers, cards, card_upserts, card_deletes, set(vault["customer_id"])),
        profile_deletes=profile_deletes, decisions=decisions, exceptions=exceptions.reset_index(drop=True),
        state=new_state, cascaded=linking.cascaded,
    )


def with_state(plan: SyncPlan, state: SyncState) -> SyncPlan:
    return replace(plan, state=state)


# ---------------------------------------------------------------- links


def _with_status(links: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    status = customers.loc[:, [*KEY, "status"]].drop_duplicates(KEY)
    joined = links.merge(status, on=KEY, how="left")
    joined["customer_status"] = np.where(joined["status"].isna(), "missing",
                                         np.where(joined["status"] == "I", "inactive", "active"))
    return joined.drop(columns="status")


def label(division, customer_no) -> np.ndarray:
    return (pd.Series(division, dtype=object).astype(str) + "-" + pd.Series(customer_no, dtype=object).astype(str)
            ).to_numpy(dtype=object)


# ---------------------------------------------------------------- fields


def _merge_fields(vault: pd.DataFrame, customers: pd.DataFrame, active: pd.DataFrame, state: SyncState,
                  policy: SyncPolicy):
    """Per linked customer and field: the decided value, the writes each side needs, the decision rows."""
    rows = active.loc[:, ["vault_id", *KEY]].merge(
        vault.rename(columns={"customer_id": "vault_id"}), on="vault_id", how="left")
    customer_rows = rows.loc[:, KEY].drop_duplicates(ignore_index=True)
    sage = customer_rows.merge(customers, on=KEY, how="left")
    base = customer_rows.merge(state.base, on=KEY, how="left", indicator=True)
    has_base = (base["_merge"] == "both").to_numpy()
    clerk = _clerk_edited(sage, state.watermark, policy.integration_user)
    position = pd.MultiIndex.from_frame(customer_rows).get_indexer(pd.MultiIndex.from_frame(rows.loc[:, KEY]))
    decided_columns, decisions, sage_updates, paytrace_updates, problems = {}, [], [], [], []
    for sync_field in (f for f in FIELDS if f.name in policy.fields):
        p = clean(rows[sync_field.vault_column], sync_field)
        outcome = _merge_one(sync_field, p=p, position=position,
                             s=clean(sage[sync_field.sage_column], sync_field),
                             b=clean(base[sync_field.name], sync_field), has_base=has_base, clerk=clerk,
                             policy=policy)
        decided, decision, pt_value, sage_changed, pt_changed, sage_value, base_value = outcome
        decided_columns[sync_field.name] = decided
        row_decided = decided[position]
        write_sage = (decided != None) & (decided != "") & (decided != sage_value)  # noqa: E711
        write_pt = (row_decided != None) & (row_decided != "") & (row_decided != p)  # noqa: E711
        sage_updates.append(pd.DataFrame({"division": customer_rows["division"].to_numpy()[write_sage],
                                          "customer_no": customer_rows["customer_no"].to_numpy()[write_sage],
                                          "field": sync_field.name, "value": decided[write_sage]}))
        paytrace_updates.append(pd.DataFrame({"vault_id": rows["vault_id"].to_numpy()[write_pt],
                                              "field": sync_field.name, "value": row_decided[write_pt]}))
        shown = sage_changed | pt_changed | write_sage | np.isin(np.arange(len(decided)), position[write_pt])
        decisions.append(pd.DataFrame({
            "division": customer_rows["division"].to_numpy()[shown], "customer_no":
            customer_rows["customer_no"].to_numpy()[shown], "field": sync_field.name,
            "sage_value": sage_value[shown], "paytrace_value": pt_value[shown], "base_value": base_value[shown],
            "sage_changed": sage_changed[shown], "paytrace_changed": pt_changed[shown],
            "decision": decision[shown], "value": decided[shown]}))
        problems.append(_field_problems(sync_field, customer_rows, decision, sage_value, pt_value))
    new_base = customer_rows.copy()
    for name in FIELD_NAMES:
        old = clean(base[name], BY_NAME[name])
        values = decided_columns.get(name)
        new_base[name] = old if values is None else np.where(pd.isna(values), old, values)
    untouched = state.base.merge(customer_rows, on=KEY, how="left", indicator=True)
    untouched = untouched[untouched["_merge"] == "left_only"].drop(columns="_merge")
    merged_base = pd.concat([untouched, new_base], ignore_index=True).loc[:, list(BASE_COLUMNS)].astype(object)
    decided_frame = customer_rows.assign(**decided_columns)
    return (decided_frame, _concat(decisions, DECISION_COLUMNS), _concat(sage_updates, (*KEY, "field", "value")),
            _concat(paytrace_updates, ("vault_id", "field", "value")), pd.concat(problems, ignore_index=True),
            merged_base)


def _merge_one(sync_field: SyncField, *, p: np.ndarray, position: np.ndarray, s: np.ndarray, b: np.ndarray,
               has_base: np.ndarray, clerk: np.ndarray, policy: SyncPolicy):
    """One field for every linked customer; arrays per customer except `p` (per link, `position` -> customer)."""
    size = len(s)
    p_changed_row = has_base[position] & (p != "") & (p != b[position])
    changed = pd.DataFrame({"customer": position[p_changed_row], "value": p[p_changed_row]})
    per_customer = changed.groupby("customer")["value"].agg(["nunique", "first"])
    pt_changed = np.zeros(size, dtype=bool)
    pt_changed[per_customer.index.to_numpy()] = True
    disagree = np.zeros(size, dtype=bool)
    disagree[per_customer.index.to_numpy()] = per_customer["nunique"].to_numpy() > 1
    pt_value = np.full(size, "", dtype=object)
    pt_value[per_customer.index.to_numpy()] = per_customer["first"].to_numpy(dtype=object)
    # Where PayTrace did not change: the first non-empty profile value fills an empty Sage field.
    filled = pd.DataFrame({"customer": position, "value": p})
    filled = filled[filled["value"] != ""].groupby("customer")["value"].first()
    any_value = np.full(size, "", dtype=object)
    any_value[filled.index.to_numpy()] = filled.to_numpy(dtype=object)
    shown_pt = np.where(pt_changed, pt_value, any_value)
    sage_changed = has_base & (s != "") & (s != b) & clerk
    both = pt_changed & sage_changed & (pt_value != s)
    decided = np.where(s != "", s, any_value).astype(object)  # nothing changed: Sage's value
    decision = np.full(size, "sage", dtype=object)
    only_pt = pt_changed & ~sage_changed
    decided[only_pt] = pt_value[only_pt]
    decision[only_pt] = "paytrace"
    decision[pt_changed & sage_changed & ~both] = "agreed"
    if policy.conflict == "paytrace_wins":
        decided[both] = pt_value[both]
    elif policy.conflict == "exception":
        decided[both] = None
    decision[both] = "exception" if policy.conflict == "exception" else policy.conflict
    decided[disagree] = None
    decision[disagree] = "profiles_disagree"
    base_value = np.where(has_base, b, "").astype(object)
    return decided, decision, shown_pt, sage_changed, pt_changed, s, base_value


def _clerk_edited(sage: pd.DataFrame, watermark: pd.Timestamp | None, integration_user: str) -> np.ndarray:
    """Changed in Sage since the last sync by someone other than the integration (Sage's clock only)."""
    if "stamp" not in sage:
        return np.ones(len(sage), dtype=bool)
    stamp = pd.to_datetime(sage["stamp"])
    recent = np.ones(len(sage), dtype=bool) if watermark is None else (stamp >= watermark).fillna(True).to_numpy()
    by_us = text(sage["user_updated"]).str.upper().to_numpy() == integration_user.upper()
    return recent & ~by_us


def _newest_stamp(customers: pd.DataFrame, previous: pd.Timestamp | None) -> pd.Timestamp | None:
    if "stamp" not in customers or customers["stamp"].isna().all():
        return previous
    newest = pd.to_datetime(customers["stamp"]).max()
    return newest if previous is None or newest > previous else previous


def _field_problems(sync_field: SyncField, customer_rows: pd.DataFrame, decision: np.ndarray, sage_value: np.ndarray,
                    pt_value: np.ndarray) -> pd.DataFrame:
    frames = []
    for kind, what in (("exception", "changed on both sides since the last sync"),
                       ("profiles_disagree", "changed differently in the customer's PayTrace profiles")):
        hit = decision == kind
        if not hit.any():
            continue
        who = label(customer_rows["division"].to_numpy()[hit], customer_rows["customer_no"].to_numpy()[hit])
        frames.append(exception_frame(
            "field_conflict" if kind == "exception" else "profiles_disagree", "warning", vault_id=np.full(
                len(who), "", dtype=object), customer=who, source_ids="sage:" + who,
            problem=f"{sync_field.name} " + what + ": Sage '" + sage_value[hit].astype(str) + "', PayTrace '"
            + pt_value[hit].astype(str) + "'; neither written",
            action=f"Set the right {sync_field.name} in Sage (AR Customer Maintenance) or PayTrace and run the "
            "sync again, or choose customers.sync.conflict: sage_wins / paytrace_wins"))
    return pd.concat(frames, ignore_index=True) if frames else empty_exceptions()


def _concat(frames: list[pd.DataFrame], columns) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return _frame(columns)
    return pd.concat(frames, ignore_index=True).loc[:, list(columns)]


# ---------------------------------------------------------------- cards


def _desired_cards(vault: pd.DataFrame, active: pd.DataFrame, cards: pd.DataFrame, decided: pd.DataFrame,
                   policy: SyncPolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The card each linked profile should have in Sage, with `change`: insert, update, move or none."""
    rows = active.loc[:, ["vault_id", *KEY]].merge(vault.rename(columns={"customer_id": "vault_id"}),
                                                   on="vault_id", how="left").merge(decided, on=KEY, how="left",
                                                                                    suffixes=("", "_decided"))
    has_card = (text(rows["card_last4"]) != "") & rows["card_expiration_year"].notna() & \
        rows["card_expiration_month"].notna()
    rows = rows[has_card.to_numpy()].reset_index(drop=True)
    brand = text(rows["card_brand"]).str.upper()
    payment_type = brand.map(lambda b: policy.payment_types.get(b, "")).astype(object)
    unmapped = (payment_type == "").to_numpy()
    problems = exception_frame(
        "card_payment_type_unmapped", "warning", vault_id=rows["vault_id"].to_numpy()[unmapped],
        customer=label(rows["division"].to_numpy()[unmapped], rows["customer_no"].to_numpy()[unmapped]),
        source_ids="paytrace:" + rows["vault_id"].astype(str).to_numpy()[unmapped],
        problem="vault profile's card brand " + brand.to_numpy()[unmapped] + " has no Sage payment type; card not "
        "saved",
        action="Map the brand in sage.payment_types (a credit card payment type) and run the sync again")
    rows, brand, payment_type = rows[~unmapped], brand[~unmapped], payment_type[~unmapped]
    desired = pd.DataFrame({
        "division": rows["division"].to_numpy(), "customer_no": rows["customer_no"].to_numpy(),
        "credit_card_guid": rows["vault_id"].to_numpy(), "payment_type": payment_type.to_numpy(),
        "card_brand": brand.to_numpy(), "last4": text(rows["card_last4"]).to_numpy(),
        "expiration_year": rows["card_expiration_year"].astype("int64").map(lambda y: y + 2000 if y < 100 else y)
        .astype(str).to_numpy(),
        "expiration_month": rows["card_expiration_month"].astype("int64").astype(str).str.zfill(2).to_numpy(),
        # The name PayTrace will hold after the sync (Sage's when the name is synced), as for the AVS address.
        "cardholder_name": _after_sync(rows, "name", 30),
    })
    for column, name, length in _AVS:
        desired[column] = _after_sync(rows, name, length)
    desired["change"] = _card_change(desired, cards)
    return desired.loc[:, list(CARD_COLUMNS)], problems


def _after_sync(rows: pd.DataFrame, name: str, length: int) -> np.ndarray:
    """A profile field as PayTrace holds it after the sync: the decided value, else the profile's own."""
    own = clean(rows[BY_NAME[name].vault_column], BY_NAME[name])
    after = rows[name].to_numpy(dtype=object) if name in rows else np.full(len(rows), None, dtype=object)
    missing = pd.isna(after) | (pd.Series(after, dtype=object).fillna("").to_numpy(dtype=object) == "")
    chosen = np.where(missing, own, after)
    return pd.Series(chosen, dtype=object).astype(str).str[:length].str.strip().to_numpy(dtype=object)


def _card_change(desired: pd.DataFrame, cards: pd.DataFrame) -> np.ndarray:
    saved = cards.drop_duplicates("credit_card_guid").set_index("credit_card_guid")
    found = saved.reindex(desired["credit_card_guid"].to_numpy())
    exists = found["customer_no"].notna().to_numpy()
    same_customer = exists & (found["division"].to_numpy() == desired["division"].to_numpy()) & \
        (found["customer_no"].to_numpy() == desired["customer_no"].to_numpy())
    code = desired["card_brand"].map(lambda b: CARD_TYPE_BY_BRAND.get(b, "")).to_numpy(dtype=object)
    differs = (text(found["last4"]).to_numpy() != desired["last4"].to_numpy()) | \
        (text(found["expiration_year"]).to_numpy() != desired["expiration_year"].to_numpy()) | \
        (text(found["expiration_month"]).str.zfill(2).to_numpy() != desired["expiration_month"].to_numpy()) | \
        (text(found["card_type"]).to_numpy() != code) | \
        (text(found["cardholder_name"]).to_numpy() != desired["cardholder_name"].to_numpy())
    for column, _, _ in _AVS:
        wanted = desired[column].to_numpy(dtype=object)
        differs |= (wanted != "") & (text(found[column]).to_numpy() != wanted)
    return np.select([~exists, ~same_customer, differs], ["insert", "move", "update"], "none").astype(object)


def _moved_cards(card_upserts: pd.DataFrame, cards: pd.DataFrame) -> pd.DataFrame:
    """A card whose profile is now linked to another customer leaves the old one first."""
    moving = card_upserts.loc[card_upserts["change"] == "move", ["credit_card_guid"]]
    old = moving.merge(cards.loc[:, ["credit_card_guid", *KEY]], on="credit_card_guid", how="left")
    return old.assign(reason="the profile is linked to another customer").loc[
        :, ["credit_card_guid", *KEY, "reason"]]


def _deleted_from_paytrace(vault: pd.DataFrame, cards: pd.DataFrame, state: SyncState) -> pd.DataFrame:
    """Sage cards of profiles an earlier run saw and the vault no longer has. A vault id the sync never
    saw (a card saved before PayTrace, or by another gateway) is left alone."""
    guid = cards["credit_card_guid"].astype(str)
    gone = cards[guid.isin(state.seen).to_numpy() & ~guid.isin(set(vault["customer_id"].astype(str))).to_numpy()]
    return gone.loc[:, ["credit_card_guid", *KEY]].assign(reason="the profile was deleted in PayTrace")


def _cards_of(profile_deletes: pd.DataFrame, cards: pd.DataFrame) -> pd.DataFrame:
    hit = cards[cards["credit_card_guid"].isin(set(profile_deletes["vault_id"]))]
    return hit.loc[:, ["credit_card_guid", *KEY]].assign(reason="its customer is inactive in Sage")


def _default_cards(customers: pd.DataFrame, cards: pd.DataFrame, upserts: pd.DataFrame,
                   deletes: pd.DataFrame, vault_ids: set[str]) -> pd.DataFrame:
    """Customers the plan touches whose default card would be missing afterwards but who keep a card:
    a card of the vault first (then by vault id), a card saved elsewhere only when there is no other."""
    touched = pd.concat([upserts.loc[:, KEY], deletes.loc[:, KEY]], ignore_index=True).dropna().drop_duplicates()
    if touched.empty:
        return _frame((*KEY, "credit_card_guid"))
    removed = set(deletes["credit_card_guid"])
    final = pd.concat([cards.loc[~cards["credit_card_guid"].isin(removed), [*KEY, "credit_card_guid"]],
                       upserts.loc[:, [*KEY, "credit_card_guid"]]], ignore_index=True).drop_duplicates()
    final = final.merge(touched, on=KEY, how="inner")
    current = touched.merge(customers.loc[:, [*KEY, "credit_card_guid"]], on=KEY, how="left").rename(
        columns={"credit_card_guid": "default"})
    current["default"] = text(current["default"])
    keeps = current.merge(final.rename(columns={"credit_card_guid": "default"}), on=[*KEY, "default"],
                          how="inner")
    need = current.merge(keeps.loc[:, KEY], on=KEY, how="left", indicator=True)
    need = need[need["_merge"] == "left_only"].loc[:, KEY]
    chosen = final.merge(need, on=KEY)
    chosen["elsewhere"] = ~chosen["credit_card_guid"].isin(vault_ids)
    chosen = chosen.sort_values([*KEY, "elsewhere", "credit_card_guid"]).drop_duplicates(KEY)
    return chosen.loc[:, [*KEY, "credit_card_guid"]].reset_index(drop=True)


# ---------------------------------------------------------------- inactive customers, new customers


def _inactive(links: pd.DataFrame, cards: pd.DataFrame, policy: SyncPolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    off = links[links["customer_status"] != "active"]
    why = np.where(off["customer_status"] == "missing", "no longer exists in Sage", "is inactive in Sage")
    if policy.inactive_customer == "delete_profile":
        deletes = off.loc[:, ["vault_id", *KEY]].assign(reason="its Sage customer " + why)
        return deletes.reset_index(drop=True), empty_exceptions()
    who = label(off["division"].to_numpy(), off["customer_no"].to_numpy())
    problems = exception_frame(
        "inactive_customer_profile", "warning", vault_id=off["vault_id"].to_numpy(), customer=who,
        source_ids="paytrace:" + off["vault_id"].astype(str).to_numpy() + " sage:" + who,
        problem="vault profile " + off["vault_id"].astype(str).to_numpy() + " belongs to customer " + who + ", which "
        + why + "; the profile is kept",
        action="Delete the profile in PayTrace, link it to the active customer (customers link), or set "
        "customers.sync.inactive_customer: delete_profile")
    return _frame(("vault_id", *KEY, "reason")), problems


def person_key(frame: pd.DataFrame) -> np.ndarray:
    """One key per person: e-mail + ZIP when there is an e-mail, else name + ZIP (two profiles of one
    person become one new customer)."""
    mail, zip5 = text(frame["email"]).str.lower(), text(frame["billing_zip"]).str[:5]
    name = text(frame["billing_name"]).str.upper().str.split().str.join(" ")
    return np.where(mail != "", "E|" + mail + "|" + zip5, "N|" + name + "|" + zip5).astype(object)


def new_customer_reference(key: str) -> str:
    """AR_Customer.UDF_PAYTRACE_REF of a customer the sync creates (≤ 30 chars; vault ids can be 32)."""
    return "PTV-" + hashlib.sha256(key.encode()).hexdigest()[:24].upper()


def _to_create(unlinked: pd.DataFrame, policy: SyncPolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    if unlinked.empty:
        return _frame(CREATE_COLUMNS), empty_exceptions()
    if not policy.auto_create:
        ids = unlinked["customer_id"].astype(str).to_numpy()
        return _frame(CREATE_COLUMNS), exception_frame(
            "profile_without_customer", "warning", vault_id=ids, customer="", source_ids="paytrace:" + ids,
            problem="vault profile " + ids + " (" + text(unlinked["billing_name"]).to_numpy() + ", ZIP "
            + text(unlinked["billing_zip"]).to_numpy() + ") matches no Sage customer; its card is not in Sage",
            action=LINK_ACTION + ", or set customers.auto_create: true to create customers from profiles")
    frame = unlinked.assign(person=person_key(unlinked)).sort_values(["person", "customer_id"])
    groups = frame.groupby("person", sort=True)
    first = groups.first()
    created = pd.DataFrame({
        "reference": [new_customer_reference(key) for key in first.index],
        "division": policy.new_customer_division,
        "vault_ids": groups["customer_id"].agg(lambda ids: " ".join(map(str, ids))).to_numpy(),
    })
    for sync_field in FIELDS:
        created[sync_field.name] = clean(first[sync_field.vault_column], sync_field)
    return created.loc[:, list(CREATE_COLUMNS)], empty_exceptions()

"""Who paid: PayTrace payer -> Sage customer (division, number), by a cascade of decreasing certainty.

1. stored link or vault id: the operator's link for the vault customer_id, else the Sage card whose
   CreditCardGUID is the vault id;
2. invoice reference: an invoice number in the payment that is open for exactly one customer;
3. e-mail: exact (trimmed, case-insensitive), one customer only;
4. fuzzy billing name within the same ZIP (rapidfuzz token_sort_ratio), one clear winner only.
Each step sees only what earlier steps left. Several candidates are an exception, never a guess;
a vault link contradicted by the invoice the payer named is a conflict, not applied.

Payers are integer positions in the payments frame; a payer field is read and cleaned only for
the payers that reach the step needing it, once per distinct value. Candidates are (payer,
customer) pairs from joins on integer codes, in the order pandas merges would give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

from sage_paytrace_pipeline.domain.matching.arrays import (
    factorize_keeping_na,
    join_codes,
    run_lengths,
    run_sizes,
    run_starts,
    sorted_positions,
)
from sage_paytrace_pipeline.domain.matching.exceptions import (
    concat_exceptions,
    exception_rows,
)
from sage_paytrace_pipeline.domain.matching.open_invoices import (
    LocatedReferences,
    OpenInvoiceIndex,
    index_open_invoices,
)
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references
from sage_paytrace_pipeline.domain.matching.text import explained_in_chunks, render, where_text

LINK_COLUMNS = ("transaction_id", "division", "customer_no", "method", "score", "explanation")
# What match_day returns instead of the explanation: what the text is made of (`render_links` makes it).
# evidence: the payer's vault id, invoice number, e-mail or billing name the link rests on; via: how a
# vault id is known ("linked to", "stored on"); matched_name, matched_zip: the Sage customer's name and
# ZIP a billing name matched. Each is None where its method does not use it.
EVIDENCE_COLUMNS = ("evidence", "via", "matched_name", "matched_zip")
CODED_LINK_COLUMNS = (*LINK_COLUMNS[:-1], *EVIDENCE_COLUMNS)
_LINK_DTYPES = {"transaction_id": "int64", "score": "float64"}  # the other columns: object
_EXPLANATIONS = {
    "vault_id": "vault id {evidence} is {via} {division}-{customer_no}",
    "invoice_reference": "invoice {evidence} is open only for {division}-{customer_no}",
    "email": "e-mail {evidence} is the address of {division}-{customer_no}",
    "fuzzy_name_zip": "billing name '{evidence}' matches '{matched_name}' ({rounded}) in ZIP {matched_zip}: "
                      "{division}-{customer_no}",
}
_KEY = ["division", "customer_no"]
_LINK_ACTION = (
    "Link the payer to the right Sage customer: sage-paytrace link add <vault id> <division>-<customer no>, "
    "or add it to customer_links in config; the next run picks the payment up again"
)
# Without ZIP blocking every name meets every customer: cdist calls are cut to this many scores each.
_FUZZY_CELLS = 4_000_000


def resolve_customers(
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    cards: pd.DataFrame,
    open_invoices: pd.DataFrame,
    *,
    links: pd.DataFrame,
    policy: MatchingPolicy | None = None,
    references: pd.DataFrame | None = None,
    index: OpenInvoiceIndex | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customer_links, exceptions) for the payments given (eligibility is the caller's business)."""
    policy = policy or MatchingPolicy()
    if references is None:
        references = extract_invoice_references(payments, policy)
    index = index or index_open_invoices(open_invoices, policy)
    linked, problems = resolve(payments, customers, cards, links=links, policy=policy, references=references,
                               located=index.locate(references), index=index)
    return render_links(linked.frame), problems


def render_links(coded: pd.DataFrame) -> pd.DataFrame:
    """The customer_links frame (LINK_COLUMNS) of coded links (CODED_LINK_COLUMNS): the explanation
    made from its parts, for the rows given only."""
    explanation = explained_in_chunks(coded, _EXPLANATION_PARTS, _explanations)
    columns = {name: coded[name] for name in LINK_COLUMNS[:-1]}
    return pd.DataFrame({**columns, "explanation": explanation}, index=coded.index, copy=False)


_EXPLANATION_PARTS = ("method", "score", "division", "customer_no", *EVIDENCE_COLUMNS)


def _explanations(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The explanation of each row of the coded parts."""
    explanation = np.full(len(parts["method"]), "", dtype=object)
    codes, methods = pd.factorize(parts["method"])  # the methods hashed once, not once per template
    for code, name in enumerate(methods):
        rows = np.flatnonzero(codes == code)
        fields = {column: parts[column][rows] for column in ("division", "customer_no", *EVIDENCE_COLUMNS)}
        if name == "fuzzy_name_zip":  # the score as rapidfuzz gave it (float32), rounded
            fields["rounded"] = pd.Series(parts["score"][rows].astype("float32")).round(1).astype(str)
        explanation[rows] = render(_EXPLANATIONS[name], **fields)
    return explanation


@dataclass(frozen=True)
class CustomerLinks:
    """The customer_links frame and, per link, what applying payments needs besides: the customer's key
    in the open-invoice index (-1: no payable invoice); its "division-customer_no" label on demand."""

    frame: pd.DataFrame
    customer_key: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, index: OpenInvoiceIndex) -> CustomerLinks:
        division, customer_no = frame["division"].to_numpy(), frame["customer_no"].to_numpy()
        return cls(frame, index.customer_key_of(division, customer_no))

    def label(self, link: np.ndarray) -> np.ndarray:
        """The labels of the links at `link` (made for the messages that name them only)."""
        return _label(self.frame["division"].to_numpy()[link], self.frame["customer_no"].to_numpy()[link])


def resolve(payments: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame, *, links: pd.DataFrame,
            policy: MatchingPolicy, references: pd.DataFrame, located: LocatedReferences,
            index: OpenInvoiceIndex) -> tuple[CustomerLinks, pd.DataFrame]:
    """resolve_customers on prepared inputs; the links come with what apply needs (CustomerLinks)."""
    payers = _Payers(payments)
    context = _Context(customers, cards, links, _OpenReferences.of(references, located, index), index, policy,
                       _Directory(customers))
    found, problems = [], []
    remaining = np.arange(len(payers.transaction_id))
    for step in (_by_vault, _by_invoice, _by_email, _by_name_and_zip):
        linked, issues = step(payers, remaining, context)
        found.append(linked)
        problems.append(issues)
        settled = np.concatenate([linked.transaction_id, issues["transaction_id"].to_numpy("int64")])
        remaining = remaining[~pd.Series(payers.transaction_id[remaining]).isin(settled).to_numpy()]
    problems.append(_unknown(payers, remaining, policy))
    return _Links.combine(found), concat_exceptions(problems)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Field:
    """A cleaned payer field for some payers: codes into distinct cleaned values."""

    codes: np.ndarray
    values: np.ndarray  # object

    def text(self) -> np.ndarray:
        return self.values[self.codes]

    def present(self) -> np.ndarray:
        return (self.values != "")[self.codes]


# payer field -> (payments column, clean-up of the text (as astype(str) writes it))
_PAYER_FIELDS = {
    "vault_id": ("customer_id", lambda text: text.strip()),
    "email": ("email", lambda text: text.strip().lower()),
    "billing_name": ("billing_name", lambda text: text.strip()),
    "zip5": ("billing_zip", lambda text: text.strip()[:5]),
}


class _Payers:
    """The payments being resolved; fields are cleaned on demand for the payers that need them."""

    def __init__(self, payments: pd.DataFrame):
        self.payments = payments
        self.transaction_id = payments["transaction_id"].to_numpy().astype("int64")

    def field(self, name: str, rows: np.ndarray) -> _Field:
        """The field of the payers at `rows`, stripped text (missing -> ""), cleaned once per distinct value."""
        column, then = _PAYER_FIELDS[name]
        if column not in self.payments:
            return _Field(np.zeros(len(rows), dtype="int64"), np.array([""], dtype=object))
        values = self.payments[column].to_numpy()
        raw, distinct = pd.factorize(values if len(rows) == len(values) else values[rows])  # rows: all, or a few
        cleaned = _each(distinct, then, as_text=True)
        code, cleaned = factorize_keeping_na(np.append(cleaned, ""))  # "" last: missing values
        return _Field(code[np.where(raw >= 0, raw, len(distinct))], np.asarray(cleaned, dtype=object))


@dataclass(frozen=True)
class _OpenReferences:
    """Each invoice reference joined to the open invoices (any customer) that carry its number:
    in reference order, then the customers in the order they first appear among the open invoices."""

    transaction_id: np.ndarray
    invoice_no: np.ndarray
    position: np.ndarray
    customer_key: np.ndarray

    @classmethod
    def of(cls, references: pd.DataFrame, located: LocatedReferences, index: OpenInvoiceIndex) -> _OpenReferences:
        row = located.reference
        return cls(references["transaction_id"].to_numpy().astype("int64")[row],
                   references["invoice_no"].to_numpy()[row], references["position"].to_numpy()[row],
                   index.customer_key[located.entry])


class _Directory:
    """The active Sage customers (not status "I"), their fields cleaned once, when a step first needs them."""

    def __init__(self, customers: pd.DataFrame):
        self.rows = customers if "status" not in customers else customers[customers["status"].fillna("A") != "I"]

    @cached_property
    def division(self) -> np.ndarray:
        return self.rows["division"].to_numpy()

    @cached_property
    def customer_no(self) -> np.ndarray:
        return self.rows["customer_no"].to_numpy()

    @cached_property
    def customer(self) -> np.ndarray:
        """One code per (division, customer_no): a customer listed twice is one candidate."""
        return _pair_codes(self.division, self.customer_no)

    @cached_property
    def email(self) -> np.ndarray:
        return _clean_per_distinct(self.rows["email"].astype(object).fillna(""), lambda text: text.strip().lower())

    @cached_property
    def name(self) -> np.ndarray:
        return self.rows["name"].astype(object).fillna("").to_numpy(dtype=object)

    @cached_property
    def zip5(self) -> np.ndarray:
        return _clean_per_distinct(self.rows["zip_code"].astype(object).fillna(""), lambda text: text.strip()[:5],
                                   as_text=True)

    def label(self, row: np.ndarray) -> np.ndarray:
        return _label_by_code(row, lambda rows: _label(self.division[rows], self.customer_no[rows]))


@dataclass(frozen=True)
class _Context:
    customers: pd.DataFrame
    cards: pd.DataFrame
    links: pd.DataFrame
    open_refs: _OpenReferences
    index: OpenInvoiceIndex
    policy: MatchingPolicy
    directory: _Directory

    @cached_property
    def directory_key(self) -> np.ndarray:
        """Each directory customer's key in the open-invoice index (-1: none), looked up once: the
        e-mail and name steps take their links' keys from here, not from their strings again."""
        return self.index.customer_key_of(self.directory.division, self.directory.customer_no)


def _clean_per_distinct(column: pd.Series, clean, *, as_text: bool = False) -> np.ndarray:
    """`_each` of a Series' values, computed once per distinct value (missing values row by row: None and
    NaN differ)."""
    codes, distinct = pd.factorize(column)
    cleaned = np.append(_each(distinct, clean, as_text=as_text), [None])[codes]
    missing = codes < 0
    if missing.any():
        values = column.to_numpy(dtype=object)[missing]  # pandas' str methods keep a missing value as it is
        cleaned[missing] = _each(values, clean, as_text=True) if as_text else values
    return cleaned


def _each(values, clean, *, as_text: bool) -> np.ndarray:
    """clean(text) of each value, as pandas' .str methods give it: of the value as .astype(str) writes it
    (as_text), else of the value where it is a str and NaN where it is not. A plain loop over the
    Python strings: pandas' .str methods cost several times more per value."""
    values = pd.Series(values, dtype=object).astype(str) if as_text else pd.Series(values, dtype=object)
    return np.array([clean(value) if isinstance(value, str) else np.nan for value in values.tolist()], dtype=object)


def _label(division: np.ndarray, customer_no: np.ndarray) -> np.ndarray:
    return np.asarray(render("{division}-{customer_no}", division=division, customer_no=customer_no), dtype=object)


def _label_by_code(code: np.ndarray, make) -> np.ndarray:
    """make(codes) for integer codes, made once per distinct code (customers pay many times)."""
    code = np.asarray(code, dtype="int64")
    if len(code) <= 1000:
        return make(code)
    distinct, inverse = np.unique(code, return_inverse=True)
    return make(distinct)[inverse.reshape(-1)]


def _pair_codes(*columns: np.ndarray) -> np.ndarray:
    """One int64 code per distinct combination of the columns' values."""
    code = np.zeros(len(columns[0]), dtype="int64")
    for column in columns:
        codes, distinct = factorize_keeping_na(column)
        code = code * max(len(distinct), 1) + codes
    return code


def _split_unique(transaction_id: np.ndarray, customer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidates of payments with exactly one candidate customer, candidates of payments with several),
    as candidate positions in candidate order, after dropping repeats of a (payment, customer)."""
    by_payment = np.argsort(transaction_id, kind="stable")  # in order already for most steps: cheap
    tid, customer = transaction_id[by_payment], customer[by_payment]
    repeated = np.zeros(len(tid), dtype=bool)
    shared = np.flatnonzero(run_sizes(tid) > 1)  # only these can repeat a customer
    repeated[shared] = pd.DataFrame({"t": tid[shared], "c": customer[shared]}).duplicated().to_numpy()
    kept = np.flatnonzero(~repeated)
    alone = np.zeros(len(tid), dtype=bool)
    alone[kept] = run_sizes(tid[kept]) == 1
    unique, several = np.zeros(len(tid), dtype=bool), np.zeros(len(tid), dtype=bool)
    unique[by_payment] = alone
    several[by_payment[kept]] = ~alone[kept]
    return np.flatnonzero(unique), np.flatnonzero(several)


@dataclass(frozen=True)
class _Links:
    """The payments one step links to a customer."""

    transaction_id: np.ndarray
    division: np.ndarray
    customer_no: np.ndarray
    method: str
    score: np.ndarray | float
    customer_key: np.ndarray
    evidence: np.ndarray
    via: np.ndarray | None = None
    matched_name: np.ndarray | None = None
    matched_zip: np.ndarray | None = None

    @classmethod
    def of(cls, transaction_id, division, customer_no, *, method: str, score, customer_key, evidence,
           **parts) -> _Links:
        """The links with the parts of their explanation (EVIDENCE_COLUMNS; `render_links` writes it)."""
        return cls(np.asarray(transaction_id, dtype="int64"), np.asarray(division, dtype=object),
                   np.asarray(customer_no, dtype=object), method, score, customer_key,
                   np.asarray(evidence, dtype=object), **{name: np.asarray(value, dtype=object)
                                                          for name, value in parts.items()})

    @staticmethod
    def combine(steps: list[_Links]) -> CustomerLinks:
        """The links of all steps by transaction_id."""
        positions = sorted_positions([step.transaction_id for step in steps], kind="quicksort")  # as sort_values

        def column(name: str, dtype) -> np.ndarray:
            size = sum(len(position) for position in positions)
            values = np.full(size, None, dtype=object) if dtype is object else np.empty(size, dtype=dtype)
            for step, position in zip(steps, positions):
                if (value := getattr(step, name)) is not None:
                    values[position] = value
            return values

        frame = pd.DataFrame({name: column(name, _LINK_DTYPES.get(name, object)) for name in CODED_LINK_COLUMNS},
                             copy=False)
        return CustomerLinks(frame, column("customer_key", "int64"))


def _ambiguous(transaction_id: np.ndarray, label, what, evidence: str) -> pd.DataFrame:
    """One ambiguous_customer exception per payment, naming every candidate (in candidate order)."""
    if len(transaction_id) == 0:
        return concat_exceptions([])
    rows = pd.DataFrame({"transaction_id": transaction_id, "label": label, "what": what})
    grouped = rows.groupby("transaction_id", sort=True).agg(
        candidates=("label", ", ".join), count=("label", "size"), what=("what", "first"))
    fields = {"tid": grouped.index, "candidates": grouped["candidates"]}
    return exception_rows(
        "ambiguous_customer", "error", grouped.index.to_numpy(),
        source_ids=render("paytrace:{tid} sage:{candidates}", **fields),
        problem=render("transaction {tid}: {evidence} {what} fits {count} Sage customers ({candidates}); not posted",
                       **fields, evidence=evidence, what=grouped["what"], count=grouped["count"]),
        action=render("{action} (pick one of {candidates})", action=_LINK_ACTION, candidates=grouped["candidates"]),
    )


# ---------------------------------------------------------------- the four steps


def _known_vault_ids(customers: pd.DataFrame, cards: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """vault_id, division, customer_no, via: operator links first, then card GUIDs they do not override."""
    stored = links.assign(vault_id=links["customer_id"].astype(str).str.strip(), via="stored link")
    stored = stored[["vault_id", *_KEY, "via"]]
    guids = [_guids(cards)] + ([_guids(customers)] if "credit_card_guid" in customers else [])
    guids = pd.concat(guids).assign(via="card GUID")
    guids = guids[~guids["vault_id"].isin(stored["vault_id"])]
    return pd.concat([stored, guids[["vault_id", *_KEY, "via"]]]).drop_duplicates(["vault_id", *_KEY])


def _guids(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a card GUID (most customers have none), as vault_id, division, customer_no."""
    vault_id = _clean_per_distinct(frame["credit_card_guid"], lambda text: text.strip(), as_text=True)
    rows = np.flatnonzero(vault_id != "")
    return pd.DataFrame({"vault_id": vault_id[rows], **{c: frame[c].to_numpy()[rows] for c in _KEY}})


def _by_vault(payers: _Payers, rows: np.ndarray, context: _Context) -> tuple[_Links, pd.DataFrame]:
    vault = payers.field("vault_id", rows)
    with_vault = np.flatnonzero(vault.present())
    known = _known_vault_ids(context.customers, context.cards, context.links)
    payer_code, known_code = np.split(pd.factorize(np.concatenate(
        [vault.values, known["vault_id"].to_numpy(dtype=object)]))[0], [len(vault.values)])
    payer, candidate = join_codes(payer_code[vault.codes[with_vault]], known_code)
    candidates = pd.DataFrame({
        "transaction_id": payers.transaction_id[rows[with_vault][payer]],
        "vault_id": vault.values[vault.codes[with_vault][payer]],
        **{column: known[column].to_numpy()[candidate] for column in [*_KEY, "via"]},
    })
    unique, several = _split_unique(candidates["transaction_id"].to_numpy(),
                                    _pair_codes(*(candidates[c].to_numpy() for c in _KEY)))
    several = candidates.iloc[several]
    ambiguous = _ambiguous(several["transaction_id"].to_numpy(), _label(*(several[c].to_numpy() for c in _KEY)),
                           render("vault id {vault_id}", vault_id=several["vault_id"]), "the")
    unique = candidates.iloc[unique].reset_index(drop=True)
    key = context.index.customer_key_of(unique["division"].to_numpy(), unique["customer_no"].to_numpy())
    conflicting = _named_only_other_customers(unique["transaction_id"], key, context.open_refs)
    conflicts = _conflicts(unique[conflicting], context)

    linked = unique[~conflicting]
    return (_Links.of(linked["transaction_id"], linked["division"], linked["customer_no"], method="vault_id",
                      score=100.0, customer_key=key[~conflicting], evidence=linked["vault_id"],
                      via=linked["via"].map({"stored link": "linked to", "card GUID": "stored on"})),
            concat_exceptions([ambiguous, conflicts]))


def _named_only_other_customers(transaction_id: pd.Series, customer_key: np.ndarray,
                                open_refs: _OpenReferences) -> np.ndarray:
    """Per linked payment: True if it names open invoices and none of them is its customer's."""
    at = pd.Index(transaction_id).get_indexer(open_refs.transaction_id)
    named = at >= 0
    own = pd.Series(open_refs.customer_key[named] == customer_key[at[named]])
    own_any = own.groupby(open_refs.transaction_id[named]).any()
    return transaction_id.isin(own_any.index[~own_any.to_numpy()]).to_numpy()


def _conflicts(rows: pd.DataFrame, context: _Context) -> pd.DataFrame:
    """customer_conflict: the vault id's customer is not the one whose invoices the payer named."""
    if rows.empty:
        return concat_exceptions([])
    open_refs, index = context.open_refs, context.index
    named = np.flatnonzero(pd.Series(open_refs.transaction_id).isin(rows["transaction_id"]).to_numpy())
    key = open_refs.customer_key[named]
    others = pd.DataFrame({
        "transaction_id": open_refs.transaction_id[named], "invoice_no": open_refs.invoice_no[named],
        "label": _label(index.division(key), index.customer_no(key)),
    }).groupby("transaction_id").agg(invoices=("invoice_no", lambda s: ", ".join(dict.fromkeys(s))),
                                     owners=("label", lambda s: ", ".join(dict.fromkeys(s))))
    rows = rows.join(others, on="transaction_id")
    fields = {"tid": rows["transaction_id"], "vault_id": rows["vault_id"], "invoices": rows["invoices"],
              "label": _label(rows["division"].to_numpy(), rows["customer_no"].to_numpy())}
    return exception_rows(
        "customer_conflict", "error", rows["transaction_id"].to_numpy(),
        source_ids=render("paytrace:{tid} vault:{vault_id} invoice:{invoices}", **fields),
        problem=render("transaction {tid}: vault id {vault_id} belongs to {label} but invoice {invoices} is open for "
                       "{owners}; not posted", **fields, owners=rows["owners"]),
        action=render("Check who paid: if the vault link is wrong, fix it (sage-paytrace link add {vault_id} "
                      "<division>-<customer no> or customer_links in config); if the payer named the wrong invoice, "
                      "enter the receipt by hand for {label}", **fields),
    )


def _by_invoice(payers: _Payers, rows: np.ndarray, context: _Context) -> tuple[_Links, pd.DataFrame]:
    refs, index = context.open_refs, context.index
    candidates = np.flatnonzero(pd.Series(refs.transaction_id).isin(payers.transaction_id[rows]).to_numpy())
    candidates = candidates[np.lexsort((refs.position[candidates], refs.transaction_id[candidates]))]
    tid, key = refs.transaction_id[candidates], refs.customer_key[candidates]
    unique, several = _split_unique(tid, key)
    invoice_no = refs.invoice_no[candidates]
    ambiguous = _ambiguous(tid[several], _label(index.division(key[several]), index.customer_no(key[several])),
                           render("invoice {invoice_no}", invoice_no=invoice_no[several]), "the referenced")
    key = key[unique]
    return (_Links.of(tid[unique], index.division(key), index.customer_no(key), method="invoice_reference",
                      score=100.0, customer_key=key, evidence=invoice_no[unique]), ambiguous)


def _by_email(payers: _Payers, rows: np.ndarray, context: _Context) -> tuple[_Links, pd.DataFrame]:
    email, directory = payers.field("email", rows), context.directory
    with_email = np.flatnonzero(email.present())
    listed = np.flatnonzero(directory.email != "")
    payer_code, directory_code = np.split(pd.factorize(np.concatenate([email.values, directory.email[listed]]))[0],
                                          [len(email.values)])
    payer, customer = join_codes(payer_code[email.codes[with_email]], directory_code)
    customer = listed[customer]
    transaction_id = payers.transaction_id[rows[with_email][payer]]
    address = email.values[email.codes[with_email][payer]]
    unique, several = _split_unique(transaction_id, directory.customer[customer])
    ambiguous = _ambiguous(transaction_id[several], directory.label(customer[several]),
                           render("e-mail {email}", email=address[several]), "the")
    customer = customer[unique]
    division, customer_no = directory.division[customer], directory.customer_no[customer]
    return (_Links.of(transaction_id[unique], division, customer_no, method="email", score=100.0,
                      customer_key=context.directory_key[customer],
                      evidence=address[unique]), ambiguous)


def _by_name_and_zip(payers: _Payers, rows: np.ndarray, context: _Context) -> tuple[_Links, pd.DataFrame]:
    policy, directory = context.policy, context.directory
    name, zip5 = payers.field("billing_name", rows), payers.field("zip5", rows)
    named = np.flatnonzero(name.present() & (zip5.present() | (not policy.fuzzy_requires_zip)))
    payer, customer, score = _near_names(
        name.codes[named], name.values, zip5.values[zip5.codes[named]] if policy.fuzzy_requires_zip else None,
        directory.name, directory.zip5, cutoff=policy.fuzzy_name_threshold - policy.fuzzy_ambiguity_margin)
    transaction_id = payers.transaction_id[rows[named][payer]]
    # per payment the best score first (ties in directory order); a runner-up within the margin is ambiguous
    by_score = np.lexsort((-score, transaction_id))
    by_score = by_score[~pd.DataFrame({"t": transaction_id[by_score], "c": directory.customer[customer[by_score]]})
                        .duplicated().to_numpy()]
    transaction_id, customer, score = transaction_id[by_score], customer[by_score], score[by_score]
    best = np.repeat(score[run_starts(transaction_id)], run_lengths(transaction_id))
    contender = (score >= best - policy.fuzzy_ambiguity_margin) & (best >= policy.fuzzy_name_threshold)
    payer = payer[by_score][contender]
    transaction_id, customer, score = transaction_id[contender], customer[contender], score[contender]
    unique, several = _split_unique(transaction_id, directory.customer[customer])
    billing_name = name.values[name.codes[named][payer]]
    ambiguous = _ambiguous(transaction_id[several], directory.label(customer[several]),
                           render("billing name '{name}' in ZIP {zip5}", name=billing_name[several],
                                  zip5=directory.zip5[customer[several]]), "the")
    customer = customer[unique]
    division, customer_no = directory.division[customer], directory.customer_no[customer]
    return (_Links.of(transaction_id[unique], division, customer_no, method="fuzzy_name_zip",
                      score=score[unique].astype(float),
                      customer_key=context.directory_key[customer],
                      evidence=billing_name[unique], matched_name=directory.name[customer],
                      matched_zip=directory.zip5[customer]), ambiguous)


def _near_names(name_code: np.ndarray, names: np.ndarray, payer_zip: np.ndarray | None, directory_name: np.ndarray,
                directory_zip: np.ndarray, *, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(payer, directory row, score) of every pair whose name score reaches the cutoff, by payer then row.

    Names are compared within a ZIP only (`payer_zip` None: everyone with everyone). Per ZIP, each
    distinct billing name is scored against the ZIP's customers in one rapidfuzz cdist call: the
    ZIP's few customers per name, not one long list of (name, customer) pairs.
    """
    if payer_zip is None:
        payer_block, directory_block = np.zeros(len(name_code), dtype="int64"), np.zeros(len(directory_name), "int64")
    else:
        payer_block, directory_block = np.split(pd.factorize(np.concatenate([payer_zip, directory_zip]))[0],
                                                [len(payer_zip)])
    # each distinct (ZIP, billing name) is scored once; its hits are spread over its payers at the end
    asked, questions = pd.factorize(payer_block * max(len(names), 1) + name_code)
    question_block, question_name = questions // max(len(names), 1), questions % max(len(names), 1)
    hits = []
    for question, customers in _blocks(question_block, directory_block):
        step = max(1, _FUZZY_CELLS // len(customers))
        for start in range(0, len(question), step):
            chunk = question[start:start + step]
            scores = process.cdist(names[question_name[chunk]], directory_name[customers], scorer=fuzz.token_sort_ratio,
                                   processor=utils.default_process, score_cutoff=max(cutoff, 0))
            hit_question, hit_customer = np.nonzero(scores >= cutoff)
            hits.append((chunk[hit_question], customers[hit_customer], scores[hit_question, hit_customer]))
    hits.append((np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")))  # no ZIP met
    hit_question, hit_customer, hit_score = (np.concatenate(parts) for parts in zip(*hits))
    payer, hit = join_codes(asked, hit_question)  # by payer; a question's hits are in directory order
    return payer, hit_customer[hit], hit_score[hit]


def _blocks(left: np.ndarray, right: np.ndarray):
    """(left positions, right positions) of each block code on both sides, positions ascending."""
    left_order, right_order = np.argsort(left, kind="stable"), np.argsort(right, kind="stable")
    codes = np.intersect1d(left, right[right >= 0])
    left_bounds = np.searchsorted(left[left_order], np.r_[codes, codes + 1]).reshape(2, -1).T.tolist()
    right_bounds = np.searchsorted(right[right_order], np.r_[codes, codes + 1]).reshape(2, -1).T.tolist()
    for (left_start, left_end), (right_start, right_end) in zip(left_bounds, right_bounds):
        yield left_order[left_start:left_end], right_order[right_start:right_end]


def _unknown(payers: _Payers, rows: np.ndarray, policy: MatchingPolicy) -> pd.DataFrame:
    name, email, zip5, vault = (payers.field(f, rows).text() for f in ("billing_name", "email", "zip5", "vault_id"))
    transaction_id = payers.transaction_id[rows]
    who = render("name '{name}', e-mail '{email}', ZIP '{zip5}', vault id '{vault_id}'", name=name, email=email,
                 zip5=zip5, vault_id=vault)
    has_vault = vault != ""
    source = render("paytrace:{tid}{vault}", tid=transaction_id,
                    vault=where_text(has_vault, render(" vault:{vault_id}", vault_id=vault[has_vault])))
    if policy.auto_create_customers:
        return exception_rows(
            "customer_to_create", "info", transaction_id, source_ids=source,
            problem=render("transaction {tid}: no Sage customer found for {who}", tid=transaction_id, who=who),
            action=render("A Sage customer is created from the payer ({who}) and the payment posts on the next run",
                          who=who),
        )
    return exception_rows(
        "unknown_customer", "error", transaction_id, source_ids=source,
        problem=render("transaction {tid}: no Sage customer found for {who}; not posted", tid=transaction_id, who=who),
        action=_LINK_ACTION + ", or create the customer in Sage first",
    )

"""One validated configuration: the YAML file (business settings) plus the environment (connections).

A wrong key or value fails at start with the path of the bad key and what is allowed, e.g.
``config/example.yaml: sage.posting: Input should be 'post' or 'entry' (got 'pst')``. Secrets never
live in the YAML file; they come from the environment variables in `ENVIRONMENT`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sage_paytrace_pipeline.banking.csv_format import CsvFormat
from sage_paytrace_pipeline.banking.fee_statement import FeeStatementFormat
from sage_paytrace_pipeline.domain.anomalies.policy import AnomalyPolicy
from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text
from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.settlement.policy import SettlementPolicy
from sage_paytrace_pipeline.domain.suggestions.policy import SuggestionPolicy

# Every variable the pipeline reads, with what it is for (README "Configuration" mirrors this).
ENVIRONMENT = {
    "PAYTRACE_API_URL": "PayTrace base URL (production, PayTrace's sandbox, or this project's sandbox)",
    "PAYTRACE_USERNAME": "PayTrace API user",
    "PAYTRACE_PASSWORD": "PayTrace API password",
    "PAYTRACE_INTEGRATOR_ID": "integrator id sent on every v1 call",
    "SAGE100_DATABASE": "a demo company file, or an ODBC connection string (DSN=...; or Driver=...;)",
    "SAGE_PAYTRACE_WAREHOUSE": "the DuckDB warehouse file",
    "SAGE_PAYTRACE_CONFIG": "this YAML file",
    # Run-failure alerts (the `alerts` section names the variables; these are its defaults).
    "SAGE_PAYTRACE_SMTP_PASSWORD": "password of the SMTP user that sends alert e-mail (alerts.email.password_env)",
    "SAGE_PAYTRACE_SLACK_WEBHOOK_URL": "Slack incoming webhook URL for alerts (alerts.slack.webhook_url_env)",
    "SAGE_PAYTRACE_TEAMS_WEBHOOK_URL": "Microsoft Teams webhook URL for alerts (alerts.teams.webhook_url_env)",
    # Web-store orders (the `store` section names the variables; these are its defaults).
    "SAGE_PAYTRACE_STORE_INBOX_URL": "store inbox database URL (PostgreSQL); unset: the SQLite file store.inbox_file",
    "SAGE_PAYTRACE_WOOCOMMERCE_SECRET": "WooCommerce webhook secret(s), comma-separated during a rotation",
    "SAGE_PAYTRACE_SHOPIFY_SECRET": "Shopify app client secret(s), comma-separated during a rotation",
    "SAGE_PAYTRACE_WOOCOMMERCE_KEY": "WooCommerce REST consumer key:secret for the reconcile poll",
}
REQUIRED_ENVIRONMENT = ("PAYTRACE_API_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "SAGE100_DATABASE",
                        "SAGE_PAYTRACE_WAREHOUSE", "SAGE_PAYTRACE_CONFIG")

_ACCOUNT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,40}$")
_VARIABLE_NAME = r"^[A-Z_][A-Z0-9_]*$"
_EMAIL_ADDRESS = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"

# Card brands (as PayTrace's BIN says) that sage.payment_types may map to a Sage payment type.
PaymentTypeBrand = Literal["VISA", "MASTERCARD", "AMEX", "DISCOVER", "DINERS", "JCB", "UNKNOWN"]
_DEFAULT_PAYMENT_TYPES: dict[PaymentTypeBrand, str] = {"VISA": "VISA", "MASTERCARD": "MC", "AMEX": "AMEX",
                                                       "DISCOVER": "DISC"}


def is_payment_type_brand(brand: str) -> TypeGuard[PaymentTypeBrand]:
    """Whether sage.payment_types can hold `brand` (upper case) as a key."""
    return brand in get_args(PaymentTypeBrand)


class ConfigError(ValueError):
    """A configuration problem, with where it is and how to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MerchantSettings(_Section):
    time_zone: str = "America/Los_Angeles"
    batch_cutoff: str = Field(default="20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    first_business_day: str = Field(default="2026-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like America/Los_Angeles") from None
        return value

    @field_validator("first_business_day")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar date; use YYYY-MM-DD like 2026-01-01") from None
        return value


class SageSettings(_Section):
    division: str = Field(default="01", pattern=r"^\d{2}$")
    bank_code: str = Field(default="A", pattern=r"^[A-Z0-9]$")
    posting: Literal["post", "entry"] = "post"
    # Which writer puts documents into Sage: demo_company (the sandbox's SQLite company) or
    # visual_integrator (import files for a real company); an entry point name (sage100/writers.py).
    writer: str = "demo_company"
    # One deposit per business day and payment type; {date} and {payment_type} are filled in.
    deposit_description: str = Field(default="PAYTRACE {date} {payment_type}", max_length=30)
    # Card brand (as PayTrace's BIN says) -> Sage AR_PaymentType.
    payment_types: dict[PaymentTypeBrand, str] = Field(default_factory=_DEFAULT_PAYMENT_TYPES.copy)
    # Site corrections of table/column names the reference marks uncertain (sage100/schema.py).
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("writer")
    @classmethod
    def _registered_writer(cls, value: str) -> str:
        from sage_paytrace_pipeline.sage100.writers import available_writers

        available = available_writers()
        if value not in available:
            raise ValueError(f"unknown Sage writer {value!r}; available: {', '.join(available) or 'none installed'}")
        return value

    @field_validator("payment_types")
    @classmethod
    def _payment_type_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for brand, code in value.items():
            if not code or len(code) > 5:
                raise ValueError(f"{brand}: Sage payment types are 1-5 characters (got {code!r})")
        return value


class GlAccounts(_Section):
    """Formatted Sage accounts (GL_Account.Account, e.g. 1060-00). Never guessed: a missing or
    inactive one quarantines the entry that needs it."""

    card_clearing: str = "1060-00"
    bank: str = "1010-00"
    ar_control: str = "1200-00"
    merchant_fees: str = "6150-00"
    chargebacks: str = "6160-00"
    refunds: str = "4950-00"
    # Optional: where a deposited batch parks sales that are not receipts in Sage yet (a liability
    # such as "card sales awaiting AR receipts"). Not set: that batch's settlement entry waits.
    unposted_sales: str | None = None
    # What the processor owes: the part of a batch a short deposit did not pay, or a whole deposit
    # missing after its window (README "Short and missing deposits"). None: such an entry waits.
    processor_receivable: str | None = "1260-00"

    @field_validator("*")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError(f"{value!r} is not a Sage account like 1050-00")
        return value


SyncFieldName = Literal["name", "address_line1", "address_line2", "city", "state", "zip_code", "phone", "email"]


class CustomerSyncSettings(_Section):
    """`customers.sync:` vault profiles and Sage customers kept in sync both ways (README "Customer sync").

    Absent: vault profiles are only read to match payments, as before the sync existed.
    """

    # A billing field changed in Sage and in PayTrace since the last sync: which side wins, or
    # `exception` (neither is written; an exception row holds both values).
    conflict: Literal["sage_wins", "paytrace_wins", "exception"] = "sage_wins"
    # A profile linked to an inactive (or deleted) Sage customer: delete it in PayTrace, or keep it
    # and list an exception.
    inactive_customer: Literal["delete_profile", "exception"] = "exception"
    # AR_Customer.UserUpdatedKey of the pipeline's own Sage writes: edits stamped with it are not
    # sent back to PayTrace (no echo).
    integration_user: str = Field(default="PAYTRACE", min_length=1, max_length=10)
    # The billing fields kept in sync (CustomerName <-> billing name, address, phone, e-mail); a
    # field left out keeps each side's own value (e.g. leave out `name` where Sage holds company
    # names and PayTrace cardholders).
    fields: list[SyncFieldName] = Field(default_factory=lambda: list(get_args(SyncFieldName)))


class CustomerPolicy(_Section):
    auto_create: bool = False
    division: str = Field(default="01", pattern=r"^\d{2}$")
    terms_code: str = Field(default="00", max_length=2)
    # The customer/vault sync; absent = off.
    sync: CustomerSyncSettings | None = None


class AutomationSettings(_Section):
    """How often the pipeline looks at PayTrace, and when the daily close runs."""

    # The activity sensor's poll interval (one export call per watched day per tick).
    sensor_interval_seconds: int = Field(default=30, ge=10, le=3600)
    # Days the sensor watches, today included: 2 = today and yesterday (late voids, settlement).
    sensor_lookback_days: int = Field(default=2, ge=1, le=7)
    # The daily close runs this long after the batch cutoff, for the business day that just closed.
    close_delay_minutes: int = Field(default=60, ge=0, le=720)
    # Settlement runs each morning (merchant time) over the days whose deposits may still arrive.
    settlement_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # The bank statement folder sensor's poll interval.
    statement_interval_seconds: int = Field(default=300, ge=10, le=86400)
    # PayTrace unreachable for this many activity-sensor ticks in a row: one alert to the `alerts`
    # channels, then every further failing tick fails in the UI; one more alert when it answers again.
    outage_alert_after_ticks: int = Field(default=3, ge=1, le=100)


class BankSettings(_Section):
    """Where bank statements arrive (BAI2, OFX/QFX, or CSV described by `csv`)."""

    # Relative paths are relative to this config file's folder.
    statement_folder: str = "bank_statements"
    csv: CsvFormat | None = None
    # Monthly discount: the processor's monthly fee statements (CSV, one file per month) land here.
    fee_statement_folder: str = "fee_statements"
    # Their layout; the default is the sandbox processor's (Month, Card Brand, Description, Amount).
    fee_statement_csv: FeeStatementFormat | None = FeeStatementFormat()
    # The month's fee debit arrives on this business day of the next month; missing 5 business days
    # later, it is an error (a warning before).
    fee_debit_business_day: int = Field(default=3, ge=1, le=20)


class EmailAlerts(_Section):
    """Alert e-mail through an SMTP server; the password comes from the variable `password_env` names."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # starttls (usually port 587), ssl (implicit TLS, usually 465), or none (a relay on a trusted network).
    security: Literal["starttls", "ssl", "none"] = "starttls"
    from_address: str = Field(alias="from", pattern=_EMAIL_ADDRESS)
    to: list[Annotated[str, Field(pattern=_EMAIL_ADDRESS)]] = Field(min_length=1)
    user: str | None = None
    password_env: str = Field(default="SAGE_PAYTRACE_SMTP_PASSWORD", pattern=_VARIABLE_NAME)
    timeout_seconds: float = Field(default=15, gt=0, le=60)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> EmailAlerts:
        if self.user and self.security == "none":
            raise ValueError("security: none would send the SMTP password in clear; use starttls or ssl "
                             "(or drop `user` for a relay that needs no login)")
        return self


class WebhookAlerts(_Section):
    """A Slack or Microsoft Teams incoming webhook; the URL is a secret, so only its variable is named here."""

    webhook_url_env: str = Field(pattern=_VARIABLE_NAME)
    timeout_seconds: float = Field(default=10, gt=0, le=30)


class AlertSettings(_Section):
    """Run-failure alerts: one sensor per configured channel, for every job of the code location."""

    # How often each alert sensor looks for failed runs.
    minimum_interval_seconds: int = Field(default=30, ge=10, le=3600)
    # Where the Dagster UI is served, for a link to the failed run (e.g. http://dagster.example.com:3000).
    webserver_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    email: EmailAlerts | None = None
    slack: WebhookAlerts | None = None
    teams: WebhookAlerts | None = None

    @field_validator("slack", "teams", mode="before")
    @classmethod
    def _default_webhook_variable(cls, value: Any, info: ValidationInfo) -> Any:
        """`slack: {}` reads SAGE_PAYTRACE_SLACK_WEBHOOK_URL (and likewise for teams)."""
        if isinstance(value, Mapping) and "webhook_url_env" not in value:
            assert info.field_name is not None  # a field validator is always told its field
            return {**value, "webhook_url_env": f"SAGE_PAYTRACE_{info.field_name.upper()}_WEBHOOK_URL"}
        return value

    @model_validator(mode="after")
    def _some_channel(self) -> AlertSettings:
        if not (self.email or self.slack or self.teams):
            raise ValueError("configure at least one channel (email, slack or teams), or remove the section")
        return self


class RefundSettings(_Section):
    """`refunds:` the refund and void flow, both directions (README "Refunds and voids").

    Absent: refunds stay `refund_not_posted` exceptions and the settlement entry expenses them, as
    before this flow existed.
    """

    # PayTrace refunds and voids created before this business day keep the old treatment (the
    # settlement entry expensed them): days posted before the flow was turned on are not rewritten.
    start_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    # Sage-initiated refunds up to this amount are approved without a person; 0: every one needs one.
    # The credit memo's amount, in the Sage company's currency (currency.sage), also under a conversion.
    auto_approve_up_to: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=12, decimal_places=2)
    # Show what would be sent to PayTrace and send nothing.
    dry_run: bool = False
    # How a clerk asks for a card refund in Sage: a credit memo applied to the invoice a PayTrace
    # receipt paid, with one of the card payment types (sage.payment_types) as its PaymentType, as
    # Sage's own card integration marks a memo to be credited to the card. `none`: no Sage memo is
    # ever sent to PayTrace (only the PayTrace -> Sage direction runs). Under a currency conversion the
    # memo is sent in PayTrace's currency at the rate the sale's receipt recorded (README "Currencies").
    request_marker: Literal["card_payment_type", "none"] = "card_payment_type"
    # GL account the credit memos the pipeline writes for PayTrace-side refunds debit (sales
    # returns); default gl_accounts.refunds.
    credit_memo_account: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")

    @field_validator("auto_approve_up_to", mode="before")
    @classmethod
    def _exact_amount(cls, value: Any) -> Any:
        # YAML reads 250.50 as a float; its shortest repr is the text that was written, so the
        # amount stays exact (a value with more than two decimals is still refused).
        return Decimal(repr(value)) if isinstance(value, float) else value


class StoreSettings(_Section):
    """`store:` web-store orders into Sage (README "Web-store orders"); absent: off."""

    # The inbox: a PostgreSQL URL in this variable, else the SQLite file (relative to the config file).
    inbox_url_env: str = Field(default="SAGE_PAYTRACE_STORE_INBOX_URL", pattern=_VARIABLE_NAME)
    inbox_file: str = "store-inbox.sqlite"
    woocommerce_secret_env: str = Field(default="SAGE_PAYTRACE_WOOCOMMERCE_SECRET", pattern=_VARIABLE_NAME)
    shopify_secret_env: str = Field(default="SAGE_PAYTRACE_SHOPIFY_SECRET", pattern=_VARIABLE_NAME)
    # The reconcile poll: the store's base URL (GET {rest_url}/wp-json/wc/v3/orders) and its key.
    rest_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    rest_key_env: str = Field(default="SAGE_PAYTRACE_WOOCOMMERCE_KEY", pattern=_VARIABLE_NAME)
    # Customers: match by e-mail + billing ZIP, else create one (`create`) or use the catch-all.
    unknown_customers: Literal["create", "catch_all"] = "create"
    catch_all_customer: str | None = Field(default=None, pattern=r"^\d{2}-[A-Z0-9]{1,20}$")
    warehouse: str = Field(default="000", pattern=r"^[A-Z0-9]{3}$")
    # Sage miscellaneous items the store's shipping, sales tax and fees (WooCommerce fee_lines) are
    # posted to; a negative fee (a discount) goes to discount_item as a negative line.
    shipping_item: str = Field(default="/FREIGHT", max_length=30)
    tax_item: str = Field(default="/TAX", max_length=30)
    fee_item: str = Field(default="/FEE", max_length=30)
    discount_item: str = Field(default="/DISCOUNT", max_length=30)
    # A PayTrace sale naming a store order whose Sage invoice does not exist yet waits this long
    # before it becomes an exception.
    receipt_grace_minutes: int = Field(default=30, ge=0, le=1440)
    sensor_interval_seconds: int = Field(default=30, ge=5, le=3600)

    @model_validator(mode="after")
    def _catch_all_named(self) -> StoreSettings:
        if self.unknown_customers == "catch_all" and not self.catch_all_customer:
            raise ValueError("unknown_customers is catch_all: name the catch_all_customer as DIVISION-CUSTOMERNO")
        return self


ConsoleRole = Literal["viewer", "clerk", "approver", "admin"]


class ConsoleUser(_Section):
    """One console user: a role and an argon2 hash (`sage-paytrace console hash-password`), never a password.

    No hash: the user can only come in through the trusted reverse-proxy header."""

    role: ConsoleRole
    password_hash: str | None = Field(default=None, pattern=r"^\$argon2(id|i|d)\$")


class ConsoleSettings(_Section):
    """`console:` the operations console (README "The operations console")."""

    users: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")], ConsoleUser] = Field(min_length=1)
    # The variable holding the key that signs session cookies (32+ characters; never in this file).
    secret_key_env: str = Field(default="SAGE_PAYTRACE_CONSOLE_SECRET", pattern=_VARIABLE_NAME)
    # The variable holding the SQLAlchemy URL of the decisions store (postgresql://... in production);
    # unset: a SQLite file beside the warehouse.
    database_url_env: str = Field(default="SAGE_PAYTRACE_CONSOLE_DATABASE", pattern=_VARIABLE_NAME)
    session_minutes: int = Field(default=480, ge=5, le=24 * 60)
    # Cookies only over HTTPS; turn off only for a console on localhost.
    secure_cookies: bool = True
    # A reverse proxy that authenticates users may name them in this header; trusted only from
    # `trusted_proxies` (the user must still be listed here, for the role).
    trusted_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    trusted_proxies: list[str] = Field(default_factory=list)
    # Failed log-ins per user and address within login_window_seconds before further tries are refused.
    login_attempts: int = Field(default=5, ge=1, le=100)
    login_window_seconds: int = Field(default=300, ge=10, le=86400)
    # The Dagster webserver "Re-run the day" launches runs on (its GraphQL API); unset: no re-run button.
    dagster_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")

    @model_validator(mode="after")
    def _proxy_header_needs_proxies(self) -> ConsoleSettings:
        if self.trusted_header and not self.trusted_proxies:
            raise ValueError("trusted_header needs trusted_proxies: the addresses of the proxy that sets it "
                             "(anyone else could send the header)")
        return self
class DisputeSettings(_Section):
    """`disputes:` chargeback cases from the processor's dispute report (README "Chargebacks").

    Absent: no report is read; netted chargebacks stay lines of the settlement entries.
    """

    # Where the processor's dispute reports (CSV) are dropped; relative to this config file's folder.
    report_folder: str = "dispute_reports"
    csv: DisputeReportFormat = DisputeReportFormat()
    # Where a case is kept once the processor took the money: a receivable (open chargebacks on
    # the balance sheet) or an expense. Default gl_accounts.chargebacks, where the settlement entries
    # book the processor's chargeback debits: then only the fee is posted per case (and, under a currency
    # conversion, what the sale's rate and the case day's leave on it, against the exchange difference account).
    chargeback_account: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    # Re-open the customer's invoice in Sage when a chargeback takes the money (the card receipt
    # reversed, Sage KB 223924250030110) and apply it again when the case is won; the chargeback then
    # moves through card clearing instead of chargeback_account (README "Chargebacks").
    reopen_invoice: bool = False
    # The processor's case fee (expense); default gl_accounts.merchant_fees.
    fee_account: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    # With a receivable chargeback_account: where a lost or accepted case goes (bad debt / sales
    # returns). None: it stays in chargeback_account.
    loss_account: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    # The fee per chargeback when the report prints none, in PayTrace's currency like the report's amounts
    # (under a `currency` conversion booked at the case day's rate, README "Currencies").
    case_fee: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=12, decimal_places=2)
    # The alert channels warn this many days before a case's merchant due date (and on a new case).
    warn_days_before_due: int = Field(default=5, ge=0, le=60)
    # The folder sensor's poll interval.
    report_interval_seconds: int = Field(default=300, ge=10, le=86400)

    @field_validator("case_fee", mode="before")
    @classmethod
    def _exact_amount(cls, value: Any) -> Any:
        return Decimal(repr(value)) if isinstance(value, float) else value


class CurrencySettings(_Section):
    """`currency:` PayTrace's currency and the Sage company's (README "Currencies"). The same (the
    default): nothing is converted. Different: amounts are converted with the rates file's rate of
    each business day; a day without a usable rate is an exception, never a guess."""

    paytrace: str = Field(default="USD", pattern=r"^[A-Z]{3}$")  # ISO 4217 code of the merchant account
    sage: str = Field(default="USD", pattern=r"^[A-Z]{3}$")  # ISO 4217 code of the Sage company
    # CSV `date,rate`: units of the Sage currency per 1 unit of the PayTrace currency, one row per
    # published day (relative to this config file's folder).
    rates_file: str | None = None
    # A business day takes the latest rate on or before it, at most this many days older (weekends, holidays).
    max_rate_age_days: int = Field(default=4, ge=0, le=31)
    # Realized exchange differences of the settlement entries (gain or loss on the deposit) and of the
    # dispute entries (what the processor moved against the sale's value at its recorded rate).
    exchange_difference_account: str | None = None

    @field_validator("exchange_difference_account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError(f"{value!r} is not a Sage account like 7950-00")
        return value

    @property
    def converts(self) -> bool:
        return self.paytrace != self.sage

    @model_validator(mode="after")
    def _conversion_needs(self) -> CurrencySettings:
        if self.converts:
            missing = [key for key in ("rates_file", "exchange_difference_account") if getattr(self, key) is None]
            if missing:
                raise ValueError(f"PayTrace pays in {self.paytrace} and Sage books in {self.sage}: set "
                                 + " and ".join(missing) + " (README \"Currencies\")")
        return self


class PipelineConfig(_Section):
    merchant: MerchantSettings = MerchantSettings()
    sage: SageSettings = SageSettings()
    gl_accounts: GlAccounts = GlAccounts()
    customers: CustomerPolicy = CustomerPolicy()
    automation: AutomationSettings = AutomationSettings()
    # Settlement reconciliation; absent = not configured (the discount method must be chosen).
    settlement: SettlementPolicy | None = None
    bank: BankSettings = BankSettings()
    # Matching thresholds and tolerances; `customers.auto_create` decides auto_create_customers.
    matching: MatchingPolicy = MatchingPolicy()
    # Operator-made links: PayTrace vault customer id -> "DIVISION-CUSTOMERNO".
    customer_links: dict[str, str] = Field(default_factory=dict)
    # Run-failure alerts; absent = no alert sensors.
    alerts: AlertSettings | None = None
    # The refund and void flow; absent = refunds are exceptions and expensed by settlement.
    refunds: RefundSettings | None = None
    # Web-store orders into Sage; absent = off.
    store: StoreSettings | None = None
    # The operations console; absent = `sage-paytrace console serve` refuses to start.
    console: ConsoleSettings | None = None
    # Chargeback cases from the processor's dispute report; absent = off.
    disputes: DisputeSettings | None = None
    # Anomaly rules (flags are warnings; `hold_from_posting` makes a rule's flags hold the payment).
    anomalies: AnomalyPolicy = AnomalyPolicy()
    # How exceptions' candidates are ranked (README "Anomalies and suggestions").
    suggestions: SuggestionPolicy = SuggestionPolicy()
    # PayTrace's and Sage's currencies; the same (default): no conversion.
    currency: CurrencySettings = CurrencySettings()

    @field_validator("matching", mode="before")
    @classmethod
    def _no_second_switch(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "auto_create_customers" in value:
            raise ValueError("set customers.auto_create instead (one switch for creating Sage customers)")
        if isinstance(value, Mapping) and "refund_flow" in value:
            raise ValueError("add the `refunds` section instead (one switch for the refund and void flow)")
        return value

    def settlement_policy(self) -> SettlementPolicy:
        if self.settlement is None:
            raise ConfigError("settlement.discount_method: not configured; choose daily (fees deducted from each "
                              "deposit) or monthly (fees debited once a month), as your merchant statement shows")
        return self.settlement

    @field_validator("anomalies", mode="before")
    @classmethod
    def _one_time_zone(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "time_zone" in value:
            raise ValueError("set merchant.time_zone instead (one time zone for the merchant)")
        return value

    def anomaly_policy(self) -> AnomalyPolicy:
        """The anomaly rules in the merchant's time zone."""
        return self.anomalies.model_copy(update={"time_zone": self.merchant.time_zone})

    def matching_policy(self) -> MatchingPolicy:
        """The matching knobs with the customer policy and the refund flow's switch folded in."""
        return self.matching.model_copy(update={"auto_create_customers": self.customers.auto_create,
                                                "refund_flow": self.refunds is not None})

    @field_validator("customer_links")
    @classmethod
    def _links(cls, value: dict[str, str]) -> dict[str, str]:
        for vault_id, target in value.items():
            if not re.fullmatch(r"\d{2}-[A-Z0-9]{1,20}", target):
                raise ValueError(f"{vault_id}: link to a Sage customer as DIVISION-CUSTOMERNO like 01-ABF "
                                 f"(got {target!r})")
        return value


def statement_folder(config: PipelineConfig, config_path: str | os.PathLike) -> Path:
    folder = Path(config.bank.statement_folder).expanduser()
    return folder if folder.is_absolute() else Path(config_path).resolve().parent / folder


def rates_file(config: PipelineConfig, config_path: str | os.PathLike) -> Path | None:
    """The exchange rates file (currency.rates_file, relative to the config file); None without conversion."""
    if not config.currency.converts or config.currency.rates_file is None:
        return None
    path = Path(config.currency.rates_file).expanduser()
    return path if path.is_absolute() else Path(config_path).resolve().parent / path


def fee_statement_folder(config: PipelineConfig, config_path: str | os.PathLike) -> Path:
    folder = Path(config.bank.fee_statement_folder).expanduser()
    return folder if folder.is_absolute() else Path(config_path).resolve().parent / folder


def dispute_report_folder(config: PipelineConfig, config_path: str | os.PathLike) -> Path | None:
    if config.disputes is None:
        return None
    folder = Path(config.disputes.report_folder).expanduser()
    return folder if folder.is_absolute() else Path(config_path).resolve().parent / folder


def load_config(path: str | os.PathLike) -> PipelineConfig:
    """Read and validate the YAML file; every problem is reported with its key path."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"{source}: configuration file not found (set SAGE_PAYTRACE_CONFIG to its path)")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections (merchant, sage, gl_accounts, ...)")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None


def _describe(source: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against config/example.yaml)"
        problems.append(f"{source}: {path}: {mask_card_numbers_in_text(message)}")
    return "\n".join(problems)


DEBUG_VARIABLE = "SAGE_PAYTRACE_DEBUG"


def debugging(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the operator asked for tracebacks with the one-line errors (SAGE_PAYTRACE_DEBUG=1)."""
    value = (os.environ if environ is None else environ).get(DEBUG_VARIABLE, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def warehouse_file() -> Path:
    """The DuckDB warehouse file the pipeline and the operator commands share (SAGE_PAYTRACE_WAREHOUSE)."""
    return Path(os.environ.get("SAGE_PAYTRACE_WAREHOUSE", ".sage_paytrace/warehouse.duckdb"))


def console_database_url(settings: ConsoleSettings, warehouse: Path,
                         environ: Mapping[str, str] | None = None) -> str:
    """The console's decisions store (SQLAlchemy URL): console.database_url_env, else a SQLite file
    beside the warehouse. The console writes it; the pipeline's runs read its decisions."""
    environ = os.environ if environ is None else environ
    return environ.get(settings.database_url_env) or f"sqlite:///{warehouse.parent / 'console.sqlite3'}"


def require_environment(environ: Mapping[str, str] | None = None,
                        names: tuple[str, ...] = REQUIRED_ENVIRONMENT) -> dict[str, str]:
    """The required variables, or one error naming every missing one and what it is for."""
    environ = os.environ if environ is None else environ
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ConfigError(missing_environment(missing))
    return {name: environ[name] for name in names}


def missing_environment(names: Sequence[str]) -> str:
    """One line naming each missing variable and what to set it to."""
    return "missing environment variables: " + "; ".join(f"{name} ({ENVIRONMENT[name]})" for name in names)


def add_customer_link(path: str | os.PathLike, vault_id: str, target: str, *,
                      replace: bool = False) -> PipelineConfig:
    """Record an operator's link (PayTrace vault id -> "DIVISION-CUSTOMERNO") in the YAML file.

    A vault id already linked to another customer is refused unless `replace`: a link decides
    where money posts, so changing one is a deliberate act, never a side effect of a typo.
    The file is edited as text so its comments survive; the result is validated before it replaces
    the file (atomically), so a typo never leaves a broken config behind.
    """
    source = Path(path)
    current = load_config(source)
    target = target.strip().upper()
    vault_id = _vault_id(vault_id)
    existing = current.customer_links.get(vault_id)
    if existing is not None and existing != target and not replace:
        raise ConfigError(f"{source}: customer_links: {vault_id} is already linked to {existing}; "
                          f"pass --replace to link it to {target} instead")
    return _write_links(source, {**current.customer_links, vault_id: target})


def remove_customer_link(path: str | os.PathLike, vault_id: str) -> str:
    """Remove an operator's link; returns the customer it pointed to (an unknown id is an error)."""
    source = Path(path)
    current = load_config(source)
    vault_id = _vault_id(vault_id)
    if vault_id not in current.customer_links:
        raise ConfigError(f"{source}: customer_links: no link for {vault_id} (`sage-paytrace link list` shows them)")
    links = dict(current.customer_links)
    removed = links.pop(vault_id)
    _write_links(source, links)
    return removed


def _vault_id(text: str) -> str:
    vault_id = text.strip()
    if not vault_id or '"' in vault_id or "\n" in vault_id:
        raise ConfigError(f"{text!r} is not a PayTrace vault customer id")
    return vault_id


def _write_links(source: Path, links: Mapping[str, str]) -> PipelineConfig:
    """Rewrite the `customer_links` block of the file, validated before it replaces the file."""
    block = "customer_links:" + ("".join(f'\n  "{key}": "{value}"' for key, value in sorted(links.items()))
                                 if links else " {}") + "\n"
    text = source.read_text(encoding="utf-8")
    section = re.search(r"^customer_links:.*(?:\n(?:[ \t]+.*|[ \t]*#.*|[ \t]*))*", text, flags=re.MULTILINE)
    updated = (text[:section.start()] + block + text[section.end():].lstrip("\n")) if section else (
        text.rstrip("\n") + "\n\n" + block)
    candidate = source.with_name(source.name + ".new")
    candidate.write_text(updated, encoding="utf-8")
    try:
        config = load_config(candidate)
    except ConfigError as error:
        candidate.unlink()
        raise ConfigError(str(error).replace(str(candidate), str(source))) from None
    candidate.replace(source)
    return config

"""Where alerts go: e-mail over SMTP, a Slack incoming webhook, a Microsoft Teams webhook.

Secrets (the SMTP password, the webhook URLs: a webhook URL is its own credential) are read from
the environment when an alert is sent, never from the YAML file, and never appear in an error:
every failure is re-raised as `AlertDeliveryError` with the URL left out and the text redacted.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx
import requests
from dagster_msteams.adaptive_card import AdaptiveCard
from dagster_msteams.card import Card
from dagster_msteams.client import TeamsClient

from sage_paytrace_pipeline.config import EmailAlerts, WebhookAlerts
from sage_paytrace_pipeline.defs.alerts.message import AlertMessage, redact

# A sensor tick must end within Dagster's 60 s evaluation timeout: three short tries at most.
ATTEMPTS = 3
RETRY_DELAY_SECONDS = 1.0


class AlertDeliveryError(RuntimeError):
    """An alert could not be delivered; the message names the channel, never its secret."""


def secret_from(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise AlertDeliveryError(f"{what}: environment variable {variable} is not set")
    return value


def with_retries(send: Callable[[], None]) -> None:
    """Try a delivery a few times: mail relays and webhooks have brief outages too."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send()
            return
        except AlertDeliveryError:
            if attempt == ATTEMPTS:
                raise
            time.sleep(RETRY_DELAY_SECONDS * attempt)


@dataclass(frozen=True)
class EmailChannel:
    settings: EmailAlerts
    name: str = "email"

    @property
    def secret_variables(self) -> tuple[str, ...]:
        return (self.settings.password_env,) if self.settings.user else ()

    def compose(self, message: AlertMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.settings.from_address
        mail["To"] = ", ".join(self.settings.to)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain=self.settings.from_address.rsplit("@", 1)[-1])
        mail.set_content(message.text + "\n")
        return mail

    def send(self, message: AlertMessage) -> None:
        mail = self.compose(message)
        password = secret_from(self.settings.password_env, "alerts.email") if self.settings.user else None
        with_retries(lambda: self._deliver(mail, password))

    def _deliver(self, mail: EmailMessage, password: str | None) -> None:
        where = f"SMTP {self.settings.host}:{self.settings.port}"
        try:
            with self._connect() as smtp:
                if self.settings.user:
                    smtp.login(self.settings.user, password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            raise AlertDeliveryError(f"alerts.email: {where}: {type(error).__name__}: "
                                     f"{redact(str(error), self.secret_variables)}") from None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.security == "ssl":
            return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds,
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        if settings.security == "starttls":
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp


@dataclass(frozen=True)
class SlackChannel:
    """A Slack incoming webhook (https://api.slack.com/messaging/webhooks): POST {"text": ...}."""

    settings: WebhookAlerts
    name: str = "slack"

    @property
    def secret_variables(self) -> tuple[str, ...]:
        return (self.settings.webhook_url_env,)

    def send(self, message: AlertMessage) -> None:
        url = secret_from(self.settings.webhook_url_env, "alerts.slack")
        # Slack's mrkdwn: the subject in bold, the details as a code block so ids are not reformatted.
        body = {"text": f"*{message.subject}*\n```{message.text}```"}
        with_retries(lambda: self._post(url, body))

    def _post(self, url: str, body: dict) -> None:
        try:
            response = httpx.post(url, json=body, timeout=self.settings.timeout_seconds)
        except httpx.HTTPError as error:
            raise AlertDeliveryError(f"alerts.slack: webhook ({self.settings.webhook_url_env}) unreachable: "
                                     f"{type(error).__name__}") from None
        if response.status_code != 200:
            raise AlertDeliveryError(f"alerts.slack: webhook ({self.settings.webhook_url_env}) answered HTTP "
                                     f"{response.status_code}: {redact(response.text[:200], self.secret_variables)}")


@dataclass(frozen=True)
class TeamsChannel:
    """A Microsoft Teams webhook, through dagster-msteams: a Workflows (Power Automate) URL gets an
    Adaptive Card, a legacy Office 365 connector URL (*.webhook.office.com) a Hero card."""

    settings: WebhookAlerts
    name: str = "teams"

    @property
    def secret_variables(self) -> tuple[str, ...]:
        return (self.settings.webhook_url_env,)

    def send(self, message: AlertMessage) -> None:
        client = TeamsClient(hook_url=secret_from(self.settings.webhook_url_env, "alerts.teams"),
                             timeout=self.settings.timeout_seconds)
        card = Card() if client.is_legacy_webhook() else AdaptiveCard()
        card.add_attachment(f"**{message.subject}**\n\n" + "\n\n".join(message.lines))
        with_retries(lambda: self._post(client, card.payload))

    def _post(self, client: TeamsClient, payload: dict) -> None:
        try:
            client.post_message(payload)
        except requests.RequestException as error:
            # requests' messages quote the URL; it is redacted along with any other secret.
            raise AlertDeliveryError(f"alerts.teams: webhook ({self.settings.webhook_url_env}) failed: "
                                     f"{type(error).__name__}: "
                                     f"{redact(str(error)[:200], self.secret_variables)}") from None

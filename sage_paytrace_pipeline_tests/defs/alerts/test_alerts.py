"""Run-failure alerts reach a real SMTP server and real HTTP webhooks, saying what failed, scrubbed.

Each test fails a real run on a real (temporary) Dagster instance, then evaluates the alert
sensor on that run's failure, as the daemon would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from sage_paytrace_pipeline.config import AlertSettings
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.alerts import channels
from sage_paytrace_pipeline.defs.alerts.channels import AlertDeliveryError
from sage_paytrace_pipeline.defs.alerts.sensors import build_alert_sensors
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline_tests.defs.alerts.receivers import (
    self_signed_certificate,
    smtp_receiver,
    webhook_receiver,
)

DAY = "2026-03-02"
PAN = "4012000098765439"
PAYTRACE_PASSWORD = "paytrace-pass-1234"
SMTP_PASSWORD = "smtp-pass-5678"


@dg.asset(partitions_def=business_day_partitions(load_time_config()))
def paytrace_transactions_probe() -> None:
    """Fails like a careless client library would: card number and credentials in the message."""
    raise RuntimeError(f"export refused for card {PAN} (user demo_api, secret {PAYTRACE_PASSWORD}, "
                       "Authorization: Bearer tok.en.value)")


@dataclass(frozen=True)
class FailedRun:
    instance: dg.DagsterInstance
    run: dg.DagsterRun
    failure: dg.DagsterEvent

    def alert(self, sensor: dg.SensorDefinition) -> None:
        context = dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=self.failure,
                                                     dagster_instance=self.instance, dagster_run=self.run)
        sensor(context.for_run_failure())


@pytest.fixture
def failed_run(monkeypatch) -> Iterator[FailedRun]:
    monkeypatch.setenv("PAYTRACE_PASSWORD", PAYTRACE_PASSWORD)
    monkeypatch.setattr(channels, "RETRY_DELAY_SECONDS", 0.0)
    with dg.instance_for_test() as instance:
        result = dg.materialize([paytrace_transactions_probe], partition_key=DAY, instance=instance,
                                raise_on_error=False)
        assert not result.success
        failure = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        yield FailedRun(instance, instance.get_run_by_id(result.run_id), failure[0].event_log_entry.dagster_event)


def only_sensor(alerts: dict) -> dg.SensorDefinition:
    """The run-failure sensor of the one channel configured (its failed-check sensor is tested with the
    bank statement checks, defs/settlement/test_bad_statement_files.py)."""
    (sensor,) = [sensor for sensor in build_alert_sensors(AlertSettings.model_validate(alerts))
                 if sensor.name.startswith("run_failure_")]
    return sensor


def assert_says_what_failed(text: str, run: dg.DagsterRun) -> None:
    for expected in (f"Job: {run.job_name}", f"Run: {run.run_id}", f"Partition: {DAY}",
                     "Failed step: paytrace_transactions_probe: RuntimeError: export refused for card",
                     "xxxxxxxxxxxx5439", "Run failure:"):
        assert expected in text
    for secret in (PAN, PAYTRACE_PASSWORD, SMTP_PASSWORD, "tok.en.value"):
        assert secret not in text


def test_email_alert_through_a_relay(failed_run):
    with smtp_receiver() as smtp:
        sensor = only_sensor({"email": {"host": smtp.host, "port": smtp.port, "security": "none",
                                        "from": "dagster@example.com", "to": ["ar@example.com", "it@example.com"]},
                              "webserver_base_url": "http://dagster.example.com:3000"})
        failed_run.alert(sensor)
    (mail,) = smtp.mails
    assert mail.sender == "dagster@example.com" and mail.recipients == ["ar@example.com", "it@example.com"]
    assert mail.message["Subject"] == f"[sage-paytrace] {failed_run.run.job_name} failed for {DAY}"
    body = mail.message.get_content()
    assert_says_what_failed(body, failed_run.run)
    assert f"Open: http://dagster.example.com:3000/runs/{failed_run.run.run_id}" in body


def test_email_alert_over_starttls_with_a_login(failed_run, tmp_path, monkeypatch):
    certificate = self_signed_certificate(tmp_path)
    if certificate is None:
        pytest.skip("the openssl CLI is needed to make the test server's certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test server, as a real CA would be
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", SMTP_PASSWORD)
    with smtp_receiver(tls=certificate, credentials=("alerts@example.com", SMTP_PASSWORD)) as smtp:
        sensor = only_sensor({"email": {"host": smtp.host, "port": smtp.port, "security": "starttls",
                                        "from": "alerts@example.com", "to": ["ar@example.com"],
                                        "user": "alerts@example.com", "password_env": "ALERT_SMTP_PASSWORD"}})
        failed_run.alert(sensor)
    (mail,) = smtp.mails
    assert mail.login == "alerts@example.com"
    assert_says_what_failed(mail.message.get_content(), failed_run.run)


def test_a_wrong_smtp_password_fails_without_showing_it(failed_run, tmp_path, monkeypatch):
    certificate = self_signed_certificate(tmp_path)
    if certificate is None:
        pytest.skip("the openssl CLI is needed to make the test server's certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.setenv("SAGE_PAYTRACE_SMTP_PASSWORD", "not-" + SMTP_PASSWORD)
    with smtp_receiver(tls=certificate, credentials=("alerts@example.com", SMTP_PASSWORD)) as smtp:
        sensor = only_sensor({"email": {"host": smtp.host, "port": smtp.port, "from": "alerts@example.com",
                                        "to": ["ar@example.com"], "user": "alerts@example.com"}})
        with pytest.raises(AlertDeliveryError) as caught:
            failed_run.alert(sensor)
    assert "SMTPAuthenticationError" in str(caught.value) and SMTP_PASSWORD not in str(caught.value)
    assert smtp.mails == []


def test_slack_alert_posts_to_the_incoming_webhook(failed_run, monkeypatch):
    with webhook_receiver("/services/T000/B000/XXXXSECRET") as slack:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        failed_run.alert(only_sensor({"slack": {}}))
    (post,) = slack.posts
    assert post["path"] == "/services/T000/B000/XXXXSECRET" and post["content_type"] == "application/json"
    text = post["json"]["text"]
    assert text.startswith(f"*[sage-paytrace] {failed_run.run.job_name} failed for {DAY}*")
    assert_says_what_failed(text, failed_run.run)


def test_teams_alert_posts_an_adaptive_card(failed_run, monkeypatch):
    with webhook_receiver("/workflows/alerts/triggers/manual/paths/invoke?sig=SIGSECRET") as teams:
        teams.status, teams.reply = 202, ""
        monkeypatch.setenv("TEAMS_URL", teams.url)
        failed_run.alert(only_sensor({"teams": {"webhook_url_env": "TEAMS_URL"}}))
    (post,) = teams.posts
    (attachment,) = post["json"]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    text = "\n".join(block["text"] for block in attachment["content"]["body"])
    assert_says_what_failed(text, failed_run.run)


def test_a_failing_webhook_is_retried_then_named_without_its_url(failed_run, monkeypatch):
    with webhook_receiver("/services/T000/B000/XXXXSECRET") as slack:
        slack.status, slack.reply = 500, "internal_error"
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        with pytest.raises(AlertDeliveryError) as caught:
            failed_run.alert(only_sensor({"slack": {}}))
    assert len(slack.posts) == channels.ATTEMPTS
    message = str(caught.value)
    assert "SAGE_PAYTRACE_SLACK_WEBHOOK_URL" in message and "HTTP 500" in message
    assert "XXXXSECRET" not in message and slack.url not in message


def test_a_missing_webhook_variable_is_named(failed_run, monkeypatch):
    monkeypatch.delenv("SAGE_PAYTRACE_TEAMS_WEBHOOK_URL", raising=False)
    with pytest.raises(AlertDeliveryError, match="SAGE_PAYTRACE_TEAMS_WEBHOOK_URL is not set"):
        failed_run.alert(only_sensor({"teams": {}}))


def test_without_an_alerts_section_there_is_no_alert_sensor():
    assert build_alert_sensors(None) == []
    assert not [sensor for sensor in defs().sensors if "alert" in sensor.name]


def test_each_configured_channel_is_a_running_sensor_that_loads():
    sensors = build_alert_sensors(AlertSettings.model_validate(
        {"email": {"host": "smtp.example.com", "from": "a@example.com", "to": ["b@example.com"]},
         "slack": {}, "teams": {}, "minimum_interval_seconds": 60}))
    assert [sensor.name for sensor in sensors] == ["run_failure_email_alert", "run_failure_slack_alert",
                                                   "run_failure_teams_alert", "failed_check_email_alert",
                                                   "failed_check_slack_alert", "failed_check_teams_alert"]
    assert all(sensor.default_status == dg.DefaultSensorStatus.RUNNING and sensor.minimum_interval_seconds == 60
               for sensor in sensors)
    dg.Definitions.validate_loadable(dg.Definitions.merge(defs(), dg.Definitions(sensors=sensors)))


def test_the_alert_channel_is_alerted_of_no_secret_it_holds(failed_run, monkeypatch):
    # A webhook URL that leaks into an error (a proxy echoing it) is redacted by value.
    with webhook_receiver("/services/T000/B000/XXXXSECRET") as slack:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        slack.status, slack.reply = 400, f"invalid_payload for {slack.url}"
        with pytest.raises(AlertDeliveryError) as caught:
            failed_run.alert(only_sensor({"slack": {}}))
    assert "XXXXSECRET" not in str(caught.value) and "[FILTERED]" in str(caught.value)

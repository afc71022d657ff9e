"""PayTrace down is loud in the activity sensor: counted in the cursor, one alert, failed ticks, one recovery alert.

Real sockets: a loopback port nobody listens on, a `.invalid` host, a local webhook receiver for the
Slack channel, and the sandbox for the recovery.
"""

from __future__ import annotations

import json
import socket

import dagster as dg
import pytest

from sage_paytrace_pipeline.config import AlertSettings
from sage_paytrace_pipeline.defs.alerts import channels
from sage_paytrace_pipeline.defs.automation.outage import OutageWatch, PayTraceOutage, read_outage
from sage_paytrace_pipeline.defs.automation.sensors import build_paytrace_activity_sensor
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.paytrace.errors import PayTraceUnreachable
from sage_paytrace_pipeline_tests.defs.alerts.receivers import webhook_receiver

SECRET = "sensor-secret-4242"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sensor_with(alerts: dict | None, after: int = 3) -> dg.SensorDefinition:
    config = load_time_config()
    config = config.model_copy(update={
        "alerts": AlertSettings.model_validate(alerts) if alerts is not None else None,
        "automation": config.automation.model_copy(update={"outage_alert_after_ticks": after}),
    })
    return build_paytrace_activity_sensor(config)


def tick(sensor: dg.SensorDefinition, url: str, cursor: str | None, username="demo", password=SECRET):
    paytrace = PayTraceResource(api_url=url, username=username, password=password)
    # An instance without runs: the sensor asks it which days already have a run queued or running.
    with dg.build_sensor_context(cursor=cursor, resources={"paytrace": paytrace},
                                 instance=dg.DagsterInstance.ephemeral()) as context:
        return sensor.evaluate_tick(context)


@pytest.fixture
def slack(monkeypatch):
    monkeypatch.setattr(channels, "RETRY_DELAY_SECONDS", 0.0)
    with webhook_receiver("/services/T000/B000/XXXXSECRET") as receiver:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", receiver.url)
        yield receiver


def test_an_outage_is_skipped_twice_alerted_once_then_fails_ticks_and_recovery_is_alerted_once(
        paytrace_sandbox, slack):
    sensor = sensor_with({"slack": {}})
    down = f"http://127.0.0.1:{closed_port()}"
    cursor = json.dumps({"days": {"2026-03-02": "1-7-abc"}, "today": "2026-03-02"})

    first = tick(sensor, down, cursor)
    assert first.skip_message == (f"PayTrace at {down}: connection refused; check PAYTRACE_API_URL and that the "
                                  "service is running and reachable (failing tick 1; alert after 2 more)")
    second = tick(sensor, down, first.cursor)
    assert "failing tick 2; alert after 1 more" in second.skip_message and slack.posts == []
    assert json.loads(second.cursor)["days"] == {"2026-03-02": "1-7-abc"}  # the watermarks stay

    third = tick(sensor, down, second.cursor)
    assert "3 ticks; alert sent; further failing ticks fail" in third.skip_message
    (alert,) = slack.posts
    assert "PayTrace unreachable" in alert["json"]["text"] and f"PayTrace at {down}: connection refused" in \
        alert["json"]["text"]
    assert read_outage(third.cursor).alerted

    for _ in range(2):  # the UI shows failed ticks with the sentence; no second alert
        with pytest.raises(PayTraceOutage) as caught:
            tick(sensor, down, third.cursor)
        assert f"PayTrace at {down}: connection refused" in str(caught.value)
    assert len(slack.posts) == 1

    back = tick(sensor, paytrace_sandbox.base_url, third.cursor, paytrace_sandbox.username, paytrace_sandbox.password)
    assert "outage" not in json.loads(back.cursor)
    recovery = slack.posts[1]["json"]["text"]
    assert "PayTrace answers again" in recovery and "3 sensor ticks" in recovery
    tick(sensor, paytrace_sandbox.base_url, back.cursor, paytrace_sandbox.username, paytrace_sandbox.password)
    assert len(slack.posts) == 2  # recovery alerted once
    assert all(SECRET not in post["json"]["text"] for post in slack.posts)


def test_an_unknown_host_without_alert_channels_still_fails_its_ticks():
    sensor = sensor_with(None, after=1)
    only = tick(sensor, "https://paytrace.invalid", None)
    assert "PayTrace at https://paytrace.invalid: host name not found" in only.skip_message
    assert "no alert channel configured" in only.skip_message
    with pytest.raises(PayTraceOutage, match=r"host name not found.*2 ticks; no alert channel configured\)$"):
        tick(sensor, "https://paytrace.invalid", only.cursor)


def test_a_short_outage_clears_without_any_alert(paytrace_sandbox, slack):
    sensor = sensor_with({"slack": {}})
    once = tick(sensor, f"http://127.0.0.1:{closed_port()}", None)
    assert read_outage(once.cursor).failures == 1
    back = tick(sensor, paytrace_sandbox.base_url, once.cursor, paytrace_sandbox.username, paytrace_sandbox.password)
    assert read_outage(back.cursor).failures == 0 and slack.posts == []


def test_outage_watch_raises_the_sentence_once_alerted():
    watch = OutageWatch(alert_after_ticks=1, channels=[])
    error = PayTraceUnreachable("PayTrace at http://x: connection refused; check it", url="http://x",
                                reason="connection refused")
    _, cursor = watch.failed(None, error)
    with pytest.raises(PayTraceOutage, match=r"^PayTrace at http://x: connection refused; check it \(failing since"):
        watch.failed(cursor, error)

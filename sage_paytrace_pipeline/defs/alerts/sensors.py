"""Alert sensors, two per channel configured in the `alerts` section (none without it): one for
failed runs, one for successful runs with failed asset checks (WARN checks do not fail a run, so
without it a refused bank statement file would only show in the UI).

Built on Dagster's `run_failure_sensor` rather than its ready-made factories: the e-mail factory
(`make_email_on_run_failure_sensor`) always logs in over TLS with a password fixed when the code
loads and sends hand-built HTML, and dagster-slack posts with a bot token to Slack's Web API, not
to an incoming webhook. Teams messages do go through dagster-msteams' client and cards. One
sensor per channel keeps channels independent: a Slack outage neither blocks nor repeats e-mail.
The sensors watch every job of this code location; a delivery that still fails after a few tries
fails the sensor's tick, which the UI shows on the Automation page.
"""

from __future__ import annotations

from typing import Protocol

import dagster as dg

from sage_paytrace_pipeline.config import AlertSettings
from sage_paytrace_pipeline.defs.alerts.channels import (
    EmailChannel,
    SlackChannel,
    TeamsChannel,
)
from sage_paytrace_pipeline.defs.alerts.message import (
    AlertMessage,
    build_alert_message,
    build_check_alert_message,
)
from sage_paytrace_pipeline.defs.settings import load_time_config


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def secret_variables(self) -> tuple[str, ...]: ...

    def send(self, message: AlertMessage) -> None: ...


def configured_channels(settings: AlertSettings) -> list[Channel]:
    channels: list[Channel] = []
    if settings.email:
        channels.append(EmailChannel(settings.email))
    if settings.slack:
        channels.append(SlackChannel(settings.slack))
    if settings.teams:
        channels.append(TeamsChannel(settings.teams))
    return channels


def alert_sensor(channel: Channel, settings: AlertSettings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=f"run_failure_{channel.name}_alert",
        minimum_interval_seconds=settings.minimum_interval_seconds,
        # Configuring a channel is the request to be alerted: no one should have to switch it on.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sends a {channel.name} alert naming the job, run, partition, failing step and error "
                    "of every failed run of this code location (card data and secrets scrubbed).",
    )
    def _alert(context: dg.RunFailureSensorContext) -> None:
        message = build_alert_message(context, webserver_base_url=settings.webserver_base_url,
                                      secret_variables=channel.secret_variables)
        channel.send(message)
        context.log.info("Sent a %s alert for run %s", channel.name, context.dagster_run.run_id)

    return _alert


def check_alert_sensor(channel: Channel, settings: AlertSettings) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=f"failed_check_{channel.name}_alert",
        minimum_interval_seconds=settings.minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sends a {channel.name} alert naming the job, run, partition and the failed asset checks "
                    "of every successful run that has some (e.g. a bank statement file that could not be "
                    "loaded), with what is wrong and the fix.",
    )
    def _alert(context: dg.RunStatusSensorContext) -> None:
        message = build_check_alert_message(context, webserver_base_url=settings.webserver_base_url,
                                            secret_variables=channel.secret_variables)
        if message is None:
            return
        channel.send(message)
        context.log.info("Sent a %s alert for the failed checks of run %s", channel.name, context.dagster_run.run_id)

    return _alert


def build_alert_sensors(settings: AlertSettings | None) -> list[dg.SensorDefinition]:
    if not settings:
        return []
    channels = configured_channels(settings)
    return ([alert_sensor(channel, settings) for channel in channels]
            + [check_alert_sensor(channel, settings) for channel in channels])


@dg.definitions
def alert_sensors() -> dg.Definitions:
    return dg.Definitions(sensors=build_alert_sensors(load_time_config().alerts))

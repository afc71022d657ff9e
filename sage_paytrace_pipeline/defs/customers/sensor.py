"""`customer_sync_sensor`: runs the customer sync when Sage's customers or the PayTrace vault change.

Each tick reads AR_Customer's change stamps (Sage's own clock; edits by the integration's user are
left out, so the sync's own writes start nothing) and fingerprints the vault (one export call).
A change in either starts one `customer_sync_job` run for PayTrace's business day; a repeated tick
starts none (the run key carries both marks). It reads Sage and PayTrace only, never the warehouse
(DuckDB allows one writer, and runs hold it). Built by `build_customer_sync_sensor(config)` from
the `@dg.definitions` function below, so importing this module reads no configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import dagster as dg

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.customers.snapshot import sage_stamp
from sage_paytrace_pipeline.defs.automation.sensors import _sensor_client
from sage_paytrace_pipeline.defs.jobs import customer_sync_job
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.models import VaultCustomer
from sage_paytrace_pipeline.sage100.errors import Sage100Error
from sage_paytrace_pipeline.sage100.models import CustomerStamp


def sage_mark(stamps: Iterable[CustomerStamp], integration_user: str) -> str:
    """How many customers, and the newest change not made by the integration's own user."""
    stamps = list(stamps)
    moments = [sage_stamp(s.date_updated or s.date_created, s.time_updated if s.date_updated else s.time_created)
               for s in stamps if s.user_updated.upper() != integration_user.upper()]
    known = [moment for moment in moments if moment is not None]
    return f"{len(stamps)}-{max(known).isoformat() if known else 'none'}"


def vault_mark(profiles: Iterable[VaultCustomer]) -> str:
    """A short fingerprint of the vault: ids, billing fields and masked card facts."""
    rows = sorted((p.customer_id, p.billing_address.model_dump_json(), p.email, p.phone,
                   p.card.last4 if p.card else "", p.card.expiration_month if p.card else 0,
                   p.card.expiration_year if p.card else 0) for p in profiles)
    return f"{len(rows)}-{hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]}"


def build_customer_sync_sensor(config: PipelineConfig) -> dg.SensorDefinition:
    partitions = business_day_partitions(config)
    sync = config.customers.sync

    @dg.sensor(
        name="customer_sync_sensor",
        target=customer_sync_job,
        minimum_interval_seconds=max(config.automation.sensor_interval_seconds, 60),
        default_status=dg.DefaultSensorStatus.RUNNING if sync else dg.DefaultSensorStatus.STOPPED,
        description="Runs the customer sync when Sage's customers (AR_Customer change stamps) or the PayTrace vault "
                    "change (one export call per tick).",
    )
    def customer_sync_sensor(context: dg.SensorEvaluationContext, paytrace: PayTraceResource,
                             sage100: Sage100Resource):
        if sync is None:
            return dg.SkipReason("customers.sync is not configured")
        client = _sensor_client(paytrace)
        try:
            client.ping()
            today = client.server_today()
            vault = vault_mark(client.export_customers(include_bin=False))
            sage = sage_mark(sage100.reader().customer_stamps(), sync.integration_user)
        except (PayTraceError, Sage100Error) as error:
            return dg.SkipReason(f"customer sync sensor: {error}")
        finally:
            client.close()
        last = partitions.get_last_partition_key()
        day = min(today.isoformat(), last) if last else None
        cursor = json.dumps({"sage": sage, "vault": vault})
        if day is None or cursor == context.cursor:
            return dg.SensorResult(skip_reason=f"no change in Sage's customers ({sage}) or the vault ({vault})",
                                   cursor=cursor)
        return dg.SensorResult(run_requests=[dg.RunRequest(partition_key=day, run_key=f"{day}:{sage}:{vault}",
                                                           tags={"trigger": "customer_sync_sensor"})], cursor=cursor)

    return customer_sync_sensor


@dg.definitions
def customer_sync() -> dg.Definitions:
    return dg.Definitions(sensors=[build_customer_sync_sensor(load_time_config())])

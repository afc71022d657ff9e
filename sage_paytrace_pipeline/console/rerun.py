"""Re-running a day from the console: a Dagster run of the daily job for the day's partition, launched
through Dagster's GraphQL API (dagster-graphql) at `console.dagster_url`.

The console never runs the pipeline itself: Dagster runs it, and the page links to the run in Dagster's
UI. Unreachable Dagster -> one line saying so (DagsterUnreachable), nothing launched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

DAILY_JOB = "paytrace_daily_job"
PARTITION_TAG = "dagster/partition"
TIMEOUT_SECONDS = 15


class DagsterUnreachable(RuntimeError):
    """Dagster did not take the run (down, refused, or answered an error); nothing was launched."""


@dataclass(frozen=True)
class RerunRequest:
    """Where and what to launch: the client's arguments and the submission's."""

    client: dict[str, Any]
    submission: dict[str, Any]
    ui_base: str


@dataclass(frozen=True)
class LaunchedRun:
    run_id: str
    url: str  # the run in Dagster's UI


def rerun_request(dagster_url: str, day: date, *, requested_by: str, job: str = DAILY_JOB) -> RerunRequest:
    """The launch of `job` for `day`'s partition at the Dagster webserver `dagster_url` (http(s)://host[:port][/prefix])."""
    parts = urlsplit(dagster_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"console.dagster_url {dagster_url!r} is not an http(s) address like http://127.0.0.1:3000")
    prefix = parts.path.rstrip("/")
    client = {"hostname": parts.hostname, "port_number": parts.port, "use_https": parts.scheme == "https",
              "timeout": TIMEOUT_SECONDS, "path_prefix": prefix}
    submission = {"job_name": job, "tags": {PARTITION_TAG: day.isoformat(), "console/requested_by": requested_by}}
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return RerunRequest(client, submission, f"{parts.scheme}://{netloc}{prefix}")


def launch(request: RerunRequest) -> LaunchedRun:
    """Submit the run; its id and UI address, or DagsterUnreachable with the reason on one line."""
    try:
        run_id = DagsterGraphQLClient(**request.client).submit_job_execution(**request.submission)
    except Exception as error:
        if not isinstance(error, DagsterGraphQLClientError | requests.exceptions.RequestException) and \
                not type(error).__module__.startswith("gql"):  # gql's transport errors share no public base
            raise
        raise DagsterUnreachable(f"Dagster at {request.ui_base} did not launch the run: {_reason(error)}") from None
    return LaunchedRun(run_id, f"{request.ui_base}/runs/{run_id}")


def _reason(error: BaseException) -> str:
    """The root cause in a few words (the client wraps it in a message quoting its whole query)."""
    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 10:
        chain.append(cause)
    if any(isinstance(link, requests.exceptions.ConnectionError) for link in chain):
        return "no answer (is dagster-webserver running there?)"
    if any(isinstance(link, requests.exceptions.Timeout) for link in chain):
        return f"no answer within {TIMEOUT_SECONDS} s"
    root = chain[-1] if len(chain) > 1 else error
    return " ".join(str(root).split())[:200] or type(root).__name__

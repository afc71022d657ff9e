"""What the demo shows on the terminal (sage_paytrace_pipeline/demo.py, `sage-paytrace demo`).

A progress line and the summary; Dagster's own logs (thousands of DEBUG lines for a month) go to
demo.log under the demo's home, whose path the summary ends with. On a terminal the progress line is
rewritten in place; elsewhere (CI, a file) it is a plain line now and then and the last one.
"""

import io
from pathlib import Path

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.demo import DemoProgress, ProgressPrinter
from sage_paytrace_pipeline_tests.test_demo import DEMO_VARIABLES


def test_a_short_demo_prints_progress_and_summary_and_keeps_dagsters_logs_in_a_file(tmp_path, monkeypatch, capsys):
    for name in DEMO_VARIABLES:  # the demo sets them for its runs; restore them afterwards
        monkeypatch.setenv(name, "unset")
    home = tmp_path / "demo"

    assert main(["demo", "--home", str(home), "--days", "2"]) == 0

    out, err = capsys.readouterr()
    assert "DEBUG" not in out and "DEBUG" not in err
    assert "dagster - " not in out + err
    lines = out.splitlines()
    # plain lines (not a terminal), the first after the first run: the web store's orders into Sage
    assert lines[0].startswith("[") and "days 0/2 run" in lines[0] and "1 Dagster runs" in lines[0], lines[:3]
    progress = [line for line in lines if line.startswith("[")]
    assert progress[-1].startswith("[" + "#" * 24 + "]") and "2/2 settled" in progress[-1], progress
    assert "receipts posted" in progress[-1] and "\r" not in out
    assert any(line.startswith("sage-paytrace demo: 2 business days") for line in lines)
    assert any(line.startswith("  Store: 3 web orders") and "3 paid by exactly one receipt" in line for line in lines)
    disputes = next(line for line in lines if line.startswith("  Disputes: "))
    assert "against no known sale" in disputes and "posted twice 0" in disputes, disputes
    assert "malformed report line: disputes_" in disputes and "_bad.csv:5" in disputes, disputes
    log = (home / "demo.log").resolve()
    assert lines[-1] == f"  Dagster's logs: {log}"
    text = log.read_text(encoding="utf-8")
    assert text.count("dagster - DEBUG - paytrace_daily_job") > 50
    assert "STEP_SUCCESS" in text and "settlement_daily_job" in text
    assert " INFO " in text  # the demo's own Python logging (the sandbox's HTTP calls, storage setup)


def progress(days: int = 4) -> DemoProgress:
    return DemoProgress(days=days, warehouse=Path("/nonexistent/warehouse.duckdb"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_rewritten_in_place():
    stream = Terminal()
    printer = ProgressPrinter(stream)
    state = progress(days=2)
    state.listener = printer
    state.run_done({"job": "paytrace_daily_job", "partition": "2026-11-02"})
    state.run_done({"job": "paytrace_daily_job", "partition": "2026-11-03"})
    printer.close()

    written = stream.getvalue()
    assert written.count("\r") == 2 and written.endswith("\n") and written.count("\n") == 1
    assert written.split("\r")[-1].strip() == state.line()
    assert "days 2/2 run, 0/2 settled; 2 Dagster runs; 0 receipts posted" in state.line()


def test_elsewhere_a_plain_line_now_and_then_and_the_last_one():
    stream = io.StringIO()
    state = progress(days=2)
    state.listener = ProgressPrinter(stream, interval=3600)
    for job in ("paytrace_daily_job", "settlement_daily_job"):
        for day in ("2026-11-02", "2026-11-03"):
            state.run_done({"job": job, "partition": day})
    state.run_done({"job": "bank_statements_job", "partition": None})

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines  # the first, the one that finished settlement, the run after it
    assert "days 1/2 run" in lines[0] and "2/2 settled; 4 Dagster runs" in lines[1]
    assert "\r" not in stream.getvalue()


def test_the_instances_the_project_writes_turn_telemetry_off_and_the_readme_starts_dev_beside_none(tmp_path):
    """`dagster dev` warns when the folder it starts in holds a dagster.yaml that is not DAGSTER_HOME's;
    the root holds the production instance's, so the README starts `dagster dev` from the demo's folder."""
    import yaml

    from sage_paytrace_pipeline.demo import prepare_dagster_home

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "(cd .sage_paytrace && ../.venv/bin/dagster dev -w ../workspace.yaml)" in readme
    production = yaml.safe_load((repo / "dagster.yaml").read_text(encoding="utf-8"))
    demo = yaml.safe_load((prepare_dagster_home(tmp_path) / "dagster.yaml").read_text(encoding="utf-8"))
    assert production["telemetry"] == demo["telemetry"] == {"enabled": False}
    assert "postgres" in production["storage"] and "storage" not in demo  # the demo: SQLite under its home


def test_the_demo_config_serves_the_console_the_summary_points_to(tmp_path, monkeypatch):
    from datetime import date

    from starlette.testclient import TestClient

    from sage_paytrace_pipeline.config import load_config
    from sage_paytrace_pipeline.console.server import app_from_environment
    from sage_paytrace_pipeline.demo import (
        DEMO_APPROVER,
        DEMO_CLERK,
        demo_console_login,
        demo_console_section,
        format_summary,
        write_demo_config,
    )
    from sage_paytrace_pipeline_tests.console.conftest import log_in

    monkeypatch.setenv("SAGE_PAYTRACE_DEMO_CONSOLE_PASSWORD", "a demo password")
    password, password_hash = demo_console_login()
    assert password == "a demo password" and password not in password_hash
    config = write_demo_config(tmp_path, time_zone="America/Los_Angeles", first_day=date(2026, 11, 1),
                               console=demo_console_section(password_hash))
    assert password not in config.read_text()
    assert {name: user.role for name, user in load_config(config).console.users.items()} == {
        DEMO_CLERK: "clerk", DEMO_APPROVER: "approver"}
    client = TestClient(app_from_environment({
        "SAGE_PAYTRACE_CONFIG": str(config), "SAGE_PAYTRACE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "SAGE_PAYTRACE_CONSOLE_SECRET": "s" * 48}), follow_redirects=False)
    log_in(client, DEMO_CLERK, password)
    assert client.get("/dashboard").status_code == 200

    console = {"url": "http://127.0.0.1:8780", "users": [DEMO_CLERK, DEMO_APPROVER], "password": password,
               "start": "set -a; . demo.env; set +a; sage-paytrace console serve --host 127.0.0.1 --port 8780"}
    text = format_summary(_report(console))
    assert "Operations console: http://127.0.0.1:8780 after `set -a; . demo.env; set +a; sage-paytrace console " \
           "serve --host 127.0.0.1 --port 8780`" in text
    assert f"log in as {DEMO_CLERK} or {DEMO_APPROVER}" in text


def _report(console: dict) -> dict:
    """A summary's report with zeros (format_summary's keys) and the console's part."""
    zero_refunds = {"requests": {"count": 0, "by_state": {}, "sent": 0, "voids": 0},
                    "paytrace_refunds_recorded": {"count": 0, "amount": "0.00"},
                    "voids_reversed": {"count": 0, "amount": "0.00"}, "exceptions_by_kind": {}}
    return {"receipts": {"posted": 0, "amount": "0.00", "deposits": 0, "posted_twice": 0},
            "exceptions": {"total": 0, "by_kind": {}},
            "days": {"count": 1, "first": "2026-11-01", "last": "2026-11-01", "runs": 1, "failed_runs": [],
                     "failed_checks": []},
            "paytrace": {"generated": {}, "batches_closed": 0},
            "settlement": {"expected_deposits": {}, "deposited": "0.00", "fees": "0.00", "journal_entries_posted": 0,
                           "exceptions_by_kind": {}},
            "refunds": zero_refunds, "customers": {}, "files": {"env": "demo.env"}, "console": console}

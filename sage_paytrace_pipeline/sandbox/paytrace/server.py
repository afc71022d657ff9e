"""Run the sandbox app with uvicorn: blocking (`serve`) or in a background thread (`serve_in_thread`).

The control API (`/_sandbox/*`) resets, loads and reshapes the sandbox, so `check_bind` allows an
address beyond loopback only when asked explicitly (`allow_remote`) and with a control token the
app then requires.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from sage_paytrace_pipeline.sandbox.paytrace.settings import CONTROL_TOKEN_VARIABLE

STARTUP_TIMEOUT_SECONDS = 15.0
MIN_CONTROL_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; any other name or address reaches beyond this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, allow_remote: bool, control_token: str | None) -> None:
    """Raise a one-line ValueError unless binding `host` is safe (see the module docstring)."""
    if control_token is not None and control_token != "" and len(control_token) < MIN_CONTROL_TOKEN_LENGTH:
        raise ValueError(f"the control token must be at least {MIN_CONTROL_TOKEN_LENGTH} characters")
    if is_loopback(host):
        return
    needed = [] if allow_remote else ["--allow-remote"]
    if not control_token:
        needed.append(f"--control-token (or {CONTROL_TOKEN_VARIABLE})")
    if needed:
        raise ValueError(f"--host {host} is beyond loopback and the control API can reset the sandbox: "
                         f"add {' and '.join(needed)}, or bind 127.0.0.1")


def _config(app: ASGIApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    # The app sets `Date` itself from the sandbox's virtual clock, so uvicorn must not add one.
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, date_header=False,
                          server_header=False, lifespan="off", access_log=False)


def serve(app: ASGIApp, host: str, port: int, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    uvicorn.Server(_config(app, host, port, log_level)).run()


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve on a real socket in a daemon thread; yields the base URL and stops cleanly after."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, bound_port, "warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"paytrace-sandbox-{bound_port}",
                              daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield f"http://{host}:{bound_port}" if ":" not in host else f"http://[{host}]:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server thread stopped during startup; see the log above")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox server did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.01)

"""Run the sandbox app with uvicorn: blocking (`serve`) or in a background thread (`serve_in_thread`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 15.0


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

"""Local receivers for alert delivery tests: a real SMTP server (aiosmtpd) and an HTTP webhook endpoint."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class SmtpReceiver:
    host: str
    port: int
    mails: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                       message_from_bytes(envelope.content, policy=policy.default), login))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 made with the openssl CLI, or None where it is missing."""
    if not shutil.which("openssl"):
        return None
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextmanager
def smtp_receiver(*, tls: tuple[Path, Path] | None = None,
                  credentials: tuple[str, str] | None = None) -> Iterator[SmtpReceiver]:
    """An SMTP server on 127.0.0.1; with `tls` it offers STARTTLS, with `credentials` it requires a login."""
    receiver = SmtpReceiver("127.0.0.1", free_port())
    options: dict = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls))
        options.update(tls_context=context, require_starttls=True)
    if credentials:
        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            valid = (auth_data.login.decode(), auth_data.password.decode()) == credentials
            # handled=False: aiosmtpd answers a refusal with 535 itself.
            return AuthResult(success=valid, handled=False, auth_data=auth_data if valid else None)
        options.update(authenticator=authenticate, auth_required=True)
    controller = Controller(receiver, hostname=receiver.host, port=receiver.port, **options)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


@dataclass
class WebhookReceiver:
    url: str
    status: int = 200
    reply: str = "ok"
    posts: list[dict] = field(default_factory=list)


@contextmanager
def webhook_receiver(path: str = "/hooks/alerts") -> Iterator[WebhookReceiver]:
    """An HTTP endpoint on 127.0.0.1 that records each JSON POST and answers `status` / `reply`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = WebhookReceiver(f"http://127.0.0.1:{server.server_address[1]}{path}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                   "json": json.loads(body)})
            reply = receiver.reply.encode()
            self.send_response(receiver.status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

"""Real servers for the notification tests: an SMTP server (aiosmtpd) that requires
STARTTLS and a login, and an HTTP receiver that checks each Slack, Teams or webhook post
against the documented payload structure before it answers.

Payload checks, from the vendors' documentation:
- Slack incoming webhooks take `text` plus up to 50 Block Kit `blocks`; a `header` block
  holds `plain_text` of at most 150 characters, a `section` block `text` (`mrkdwn` or
  `plain_text`) of at most 3,000 (Block Kit reference: blocks, composition objects).
- Teams incoming webhooks and workflows take `{"type": "message", "attachments": [...]}`
  whose attachment has `contentType: application/vnd.microsoft.card.adaptive` and the card
  as `content`; the card is checked against a JSON schema written from the Adaptive Card
  schema (type, version, the TextBlock and Action.OpenUrl elements and their properties).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "pmo-bridge", "s3cret-for-tests"

_TEXT_BLOCK = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "TextBlock"},
        "text": {"type": "string", "minLength": 1},
        "wrap": {"type": "boolean"},
        "weight": {"enum": ["Default", "Lighter", "Bolder"]},
        "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
        "isSubtle": {"type": "boolean"},
    },
}
_OPEN_URL = {
    "type": "object",
    "required": ["type", "url"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "Action.OpenUrl"},
        "url": {"type": "string", "pattern": "^https?://"},
        "title": {"type": "string"},
    },
}
ADAPTIVE_CARD = {
    "type": "object",
    "required": ["type", "version", "body"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "type": {"const": "AdaptiveCard"},
        "version": {"type": "string", "pattern": r"^1\.[0-6]$"},
        "body": {"type": "array", "items": _TEXT_BLOCK},
        "actions": {"type": "array", "items": _OPEN_URL},
    },
}
TEAMS_MESSAGE = {
    "type": "object",
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": ADAPTIVE_CARD,
                },
            },
        },
    },
}
_SLACK_TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {"type": {"enum": ["mrkdwn", "plain_text"]}, "text": {"type": "string"}},
}
SLACK_MESSAGE = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string"},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                **_SLACK_TEXT,
                                "properties": {
                                    "type": {"const": "plain_text"},
                                    "text": {"type": "string", "maxLength": 150},
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "section"},
                            "text": {
                                **_SLACK_TEXT,
                                "properties": {
                                    **_SLACK_TEXT["properties"],
                                    "text": {"type": "string", "minLength": 1, "maxLength": 3000},
                                },
                            },
                        },
                    },
                ]
            },
        },
    },
}
SCHEMAS = {"/slack": SLACK_MESSAGE, "/teams": TEAMS_MESSAGE}


@dataclass
class Receiver:
    """Records each valid post; answers 400 to an invalid one (as Slack and Teams do),
    or with the queued answers first (`fail_next`)."""

    url: str = ""
    posts: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    hits: list[tuple[float, str, int]] = field(default_factory=list)  # (monotonic, path, status)

    def fail_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.answers.append((status, headers or {}))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size)
            if receiver.answers:
                status, headers = receiver.answers.pop(0)
                return self._answer(status, headers)
            try:
                body = json.loads(raw)
                schema = SCHEMAS.get(self.path)
                if schema is not None:
                    jsonschema.validate(body, schema)
            except (ValueError, jsonschema.ValidationError) as exc:
                receiver.invalid.append(str(exc)[:500])
                return self._answer(400, {})
            receiver.posts.append((self.path, dict(self.headers), body))
            return self._answer(200, {})

        def _answer(self, status: int, headers: dict[str, str]) -> None:
            receiver.hits.append((time.monotonic(), self.path, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def start_receiver() -> tuple[Receiver, Callable[[], None]]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return receiver, stop


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


def start_smtp(cert: Path, key: Path) -> tuple[Mailbox, int, Callable[[], None]]:
    """A real SMTP server on 127.0.0.1 that requires STARTTLS before AUTH and mail."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=_authenticator, auth_required=True, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    return mailbox, port, controller.stop

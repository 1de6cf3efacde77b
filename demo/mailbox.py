"""The demo's local mailbox: a real SMTP server on loopback (aiosmtpd) that keeps what it
receives, so the demo's e-mails (the weekly report) arrive somewhere you can open."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from config.notify import Channel, Contact, Notify, ReportSchedule
from demo.seed import JIRA_PEOPLE

HOST = "127.0.0.1"


class DemoMailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> DemoMailbox:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def save(self, index: int, path: Path) -> Path:
        """One received message as an .eml file any mail client opens."""
        path.write_bytes(self.messages[index].as_bytes())
        return path


PMO_MAILBOX = "pmo-office@example.com"


def demo_notify(port: int) -> Notify:
    """The demo's people, roles and channel: e-mail to the local mailbox, a weekly report
    on Monday 08:00, delivery leads per project."""
    people = {
        display: Contact(display, f"{name}@example.com") for name, display in JIRA_PEOPLE.items()
    }
    mail = Channel(
        name="pmo-mail", kind="smtp", host=HOST, port=port, starttls=False,  # loopback only
        sender="pmo-bridge@example.com", to=(PMO_MAILBOX,),
    )  # fmt: skip
    return Notify(
        channels={"pmo-mail": mail},
        owners={
            "PAY": {"delivery_lead": "Priya Shah"},
            "WEB": {"delivery_lead": "Sam Okafor"},
            "*": {"pmo": "Aisha Khan"},
        },
        people=people,
        reports=(ReportSchedule(every="mon 08:00", to="pmo-mail", format="html"),),
    )

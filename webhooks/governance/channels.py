"""Sending notifications: e-mail over SMTP, Slack incoming webhooks (Block Kit), Microsoft
Teams incoming webhooks or workflows (an Adaptive Card in a message attachment), and a
generic JSON webhook signed with HMAC-SHA256.

`send(channel, messages)` sends one message (a digest: several, as one). Every failure is
a `SendFailed` saying whether a retry may help and how long the receiver asked to wait
(Retry-After); the delivery task (`webhooks.governance.notify_delivery`) owns retries.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests

from config.notify import Channel
from webhooks.store.notifications import Notification

TIMEOUT = 10.0
SLACK_TEXT_MAX = 3000  # a section block's text (Block Kit reference)
SLACK_HEADER_MAX = 150  # a header block's plain_text
MAX_MESSAGES = 50  # per digest: the rest are counted
SIGNATURE_HEADER = "X-PMO-Bridge-Signature"
TIMESTAMP_HEADER = "X-PMO-Bridge-Timestamp"


@dataclass(frozen=True)
class Message:
    """What a payload shows: a queued Notification, or a report sent directly."""

    subject: str
    body: str
    link: str | None = None
    recipient: str = ""
    id: int = 0


Shown = Notification | Message


class SendFailed(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _subject(messages: Sequence[Shown]) -> str:
    if len(messages) == 1:
        return messages[0].subject
    return f"PMO digest: {len(messages)} notifications"


def _lines(messages: Sequence[Shown]) -> list[tuple[str, str, str | None]]:
    return [(m.subject, m.body, m.link) for m in messages[:MAX_MESSAGES]]


# -- e-mail ------------------------------------------------------------------------------


def email_message(channel: Channel, messages: Sequence[Shown]) -> EmailMessage:
    recipients = sorted({*channel.to, *(m.recipient for m in messages if "@" in m.recipient)})
    msg = EmailMessage()
    msg["Subject"] = _subject(messages)
    msg["From"] = channel.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="pmo-bridge")
    text = "\n\n".join(
        f"{subject}\n{body}" + (f"\n{link}" if link else "")
        for subject, body, link in _lines(messages)
    )
    msg.set_content(text)
    return msg


def _send_smtp(channel: Channel, messages: Sequence[Shown], env: Mapping[str, str]) -> None:
    _smtp_deliver(channel, email_message(channel, messages), env)


def _smtp_deliver(channel: Channel, msg: EmailMessage, env: Mapping[str, str]) -> None:
    if not msg["To"]:
        raise SendFailed("no recipient has an e-mail address", retryable=False)
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if channel.starttls:
                context = ssl.create_default_context(cafile=channel.ca_file)
                smtp.starttls(context=context)
                smtp.ehlo()
            user = channel.env(channel.user_env, env)
            if user:
                smtp.login(user, channel.env(channel.password_env, env) or "")
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(f"SMTP login refused ({exc.smtp_code})", retryable=False) from None
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("SMTP server refused every recipient", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        transient = 400 <= exc.smtp_code < 500
        raise SendFailed(f"SMTP answered {exc.smtp_code}", retryable=transient) from None
    except smtplib.SMTPNotSupportedError:
        raise SendFailed("SMTP server offers no STARTTLS", retryable=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"SMTP: {type(exc).__name__}", retryable=True) from None


# -- chat and webhooks -------------------------------------------------------------------


def slack_payload(messages: Sequence[Shown]) -> dict[str, Any]:
    """Block Kit: a header, then a section (mrkdwn) and an optional link per message."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(_subject(messages), SLACK_HEADER_MAX)},
        }
    ]
    for subject, body, link in _lines(messages):
        text = f"*{_slack_escape(subject)}*\n{_slack_escape(body)}"
        if link and link.startswith(("https://", "http://")):
            text += f"\n<{link}|Open the item>"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_TEXT_MAX)}}
        )
    return {"text": _subject(messages), "blocks": blocks[:50]}


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as control characters in mrkdwn text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_payload(messages: Sequence[Shown]) -> dict[str, Any]:
    """An Adaptive Card 1.4 in a message attachment, the form Teams incoming webhooks and
    workflow ("When a Teams webhook request is received") triggers both accept."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _subject(messages),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    actions = []
    for subject, text, link in _lines(messages):
        body.append({"type": "TextBlock", "text": subject, "weight": "Bolder", "wrap": True})
        body.append({"type": "TextBlock", "text": text, "wrap": True})
        if link and link.startswith(("https://", "http://")) and len(actions) < 5:
            actions.append({"type": "Action.OpenUrl", "title": f"Open {subject[:40]}", "url": link})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_payload(messages: Sequence[Shown]) -> dict[str, Any]:
    return {
        "type": "pmo-bridge.notification",
        "subject": _subject(messages),
        "messages": [
            {
                "id": m.id,
                "subject": m.subject,
                "body": m.body,
                "link": m.link,
                "recipient": m.recipient,
            }
            for m in messages[:MAX_MESSAGES]
        ],
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`: the receiver checks the
    signature and refuses old timestamps, so a captured post cannot be replayed."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(min(int(value.strip()), 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: our own backoff applies
    return max(0.0, min(3600.0, when.timestamp() - time.time()))


def _post(
    channel: Channel, payload: Mapping[str, Any], env: Mapping[str, str], session: Any
) -> None:
    url = channel.env(channel.url_env, env)
    if not url:
        raise SendFailed(f"{channel.url_env} is not set", retryable=False)
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if channel.kind == "webhook":
        secret = channel.env(channel.secret_env, env)
        if not secret:
            raise SendFailed(f"{channel.secret_env} is not set", retryable=False)
        stamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
    try:
        response = (session or requests).post(url, data=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SendFailed(f"{channel.kind}: {type(exc).__name__}", retryable=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    transient = status in (408, 429) or status >= 500
    raise SendFailed(
        f"{channel.kind} answered {status}", retryable=transient, retry_after=_retry_after(response)
    )


def send_document(
    channel: Channel,
    subject: str,
    text: str,
    html_body: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    session: Any = None,
) -> None:
    """A report: e-mailed as text with an HTML alternative, or posted as one message
    (chat messages carry the text, cut to what the channel takes)."""
    env = environ if environ is not None else os.environ
    if channel.kind == "smtp":
        msg = EmailMessage()
        msg["Subject"], msg["From"] = subject, channel.sender
        msg["To"] = ", ".join(channel.to)
        msg["Date"] = email.utils.formatdate(localtime=False)
        msg["Message-ID"] = email.utils.make_msgid(domain="pmo-bridge")
        msg.set_content(text)
        if html_body:
            msg.add_alternative(html_body, subtype="html")
        _smtp_deliver(channel, msg, env)
        return
    _post(channel, PAYLOADS[channel.kind]([Message(subject, text)]), env, session)


PAYLOADS = {"slack": slack_payload, "teams": teams_payload, "webhook": webhook_payload}


def send(
    channel: Channel,
    messages: Sequence[Shown],
    *,
    environ: Mapping[str, str] | None = None,
    session: Any = None,
) -> None:
    """Send `messages` on `channel` as one message. Raises SendFailed."""
    env = environ if environ is not None else os.environ
    if channel.kind == "smtp":
        _send_smtp(channel, messages, env)
    else:
        _post(channel, PAYLOADS[channel.kind](messages), env, session)

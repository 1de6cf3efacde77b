"""Who to reach and how: notification channels, the people and roles escalations name,
quiet hours, and the report schedule. Secrets (SMTP password, webhook URLs, signing keys)
are named by environment variable and read only when a message is sent."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

CHANNEL_KINDS = ("smtp", "slack", "teams", "webhook")
DIGESTS = ("hour", "day")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVERY = re.compile(r"^(daily|mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str  # smtp | slack | teams | webhook
    digest: str | None = None  # None: one message per notification; hour | day: batched
    # smtp
    host: str = "127.0.0.1"
    port: int = 587
    starttls: bool = True
    user_env: str | None = None
    password_env: str | None = None
    sender: str = "pmo-bridge@localhost"
    to: tuple[str, ...] = ()  # fixed recipients (a PMO mailbox); people add their own
    ca_file: str | None = None  # a private CA for STARTTLS (default: the system's)
    # slack | teams | webhook: the URL is a secret, so it comes from the environment
    url_env: str | None = None
    secret_env: str | None = None  # webhook: HMAC-SHA256 signing key

    def env(self, name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
        """A secret named by the config, read at the moment it is needed."""
        env = os.environ if environ is None else environ
        return (env.get(name) or None) if name else None


@dataclass(frozen=True)
class Contact:
    """A person the config names: e-mail plus their id on each tracker (optional: names
    without an id are found through the tracker's user search)."""

    name: str
    email: str | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)  # tracker name -> account


@dataclass(frozen=True)
class QuietHours:
    start: dt.time | None = None  # e.g. 20:00; with `end` 08:00 the night is quiet
    end: dt.time | None = None
    weekends: bool = False  # True: nothing fires on Saturday and Sunday
    utc_offset_minutes: int = 0

    def quiet(self, now: dt.datetime) -> bool:
        local = now.astimezone(dt.timezone(dt.timedelta(minutes=self.utc_offset_minutes)))
        if self.weekends and local.weekday() >= 5:
            return True
        if self.start is None or self.end is None:
            return False
        t = local.time()
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # across midnight


@dataclass(frozen=True)
class ReportSchedule:
    every: str  # "mon 08:00" | "daily 07:30" (UTC)
    to: str  # channel name
    format: str = "html"
    since_days: int = 7
    projects: tuple[str, ...] = ()  # empty: the whole portfolio

    def slot(self, now: dt.datetime) -> dt.datetime:
        """The latest scheduled moment at or before `now` (UTC): one report per slot."""
        match = _EVERY.match(self.every)
        assert match is not None  # validated on load
        day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
        moment = now.astimezone(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment > now:
            moment -= dt.timedelta(days=1)
        if day != "daily":
            while moment.weekday() != _WEEKDAYS.index(day):
                moment -= dt.timedelta(days=1)
        return moment

    def due(self, last_sent: dt.datetime | None, now: dt.datetime) -> bool:
        """True once the latest scheduled moment at or before `now` has no report yet."""
        return last_sent is None or last_sent < self.slot(now)


@dataclass(frozen=True)
class Notify:
    channels: Mapping[str, Channel] = field(default_factory=dict)
    # project (or "*") -> role -> person name; e.g. PAY: {programme_lead: Priya Shah}
    owners: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    people: Mapping[str, Contact] = field(default_factory=dict)
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    reports: tuple[ReportSchedule, ...] = ()


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _clock(value: str) -> None:
    if not _CLOCK.match(value):
        raise ValidationError(f"{value!r} is not a time of day HH:MM")


class ChannelSchema(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(CHANNEL_KINDS))
    digest = fields.String(validate=validate.OneOf(DIGESTS))
    host = fields.String(validate=validate.Length(min=1, max=255))
    port = fields.Integer(validate=validate.Range(min=1, max=65535))
    starttls = fields.Boolean(truthy={True}, falsy={False})
    user_env = fields.String()
    password_env = fields.String()
    sender = fields.Email()
    to = fields.List(fields.Email())
    ca_file = fields.String()
    url_env = fields.String()
    secret_env = fields.String()

    @validates_schema
    def _needs(self, data: Mapping[str, Any], **_: Any) -> None:
        if data["kind"] != "smtp" and not data.get("url_env"):
            raise ValidationError(f"a {data['kind']} channel needs url_env", "url_env")
        if data["kind"] == "webhook" and not data.get("secret_env"):
            raise ValidationError(
                "a webhook channel signs its posts: name secret_env", "secret_env"
            )


class ContactSchema(_Strict):
    email = fields.Email()
    accounts = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.Length(max=255))
    )


class QuietHoursSchema(_Strict):
    start = fields.String(validate=_clock)
    end = fields.String(validate=_clock)
    weekends = fields.Boolean(truthy={True}, falsy={False})
    utc_offset_minutes = fields.Integer(validate=validate.Range(min=-14 * 60, max=14 * 60))


class ReportSchema(_Strict):
    every = fields.String(
        required=True,
        validate=validate.Regexp(
            _EVERY, error="expected 'mon 08:00' (a weekday or daily, HH:MM UTC)"
        ),
    )
    to = fields.String(required=True)
    format = fields.String(validate=validate.OneOf(("md", "html", "csv")))
    since_days = fields.Integer(validate=validate.Range(min=1, max=366))
    projects = fields.List(fields.String())


NOTIFY_FIELDS = {
    "channels": fields.Dict(keys=fields.String(), values=fields.Nested(ChannelSchema)),
    "owners": fields.Dict(
        keys=fields.String(),
        values=fields.Dict(
            keys=fields.String(validate=validate.Regexp(ROLE_NAME)), values=fields.String()
        ),
    ),
    "people": fields.Dict(keys=fields.String(), values=fields.Nested(ContactSchema)),
    "quiet_hours": fields.Nested(QuietHoursSchema),
    "reports": fields.List(fields.Nested(ReportSchema)),
}


def _time(value: str | None) -> dt.time | None:
    return dt.time.fromisoformat(value) if value else None


def notify_from(data: Mapping[str, Any]) -> Notify:
    """The loaded config's notification keys as a Notify. Raises ValueError naming the
    first cross-reference that does not resolve (a report to an unknown channel)."""
    channels = {
        name: Channel(name=name, **{**spec, "to": tuple(spec.get("to") or ())})
        for name, spec in (data.get("channels") or {}).items()
    }
    quiet = data.get("quiet_hours") or {}
    reports = []
    for index, spec in enumerate(data.get("reports") or ()):
        if spec["to"] not in channels:
            known = ", ".join(sorted(channels)) or "none"
            raise ValueError(
                f"reports[{index}].to: unknown channel {spec['to']!r} (configured: {known})"
            )
        reports.append(ReportSchedule(**{**spec, "projects": tuple(spec.get("projects") or ())}))
    return Notify(
        channels=channels,
        owners={project: dict(roles) for project, roles in (data.get("owners") or {}).items()},
        people={
            name: Contact(
                name=name, email=spec.get("email"), accounts=dict(spec.get("accounts") or {})
            )
            for name, spec in (data.get("people") or {}).items()
        },
        quiet_hours=QuietHours(
            start=_time(quiet.get("start")),
            end=_time(quiet.get("end")),
            weekends=bool(quiet.get("weekends", False)),
            utc_offset_minutes=int(quiet.get("utc_offset_minutes", 0)),
        ),
        reports=tuple(reports),
    )

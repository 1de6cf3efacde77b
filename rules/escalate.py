"""Escalation chains: a rule's (or its pack's) `escalate:` steps and which of them are due.

    escalate:
      - {after: 2d, to: assignee, via: [mention]}
      - {after: 5d, to: role:programme_lead, via: [comment, pmo-mail]}
      - {after: 10d, to: "person:Dana Cole", via: [teams-pmo]}

`after` is how long the rule has been failing on the item (one failing episode: the clock
starts again when the rule passes). `to` is the item's assignee or reporter, a role from
the config's `owners:` map, or a named person. `via` is `mention` (in the managed comment),
`comment` (a separate tracker comment that mentions them) or a channel name from the config.
Pure: no I/O; the worker (`webhooks.escalation`) records and delivers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from rules.fields import parse_duration

TARGET = re.compile(r"^(assignee|reporter|role:[a-z][a-z0-9_]{0,63}|person:[^\n]{1,255})$")
VIA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TRACKER_VIAS = ("mention", "comment")
MAX_STEPS = 10


@dataclass(frozen=True)
class EscalationStep:
    index: int  # position in the chain: "once per step" is keyed by it
    after: dt.timedelta
    to: str
    via: tuple[str, ...]

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(v for v in self.via if v not in TRACKER_VIAS)


def _duration(value: str) -> None:
    if parse_duration(value) is None:
        raise ValidationError(f"{value!r} is not a duration such as 2d, 12h or 1w")


class StepSchema(Schema):
    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages = {
            **self.error_messages,
            "unknown": "unknown key (allowed: after, to, via)",
        }

    after = fields.String(required=True, validate=_duration)
    to = fields.String(
        required=True,
        validate=validate.Regexp(
            TARGET, error="expected assignee, reporter, role:<name> or person:<name>"
        ),
    )
    via = fields.List(
        fields.String(
            validate=validate.Regexp(VIA, error="expected mention, comment or a channel name")
        ),
        required=True,
        validate=validate.Length(min=1, max=8),
    )


STEPS_FIELD = fields.List(fields.Nested(StepSchema), validate=validate.Length(max=MAX_STEPS))


def compile_steps(raw: Iterable[Mapping[str, Any]] | None) -> tuple[EscalationStep, ...]:
    """Validated `escalate:` entries as steps, in the order written."""
    steps = []
    for index, spec in enumerate(raw or ()):
        after = parse_duration(spec["after"])
        assert after is not None  # validated by StepSchema
        steps.append(EscalationStep(index, after, str(spec["to"]), tuple(spec["via"])))
    return tuple(steps)


def due_steps(
    steps: Iterable[EscalationStep],
    failing_since: dt.datetime,
    fired: Collection[int],
    now: dt.datetime,
) -> list[EscalationStep]:
    """Steps whose time has come in this episode and that have not fired in it yet.
    A step that came due while escalation was held (quiet hours) fires at the next run."""
    failing_for = now - failing_since
    return [s for s in steps if s.index not in fired and failing_for >= s.after]

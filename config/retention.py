"""Retention settings: how long the store keeps each kind of record."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import RAISE, Schema, fields, validate


@dataclass(frozen=True)
class Retention:
    """How long the store keeps each kind of record, in days (0: for ever); applied by
    the periodic maintenance (`webhooks.store.retention`)."""

    bodies_days: int = 7  # payloads of done and ignored deliveries
    deliveries_days: int = 30  # done, ignored and dead delivery rows
    findings_days: int = 400  # resolved findings: beyond the longest trend (366 days)
    dead_letters_days: int = 90
    allocation_days: int = 56  # allocation shares of weeks past (the people view looks ahead)
    history_days: int = 400  # the dashboard's daily RAG and findings history
    escalations_days: int = 400  # fired escalation steps: the report looks back a year
    notifications_days: int = 90  # sent and dead-lettered notifications
    identities_days: int = 30  # tracker identities found by user search, for mentions


class RetentionSchema(Schema):
    class Meta:
        unknown = RAISE

    bodies_days = fields.Integer(validate=validate.Range(min=0))
    deliveries_days = fields.Integer(validate=validate.Range(min=0))
    findings_days = fields.Integer(validate=validate.Range(min=0))
    dead_letters_days = fields.Integer(validate=validate.Range(min=0))
    allocation_days = fields.Integer(validate=validate.Range(min=0))
    history_days = fields.Integer(validate=validate.Range(min=0))
    escalations_days = fields.Integer(validate=validate.Range(min=0))
    notifications_days = fields.Integer(validate=validate.Range(min=0))
    identities_days = fields.Integer(validate=validate.Range(min=0))

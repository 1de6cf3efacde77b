"""A two-tracker portfolio (a Jira initiative owning Jira epics and Azure DevOps
features) delivered as webhooks to a service whose trackers are mocked."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import responses

from tests.support.portfolio_gen import FakeTrackers, Spec, event_for, tracker_configs
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC)  # throughput window from 2024-05-13
D = dt.date.fromisoformat
_deliveries = itertools.count(1)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T10:00:00+00:00")


def portfolio() -> dict[str, Spec]:
    """A Jira initiative with two Jira epics, and two Azure DevOps features it owns by the
    cross-tracker convention (a `portfolio:PAY-1` tag; a portfolio_link field)."""
    specs = [
        Spec("jira", "PAY-1", "initiative", "Cut support contacts", "In Progress", due=D("2024-09-30")),
        Spec("jira", "PAY-10", "epic", "Self-service refunds", "In Progress", parent="PAY-1",
             due=D("2024-07-31")),
        Spec("jira", "PAY-11", "story", "Refund form", "Done", 5, "PAY-10",
             status_changed=at("2024-06-01")),
        Spec("jira", "PAY-12", "story", "Refund approval", "In Progress", 3, "PAY-10"),
        Spec("jira", "PAY-13", "story", "Refund ledger", "To Do", 8, "PAY-10"),
        Spec("jira", "PAY-14", "story", "Refund emails", "Done", 2, "PAY-10",
             status_changed=at("2024-05-20")),
        Spec("jira", "PAY-20", "epic", "Saved cards", "To Do", parent="PAY-1", due=D("2024-07-15")),
        Spec("jira", "PAY-21", "story", "Card vault", "To Do", 5, "PAY-20"),
        Spec("jira", "PAY-22", "story", "Card list", "To Do", 3, "PAY-20"),
        Spec("azure-devops", "501", "feature", "Checkout redesign", "Active",
             portfolio_tag="PAY-1", due=D("2024-07-20")),
        Spec("azure-devops", "511", "story", "Checkout page", "Closed", 5, "501",
             status_changed=at("2024-06-05")),
        Spec("azure-devops", "512", "story", "Checkout API", "Active", 8, "501"),
        Spec("azure-devops", "502", "feature", "Wallet support", "New",
             portfolio_field="jira:PAY-1"),
        Spec("azure-devops", "521", "story", "Wallet button", "New", 3, "502"),
    ]  # fmt: skip
    return {spec.native_id: spec for spec in specs}


class Service:
    def __init__(
        self, tmp_path, rules: tuple[str, ...], mock: responses.RequestsMock, **settings: Any
    ) -> None:
        settings = make_settings(
            tmp_path,
            trackers=tracker_configs(),
            rules=rules,
            rollup_delay_seconds=0.05,
            sweep_interval_minutes=0,
            **settings,
        )
        self.runtime = Runtime.from_settings(settings, clock=lambda: NOW)
        self.app = create_app(settings=settings, runtime=self.runtime)
        self.client = self.app.test_client()
        self.trackers = FakeTrackers()
        self.trackers.install(mock)
        self.mock = mock
        self.store = self.runtime.store

    def deliver(self, *specs: Spec, created: bool = False, deleted: bool = False) -> None:
        for spec in specs:
            spec = self.trackers.know(spec)
            body = json.dumps(event_for(spec, created=created, deleted=deleted)).encode()
            if spec.tracker == "jira":
                headers = {"X-Atlassian-Webhook-Identifier": f"d-{next(_deliveries)}"}
                answer = self.client.post("/webhooks/jira", data=body, headers=headers,
                                          content_type="application/json")  # fmt: skip
            else:
                answer = self.client.post(
                    "/webhooks/azure-devops", data=body, content_type="application/json"
                )
            assert answer.status_code == 202, answer.get_json()

    def drain(self) -> None:
        drain(self.runtime)

    def rollup(self, key: str) -> dict:
        rollup = self.store.get_rollup(key)
        assert rollup is not None, f"no rollup for {key}"
        return rollup.to_dict()

    def comment(self, key: str) -> str:
        (text,) = self.trackers.comments[key].values()  # one managed comment, ever
        return text

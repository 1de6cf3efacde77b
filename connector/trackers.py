"""The tracker kinds pmo-bridge speaks, in one table: for each kind its webhook adapter,
its write-back client and its webhook-subscription admin. Everything outside `connector`
asks here rather than naming a kind; adding a tracker means one package and one row.

The kind names themselves are configuration vocabulary (`config.settings.TRACKER_KINDS`,
which a config file is checked against); this table has a row for each of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from config.settings import TRACKER_KINDS, TrackerConfig
from connector import azure_devops, jira
from connector.azure_devops.client import AzureDevOpsClient
from connector.azure_devops.client import comment_form as ado_comment_form
from connector.clients import DEFAULT_TIMEOUT, CallGate, OnCall, TrackerClient
from connector.jira import field_discovery as jira_field_discovery
from connector.jira.client import JiraClient
from connector.jira.client import comment_form as jira_comment_form
from connector.model import Event, Ignored
from connector.subscriptions import AzureHooksAdmin, JiraWebhookAdmin, Outcome


class WebhookAdapter(Protocol):
    """What intake and the worker ask of a tracker's webhook adapter."""

    EVENT_PARSERS: Mapping[str, Callable[..., Event]]  # the events it acts on
    IGNORED_EVENTS: Mapping[str, str]  # events it acknowledges and drops, with why

    def verify_request(
        self, headers: Mapping[str, str], raw_body: bytes, secret: str | None
    ) -> bool: ...

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None: ...

    def parse_event(self, payload: Any, tracker: TrackerConfig) -> Event | Ignored: ...


class FieldDiscovery(Protocol):
    """Custom field ids a site names differently, found by their names once."""

    def wanted(self, configured: Mapping[str, str]) -> list[str]: ...

    def field_ids_by_name(
        self, fields: Iterable[Any], names: Iterable[str]
    ) -> dict[str, tuple[str, str]]: ...


class SubscriptionAdmin(Protocol):
    def reconcile(
        self,
        target: str,
        secret: str | None,
        *,
        all_projects: bool = False,
        secret_changed: bool = False,
    ) -> Iterator[Outcome]: ...


@dataclass(frozen=True)
class TrackerKind:
    name: str
    adapter: WebhookAdapter
    client: type[JiraClient] | type[AzureDevOpsClient]
    subscriptions: type[JiraWebhookAdmin] | type[AzureHooksAdmin]
    # the form its comments are written in: "adf", "wiki" or "html" (connector.document)
    comment_form: Callable[[TrackerConfig], str]
    # custom field ids to look up by name at a worker's start (None: ids are fixed)
    field_discovery: FieldDiscovery | None = None


KINDS: dict[str, TrackerKind] = {
    "jira": TrackerKind(
        "jira", jira, JiraClient, JiraWebhookAdmin, jira_comment_form, jira_field_discovery
    ),
    "azure-devops": TrackerKind(
        "azure-devops", azure_devops, AzureDevOpsClient, AzureHooksAdmin, ado_comment_form
    ),
}
KIND_NAMES: tuple[str, ...] = TRACKER_KINDS


def kind(name: str) -> TrackerKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown tracker kind {name!r}") from None


def adapter(tracker: TrackerConfig) -> WebhookAdapter:
    """The webhook adapter for a configured tracker."""
    return kind(tracker.kind).adapter


def make_client(
    tracker: TrackerConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_call: OnCall | None = None,
    environ: Mapping[str, str] | None = None,
    gate: CallGate | None = None,
) -> TrackerClient:
    """The write-back client for a configured tracker. Credentials are read from the
    environment variables the config names, now, and are kept only inside the client."""
    if not tracker.url:
        raise ValueError(f"tracker {tracker.name!r} has no url: nothing to write back to")
    return kind(tracker.kind).client(
        tracker, timeout=timeout, on_call=on_call, environ=environ, gate=gate
    )


def field_discovery(tracker: TrackerConfig) -> FieldDiscovery | None:
    """How the tracker's custom field ids are found by name; None when they need not be."""
    return kind(tracker.kind).field_discovery


def comment_form(tracker: TrackerConfig) -> str:
    """The form the tracker's comments are written in, for measuring them: "adf" (Jira
    Cloud), "wiki" (Jira Server/Data Center) or "html" (Azure DevOps)."""
    return kind(tracker.kind).comment_form(tracker)


def subscription_admin(
    tracker: TrackerConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
) -> SubscriptionAdmin:
    """What `pmo-bridge register` uses to reconcile the tracker's webhook subscriptions."""
    return kind(tracker.kind).subscriptions(tracker, timeout=timeout, environ=environ)


def subscription_config_problem(
    tracker: TrackerConfig, secret: str | None, *, all_projects: bool = False
) -> str | None:
    """What the config lacks for registering this tracker's webhooks; None when nothing."""
    return kind(tracker.kind).subscriptions.config_problem(
        tracker, secret, all_projects=all_projects
    )


def other_kind(name: str) -> str | None:
    """With two kinds, the one a bare cross-tracker owner id refers to (see
    `webhooks.governance.hierarchy`); None for an unknown kind."""
    others = [k for k in KINDS if k != name]
    return others[0] if name in KINDS and len(others) == 1 else None

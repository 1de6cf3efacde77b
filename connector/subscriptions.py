"""What `pmo-bridge register` asks of each tracker: list, create, replace and delete the
subscriptions at our URL, one `Outcome` per wanted subscription.

Neither tracker hands a secret back once stored, and nothing derived from the secret is
put where the tracker shows it: a fingerprint in a webhook's name would let anyone who
can read the name test guesses of the secret offline. Names are derived from the config
alone (`pmo-bridge <tracker>`, Basic user `pmo-bridge`), so a changed secret is pushed
when register is told (`--secret-changed`); only its presence is compared otherwise.

Clients reuse the write-back clients' construction (timeouts, library retries off) and
their one error translation, by extending them with the registration calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from azure.devops.v7_1.core.core_client import CoreClient
from azure.devops.v7_1.service_hooks.models import Subscription
from azure.devops.v7_1.service_hooks.service_hooks_client import ServiceHooksClient
from msrest.authentication import BasicAuthentication

from config.settings import TrackerConfig
from connector.azure_devops.adapter import EVENT_PARSERS as AZURE_DEVOPS_EVENTS
from connector.azure_devops.client import AzureDevOpsClient
from connector.clients import DEFAULT_TIMEOUT, error_for_status
from connector.jira.adapter import EVENT_PARSERS as JIRA_EVENTS
from connector.jira.client import JiraClient

BASIC_USER = "pmo-bridge"  # the service checks only the password
JIRA_ADMIN_BASE = "{server}/rest/webhooks/1.0/{path}"
JQL_FILTER = "issue-related-events-section"
# Inputs Azure DevOps adds to a subscription itself; they say nothing about our settings.
ADO_SERVER_INPUTS = frozenset({"tfsSubscriptionId"})
ADO_ACTIVE = frozenset({"enabled", "onProbation"})
ADO_SECRET_MAX = 256  # characters of a service hook's basic auth password


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated | unchanged | removed
    subject: str  # what it is, e.g. "jira webhook 'pmo-bridge jira'" or "workitem.created"
    target: str
    ident: str | None = None

    def line(self) -> str:
        ident = f" (id {self.ident})" if self.ident else ""
        return f"{self.action:<9} {self.subject} -> {self.target}{ident}"


def _same_url(a: str | None, b: str) -> bool:
    return (a or "").rstrip("/") == b.rstrip("/")


# -- Jira ---------------------------------------------------------------------------------


class JiraWebhookAdmin(JiraClient):
    """Jira admin webhooks (`/rest/webhooks/1.0/webhook`, Server/Data Center, and Cloud
    with an administrator's basic auth; Cloud's `/rest/api/3/webhook` is for Connect and
    OAuth apps only). The resource documents list, create, read and delete, not update,
    so a webhook that differs is replaced: the new one first, so no event goes missing."""

    @staticmethod
    def config_problem(
        tracker: TrackerConfig, secret: str | None, *, all_projects: bool = False
    ) -> str | None:
        """What the config lacks for registering, as one line; None when nothing."""
        if not all_projects and not jira_projects(tracker):
            # An empty filter sends every issue event of every project on the site.
            return (
                "set `projects` (e.g. [PAY, WEB]) to filter the webhook to them, "
                "or pass --all-projects"
            )
        return None

    def reconcile(
        self,
        target: str,
        secret: str | None,
        *,
        all_projects: bool = False,
        secret_changed: bool = False,
    ) -> Iterator[Outcome]:
        """Issue events are filtered to the tracker's projects (`project in (...)`), or
        not at all with `all_projects`; `secret_changed` replaces the webhook even when it
        looks the same (a stored secret cannot be read back to compare)."""
        jql = "" if all_projects else project_filter(jira_projects(self.tracker))
        name = f"pmo-bridge {self.name}"
        wanted: dict[str, Any] = {
            "name": name,
            "url": target,
            "events": list(JIRA_EVENTS),
            "filters": {JQL_FILTER: jql},
            "excludeBody": False,
        }
        ours = [h for h in self.list_webhooks() if _same_url(h.get("url"), target)]
        keep = None if secret_changed else next((h for h in ours if _jira_matches(h, wanted)), None)
        subject = f"jira webhook {name!r}"
        if keep is None:
            created = self.create_webhook({**wanted, **({"secret": secret} if secret else {})})
            for hook in ours:  # replaced: removed only once the new one exists
                self.delete_webhook(_jira_id(hook))
            yield Outcome("updated" if ours else "created", subject, target, _jira_id(created))
            return
        yield Outcome("unchanged", subject, target, _jira_id(keep))
        for hook in ours:
            if hook is not keep:
                self.delete_webhook(_jira_id(hook))
                yield Outcome("removed", f"duplicate {hook.get('name')!r}", target, _jira_id(hook))

    def list_webhooks(self) -> list[dict[str, Any]]:
        """GET /rest/webhooks/1.0/webhook"""
        with self._calling("list_webhooks"):
            response = self._jira._session.get(self._admin_url("webhook"))
            hooks = json.loads(response.text)
        if not isinstance(hooks, list):
            raise error_for_status(502, {}, "jira list_webhooks: answer is not a list")
        return [h for h in hooks if isinstance(h, dict)]

    def create_webhook(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /rest/webhooks/1.0/webhook  {name, url, events, filters, excludeBody, secret}"""
        with self._calling("create_webhook", write=True):
            response = self._jira._session.post(self._admin_url("webhook"), data=json.dumps(body))
            created = json.loads(response.text) if response.text.strip() else {}
        return created if isinstance(created, dict) else {}

    def delete_webhook(self, hook_id: str | None) -> None:
        """DELETE /rest/webhooks/1.0/webhook/{id}"""
        if not hook_id:
            raise error_for_status(502, {}, "jira delete_webhook: listed webhook has no id")
        with self._calling("delete_webhook", write=True):
            self._jira._session.delete(self._admin_url(f"webhook/{quote(hook_id, safe='')}"))

    def _admin_url(self, path: str) -> str:
        return self._jira._get_url(path, base=JIRA_ADMIN_BASE)


def jira_projects(tracker: TrackerConfig) -> tuple[str, ...]:
    return tracker.projects or ((tracker.project,) if tracker.project else ())


def project_filter(projects: Iterable[str]) -> str:
    """JQL for issue events of these projects: `project in (PAY, WEB)`; a key that is not
    a plain project key is quoted."""
    keys = []
    for key in projects:
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            keys.append(key)
        else:
            keys.append('"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return f"project in ({', '.join(keys)})" if keys else ""


def _jira_id(hook: Mapping[str, Any]) -> str | None:
    """Jira lists admin webhooks by `self` link (…/webhook/{id}); some answers add `id`."""
    if hook.get("id") is not None:
        return str(hook["id"])
    link = str(hook.get("self") or "").rstrip("/")
    if "/webhook/" not in link:
        return None
    return link.rsplit("/", 1)[-1] or None


def _jira_matches(hook: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    filters = hook.get("filters") if isinstance(hook.get("filters"), Mapping) else {}
    return (
        hook.get("name") == wanted["name"]
        and set(hook.get("events") or ()) == set(wanted["events"])
        and (filters.get(JQL_FILTER) or "").strip() == wanted["filters"][JQL_FILTER]
        and not hook.get("excludeBody")
        and hook.get("enabled", True) is not False
    )


# -- Azure DevOps -------------------------------------------------------------------------


class AzureHooksAdmin(AzureDevOpsClient):
    """Service hook subscriptions (webHooks consumer, httpRequest action) for the
    configured project, one per work item event the adapter parses."""

    def __init__(
        self,
        tracker: TrackerConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(tracker, timeout=timeout, environ=environ)
        _, token = tracker.credentials(environ)
        self._creds = creds = BasicAuthentication("", token or "")
        self._hooks = ServiceHooksClient(base_url=tracker.url, creds=creds)
        self._core = CoreClient(base_url=tracker.url, creds=creds)
        for client in (self._hooks, self._core):
            self._configure(client.config, timeout)

    @staticmethod
    def config_problem(
        tracker: TrackerConfig, secret: str | None, *, all_projects: bool = False
    ) -> str | None:
        """What the config lacks for registering, as one line; None when nothing. Service
        hooks belong to one project, so `all_projects` changes nothing here."""
        if not tracker.project:
            return "set `project` to register service hooks"
        if secret:
            where = tracker.webhook_secret_env or "the webhook secret"
            if any(ch.isspace() for ch in secret):
                return (
                    f"{where} contains whitespace, which Azure DevOps refuses in a service "
                    "hook's basic auth password"
                )
            if len(secret) > ADO_SECRET_MAX:
                return (
                    f"{where} is {len(secret)} characters; Azure DevOps takes at most "
                    f"{ADO_SECRET_MAX} in a service hook's basic auth password"
                )
        return None

    def reconcile(
        self,
        target: str,
        secret: str | None,
        *,
        all_projects: bool = False,
        secret_changed: bool = False,
    ) -> Iterator[Outcome]:
        project_id = self.project_id(str(self.tracker.project))
        consumer = {
            "url": target,
            "resourceDetailsToSend": "all",
            "messagesToSend": "none",
            "detailedMessagesToSend": "none",
        }
        if secret:
            consumer["basicAuthUsername"] = BASIC_USER
            consumer["basicAuthPassword"] = secret
        ours = [
            s
            for s in self.list_subscriptions()
            if _same_url((s.consumer_inputs or {}).get("url"), target)
        ]
        for event_type in AZURE_DEVOPS_EVENTS:
            wanted = Subscription(
                publisher_id="tfs",
                event_type=event_type,
                resource_version="1.0",
                consumer_id="webHooks",
                consumer_action_id="httpRequest",
                publisher_inputs={"projectId": project_id},
                consumer_inputs=dict(consumer),
            )
            same_event = [s for s in ours if s.event_type == event_type]
            keep = None
            if not secret_changed:
                keep = next((s for s in same_event if _ado_matches(s, wanted)), None)
            if keep is None and same_event:
                keep = same_event[0]
                wanted.status = "enabled"
                self.replace_subscription(wanted, keep.id)
                yield Outcome("updated", event_type, target, keep.id)
            elif keep is None:
                created = self.create_subscription(wanted)
                yield Outcome("created", event_type, target, created.id)
            else:
                yield Outcome("unchanged", event_type, target, keep.id)
            for extra in same_event:
                if extra is not keep:
                    self.delete_subscription(extra.id)
                    yield Outcome("removed", f"duplicate {event_type}", target, extra.id)

    def project_id(self, name: str) -> str:
        """GET {org}/_apis/projects/{name}"""
        with self._calling("get_project", name):
            project = self._core.get_project(name)
        return str(project.id)

    def list_subscriptions(self) -> list[Subscription]:
        """GET {org}/_apis/hooks/subscriptions?publisherId=tfs&consumerId=webHooks
        &consumerActionId=httpRequest"""
        with self._calling("list_subscriptions"):
            subs = self._hooks.list_subscriptions(
                publisher_id="tfs", consumer_id="webHooks", consumer_action_id="httpRequest"
            )
        return list(subs or [])

    def create_subscription(self, subscription: Subscription) -> Subscription:
        """POST {org}/_apis/hooks/subscriptions"""
        with self._calling("create_subscription"):
            return self._hooks.create_subscription(subscription)

    def replace_subscription(self, subscription: Subscription, subscription_id: str) -> None:
        """PUT {org}/_apis/hooks/subscriptions/{id}"""
        with self._calling("replace_subscription", subscription_id):
            self._hooks.replace_subscription(subscription, subscription_id)

    def delete_subscription(self, subscription_id: str) -> None:
        """DELETE {org}/_apis/hooks/subscriptions/{id}"""
        with self._calling("delete_subscription", subscription_id):
            self._hooks.delete_subscription(subscription_id)


def _inputs_match(
    have: Mapping[str, str] | None, want: Mapping[str, str], skip: Iterable[str]
) -> bool:
    """Every input we set has our value and no other input is set. A secret comes back
    masked, so for it only "set or not" is compared."""
    have = dict(have or {})
    for key in set(have) | set(want):
        if key in skip:
            continue
        if key == "basicAuthPassword":
            if bool(have.get(key)) != bool(want.get(key)):
                return False
        elif (have.get(key) or "") != (want.get(key) or ""):
            return False
    return True


def _ado_matches(have: Subscription, want: Subscription) -> bool:
    return (
        have.publisher_id == want.publisher_id
        and (have.resource_version or "1.0") == want.resource_version
        and str(have.status or "enabled") in ADO_ACTIVE
        and _inputs_match(have.publisher_inputs, want.publisher_inputs, ADO_SERVER_INPUTS)
        and _inputs_match(have.consumer_inputs, want.consumer_inputs, ())
    )

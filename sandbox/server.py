"""Run the sandbox trackers on loopback ports, in threads of this process."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable

from flask import Flask
from werkzeug.serving import make_server

from sandbox.azure_app import create_azure_app
from sandbox.azure_state import AzureState
from sandbox.faults import Call, Faults
from sandbox.jira_app import create_jira_app
from sandbox.jira_state import JiraState


def run_in_thread(
    app: Flask, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve `app` from a daemon thread; returns (base URL, stop). Port 0 picks a free one."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{app.name}", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return f"http://{host}:{server.server_port}", stop


def route_label(rule: str) -> str:
    """A Flask rule as a readable path template: /rest/api/{version}/issue/{id_or_key}.
    Spelling aliases (variables named with a leading underscore) show their first form."""
    rule = re.sub(r'<any\("([^"]+)"[^>]*:_\w+>', r"\1", rule)
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


class Sandbox:
    """Both trackers on loopback: `jira_url`, `azure_url` (organization URL), their states,
    `flush()` for outstanding webhooks and `api_calls()` per (tracker, method, route)."""

    def __init__(
        self,
        *,
        jira_webhook_url: str | None = None,
        jira_webhook_secret: str | None = None,
        azure_webhook_url: str | None = None,
        azure_webhook_secret: str | None = None,
        organization: str = "fabrikam",
        deployment: str = "cloud",
        host: str = "127.0.0.1",
    ) -> None:
        self.jira_state = JiraState()
        self.azure_state = AzureState(organization=organization)
        self.jira_app = create_jira_app(
            self.jira_state,
            webhook_url=jira_webhook_url,
            webhook_secret=jira_webhook_secret,
            deployment=deployment,
        )
        self.azure_app = create_azure_app(
            self.azure_state,
            organization=organization,
            webhook_url=azure_webhook_url,
            webhook_secret=azure_webhook_secret,
        )
        self.organization = organization
        self.host = host
        self.jira_url = ""
        self.azure_url = ""
        self._stops: list[Callable[[], None]] = []

    def start(self) -> Sandbox:
        self.jira_url, stop_jira = run_in_thread(self.jira_app, self.host)
        self._stops.append(stop_jira)
        base, stop_azure = run_in_thread(self.azure_app, self.host)
        self._stops.append(stop_azure)
        self.azure_url = f"{base}/{self.organization}"
        self.jira_state.base_url = self.jira_url
        self.azure_state.base_url = base
        return self

    def senders(self):
        return [
            self.jira_app.extensions["sandbox"]["sender"],
            self.azure_app.extensions["sandbox"]["sender"],
        ]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until both trackers have delivered (or given up on) every webhook."""
        return all(sender.flush(timeout) for sender in self.senders())

    def api_calls(self) -> Counter[tuple[str, str, str]]:
        out: Counter[tuple[str, str, str]] = Counter()
        for tracker, app in (("jira", self.jira_app), ("azure-devops", self.azure_app)):
            for (method, rule), count in app.extensions["sandbox"]["calls"].items():
                out[(tracker, method, route_label(rule))] += count
        return out

    def faults(self, tracker: str | None = None) -> list[Faults]:
        """The fault switches of one tracker ("jira", "azure-devops") or of both."""
        apps = {"jira": self.jira_app, "azure-devops": self.azure_app}
        names = [tracker] if tracker else list(apps)
        return [apps[name].extensions["sandbox"]["faults"] for name in names]

    def outage(self, seconds: float, status: int = 503, tracker: str | None = None) -> None:
        for faults in self.faults(tracker):
            faults.outage(seconds, status)

    def throttle(self, count: int, retry_after: float, tracker: str | None = None) -> None:
        for faults in self.faults(tracker):
            faults.throttle(count, retry_after)

    def latency(self, seconds: float, tracker: str | None = None) -> None:
        for faults in self.faults(tracker):
            faults.latency(seconds)

    def request_log(self) -> list[tuple[str, Call]]:
        """Every API call both trackers received, as (tracker, call), by arrival time."""
        out = [
            (name, call)
            for name in ("jira", "azure-devops")
            for call in self.faults(name)[0].calls()
        ]
        return sorted(out, key=lambda pair: pair[1].time)

    def stop(self) -> None:
        for sender in self.senders():
            sender.close(timeout=2)
        while self._stops:
            self._stops.pop()()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

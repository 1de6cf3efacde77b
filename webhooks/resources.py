"""What one process holds: settings, store, queue, rules and tracker clients.

Web processes use it to accept deliveries; governance to read and write items. It is
built once per process from settings, so a test can build one on a temporary folder. The
queue's tasks come on top of it, in `webhooks.worker.runtime`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar, cast

import huey
from huey.storage import SqliteStorage

from config.people_file import load_people
from config.settings import Settings
from connector.clients import TrackerClient
from connector.errors import TrackerError
from connector.model import Event
from connector.trackers import field_discovery, make_client
from rules.fields import field_kind
from webhooks.queue.backend import make_huey, ping
from webhooks.queue.holds import HoldingClient, TrackerGate
from webhooks.queue.refusals import Refusals
from webhooks.rulesource import RuleSource
from webhooks.store import DeadLetter, Store
from webhooks.store.supersession import DeliveryMarks
from webhooks.telemetry.metrics import record_tracker_call

log = logging.getLogger(__name__)
FIELD_NAMES_KEY = "pmo-bridge:field-names"  # + ":<tracker>": the names last read


READINESS_SECONDS = 2.0  # how long one readiness check answers /readyz


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


ClientFactory = Callable[..., TrackerClient]
Self = TypeVar("Self", bound="Resources")


class Resources:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: huey.Huey,
        rules: RuleSource,
        *,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.people = load_people(settings)  # fails closed on a bad people file
        self.store = store
        store.people = self.people
        self.huey = queue
        self.rules = rules
        self.clock = clock
        self._client_factory = client_factory or make_client
        self._clients: dict[str, TrackerClient] = {}
        self._clients_lock = threading.Lock()
        self._readiness_lock = threading.Lock()
        self._readiness: tuple[float, dict[str, dict[str, Any]]] | None = None
        self.refusals = Refusals(queue)

    @classmethod
    def from_settings(cls: type[Self], settings: Settings, **kwargs: Any) -> Self:
        rules = RuleSource(settings.rules)  # broken rules refuse before any file exists
        store = Store(settings.database_url)
        store.migrate()
        queue = make_huey(settings)
        _match_store_durability(queue)
        return cls(settings, store, queue, rules, **kwargs)

    # -- intake -------------------------------------------------------------------------

    def accept(self, tracker: str, delivery: str, event: Event, raw: bytes) -> int | None:
        """Persist a delivery; None when this delivery was seen before.

        One commit and nothing else: the row, "received", is the outbox from which the
        relay of a worker (`relay_received`) queues the task. A 202 after it loses
        nothing: the row outlives any process, and the relay or recovery queues it."""
        return self.store.record_delivery(
            tracker,
            delivery,
            event.native_event,
            raw,
            status="received",
            replay_window=self.settings.replay_window_seconds,
            marks=DeliveryMarks.of(event, self.settings.tracker(tracker).bot_account),
        )

    # -- tracker clients ----------------------------------------------------------------

    def client(self, tracker_name: str) -> TrackerClient | None:
        """The write-back client for a tracker, or None when it has no URL configured
        (intake-only: findings are recorded but nothing is written)."""
        tracker = self.settings.tracker(tracker_name)
        if not tracker.url:
            return None
        with self._clients_lock:
            if tracker_name not in self._clients:
                gate = TrackerGate(self.huey, tracker_name)
                if self._client_factory is make_client:
                    client = make_client(tracker, on_call=record_tracker_call, gate=gate)
                else:  # a test's own factory: the gate around each method still holds
                    client = self._client_factory(tracker, on_call=record_tracker_call)
                held = HoldingClient(client, self.huey, tracker_name, gate)
                self._clients[tracker_name] = cast(TrackerClient, held)
            return self._clients[tracker_name]

    def discover_fields(self) -> dict[str, dict[str, str]]:
        """Read each tracker's field list once, at a worker's start (Jira GET
        /rest/api/{2,3}/field, Azure DevOps GET _apis/wit/fields), for two things: the
        Jira field ids the configuration leaves open (epic_link, parent_link, estimate,
        start_date), found by name and logged; and the tracker's display name of every
        field under `fields:` (`field_names`), which hints show ("Set Mitigation plan").
        A tracker that cannot answer keeps the defaults and its configured names: the
        worker starts anyway. Returns tracker -> name -> id found."""
        trackers = dict(self.settings.trackers)
        discovered: dict[str, dict[str, str]] = {}
        changed = False
        for name, tracker in trackers.items():
            discovery = field_discovery(tracker)
            names = discovery.wanted(tracker.fields) if discovery and tracker.url else []
            client = self.client(name) if (names or tracker.fields) and tracker.url else None
            if client is None:
                continue
            try:
                listed = client.list_fields()
            except TrackerError as exc:
                # kept as named before field names were read on every tracker
                event = "jira.fields.not_discovered" if names else "fields.names_not_read"
                log.warning(event, extra={"tracker": name, "error": str(exc)})
                # the names another worker (or an earlier start) read: hints stay the same
                known = self._stored_field_names(name)
                if known:
                    trackers[name] = replace(tracker, field_names={**tracker.field_names, **known})
                    changed = True
                continue
            found = discovery.field_ids_by_name(listed, names) if discovery and names else {}
            ids = {key: ident for key, (ident, _) in found.items()}
            if names:
                log.info(
                    "jira.fields.discovered",
                    extra={
                        "tracker": name, "found": ids, "not_found": sorted(set(names) - set(ids))
                    },
                )  # fmt: skip
            fields = {**tracker.fields, **ids}
            # custom fields only: common-model fields (estimate, due_date) keep their names
            # in hints unless configured, whether or not the field list could be read
            shown = site_field_names(
                listed, {k: v for k, v in fields.items() if field_kind(k) is None}
            )
            self._store_field_names(name, shown)
            updated = replace(
                tracker,
                fields=fields,
                field_labels={**tracker.field_labels, **{k: lb for k, (_, lb) in found.items()}},
                field_names={**tracker.field_names, **shown},
            )
            if updated != tracker:
                trackers[name], changed = updated, True
            if ids:
                discovered[name] = ids
        if changed:
            self.settings = replace(self.settings, trackers=trackers)
            with self._clients_lock:
                self._clients.clear()  # they read items with the tracker's field map
        return discovered

    def _stored_field_names(self, tracker: str) -> dict[str, str]:
        try:
            raw = self.huey.get(f"{FIELD_NAMES_KEY}:{tracker}", peek=True)
            value = json.loads(raw) if raw else {}
        except Exception:  # no queue store, or not JSON: the configured names
            return {}
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v)[:200] for k, v in value.items() if isinstance(v, str)}

    def _store_field_names(self, tracker: str, names: dict[str, str]) -> None:
        """Kept in the queue's key-value store, so a worker that cannot read the field list
        at its start shows the names the others do (hints never flip between workers)."""
        try:
            self.huey.put(f"{FIELD_NAMES_KEY}:{tracker}", json.dumps(names))
        except Exception:
            log.warning("fields.names_not_stored", extra={"tracker": tracker})

    # -- operations ---------------------------------------------------------------------

    def queue_depth(self) -> int:
        """Deliveries waiting: received ones the relay has not queued yet, and queued ones
        (a queue task carries several), counted in the store."""
        return self.store.waiting_count()

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Store (answers and takes a write), queue and rules (re-read from disk when they
        changed), checked afresh at most every READINESS_SECONDS: /readyz is public, and
        the store's probe is a write."""
        with self._readiness_lock:
            now = time.monotonic()
            if self._readiness is None or now - self._readiness[0] >= READINESS_SECONDS:
                self._readiness = (now, self._check_readiness())
            checks = dict(self._readiness[1])
        # Writes a tracker refuses for good (permissions, site configuration) do not make
        # the service unready: the other parts are still written. Shown once per tracker
        # and part, with the tracker's reason; read afresh (a cheap key-value read), so a
        # part written again clears at once.
        try:
            refused = self.refusals.current(self.settings.trackers)
        except Exception as exc:
            refused = {"error": type(exc).__name__}
        checks["writes"] = {"ok": True, "refused": refused}
        return checks

    def _check_readiness(self) -> dict[str, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {}
        for name, probe in (("store", self._store_check), ("queue", lambda: ping(self.huey))):
            try:
                result = probe()
                checks[name] = result if isinstance(result, dict) else {"ok": bool(result)}
            except Exception as exc:
                checks[name] = {"ok": False, "error": type(exc).__name__}
        # The rules on disk now, not as the last reader of them left them.
        try:
            self.rules.current()
        except Exception as exc:  # reported below as the rules' own error
            log.error("rules.check_failed", extra={"error": type(exc).__name__})
        # Refused rules files do not make the service unready: the last good rules run on
        # (taking traffic away would lose events); the errors are shown here instead.
        rules = self.rules.status()
        checks["rules"] = {
            "ok": rules["ok"] or rules["running_last_good"],
            **{k: v for k, v in rules.items() if k != "ok"},
        }
        checks["webhooks"] = self._webhook_auth()
        return checks

    def _store_check(self) -> dict[str, Any]:
        if not self.store.ping():
            return {"ok": False, "error": "the store does not answer"}
        if not self.store.probe_write():  # a full disk, a read-only file or replica
            return {"ok": False, "error": "the store does not take writes"}
        return {"ok": True}

    def _webhook_auth(self) -> dict[str, Any]:
        """Trackers whose deliveries nothing authenticates (allowed by config), and those
        refusing every delivery for want of a secret: neither stops readiness."""
        unsigned, refusing = [], []
        for tracker in self.settings.trackers.values():
            if tracker.secret() is None:
                (unsigned if tracker.allow_unsigned else refusing).append(tracker.name)
        return {"ok": True, "unsigned": unsigned, "no_secret_refusing": refusing}

    def dead_letters(self, include_replayed: bool = False) -> list[DeadLetter]:
        return self.store.list_dead_letters(include_replayed=include_replayed)

    def reload_rules(self) -> dict[str, Any]:
        result = self.rules.reload(force=True)
        with self._readiness_lock:
            self._readiness = None  # the next /readyz shows this reload
        return result


def _match_store_durability(queue: huey.Huey) -> None:
    """Give an embedded SQLite queue the store's durability: WAL with synchronous=NORMAL,
    where a commit survives a crash of the process (it is in the WAL file) and only a
    power cut or OS crash can take back the last ones. SqliteHuey's default, FULL,
    fsyncs on every enqueue; it tripled the cost of the enqueue half of intake while the
    delivery row it points at (the record recovery works from) is NORMAL anyway.
    Huey keeps one connection per storage; should it ever open another, that one is FULL
    again, which is only slower."""
    if isinstance(queue.storage, SqliteStorage):
        queue.storage.sql("pragma synchronous = NORMAL")


def site_field_names(listed: Any, fields: Mapping[str, str]) -> dict[str, str]:
    """Name as under `fields:` -> the tracker's display name of the field it maps to,
    from a field list of `{"id", "name"}` entries (Jira ids, Azure DevOps reference
    names; compared without case, as Azure DevOps does)."""
    by_id: dict[str, str] = {}
    for entry in listed if isinstance(listed, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            by_id.setdefault(str(entry.get("id")).casefold(), entry["name"][:200])
    return {
        key: by_id[ident.casefold()] for key, ident in fields.items() if ident.casefold() in by_id
    }

"""One replay: a fresh sandbox, the stream posted in bursts to `pmo-bridge serve` (or to
the naive consumer), faults injected on the way, then the figures taken from the
sandbox's request log and its final state."""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.replay_service import (
    NaiveConsumer,
    Poster,
    Sent,
    Service,
    final_state,
    machine_busy_seconds,
    wait_drained,
)
from bench.replay_stream import (
    AZURE_BOT,
    JIRA_BOT,
    RULE_IDS,
    Plan,
    Stream,
    deliveries,
    prepare_sandbox,
    write_pack,
)
from sandbox import Sandbox

BOTS = {JIRA_BOT, AZURE_BOT}
_ITEM = (
    ("jira", re.compile(r"/issue/([A-Z][A-Z0-9]*-\d+)")),
    ("azure-devops", re.compile(r"/work[iI]tems/(\d+)", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Fault:
    """`action` at `at` (share of the stream posted): kill | outage | throttle | pg-restart."""

    at: float
    action: str
    seconds: float = 0.0  # outage length / Retry-After
    count: int = 0  # calls answered 429


@dataclass
class Write:
    tracker: str
    item: str
    kind: str  # comment | labels
    time: float
    failing: frozenset[str] = frozenset()  # comment: the rules it reports failing
    labels: frozenset[str] = frozenset()  # labels: the managed labels after the write


@dataclass
class Result:
    name: str
    sent: list[Sent]
    post_seconds: float
    drain_seconds: float
    drained: bool
    writes: list[Write]
    refused: int  # write calls answered with an error (faults, conflicts)
    calls: list[tuple[str, Any]]
    state: dict[str, Any]
    dead_letters: int = 0
    fault_log: list[str] = field(default_factory=list)
    throttles: list[tuple[str, float, float]] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # `trace_item`'s story, when asked
    stuck: list[str] = field(default_factory=list)  # what was left when not drained
    worker_cpu: float = 0.0  # CPU seconds of the queue worker processes
    web_cpu: float = 0.0  # CPU seconds of serve and its web workers
    workers: int = 1  # queue worker processes
    machine_busy: float = 0.0  # CPU seconds every process of the machine used while draining
    no_op_writes: list[str] = field(default_factory=list)  # `attribution`'s, described

    # -- figures -------------------------------------------------------------------------
    @property
    def state_changes(self) -> int:
        return sum(1 for s in self.sent if s.delivery.changes_state)

    @property
    def accepted(self) -> Counter[int]:
        return Counter(s.status for s in self.sent)

    def attribution(self) -> tuple[list[float], int, int]:
        """(latencies in seconds, writes that changed nothing, state changes never
        written on their own).

        A comment write carries the failing rules it reports; it answers the newest
        state-changing delivery for the item whose change was made before the write and
        left those rules failing; its latency runs from that delivery's post. Older
        state changes not yet answered were superseded (a later state was written
        instead). A write that leaves the item's managed state as it was (the same
        failing rules as its managed comment already shows, the same managed labels) is
        a write for no-op events."""
        self.no_op_writes = []
        events: dict[str, list[Sent]] = defaultdict(list)
        for s in self.sent:
            if s.delivery.changes_state:
                events[s.delivery.item].append(s)
        no_op = answered = 0
        latencies: list[float] = []
        shown: dict[str, frozenset[str]] = {}  # failing rules each managed comment shows
        labels: dict[str, frozenset[str]] = {}
        done: dict[str, int] = defaultdict(int)  # owed deliveries already looked at
        for w in sorted(self.writes, key=lambda w: w.time):
            if w.kind == "labels":
                if labels.get(w.item, frozenset()) == w.labels:
                    no_op += 1
                    self.no_op_writes.append(f"{w.item} labels {sorted(w.labels)} at {w.time:.3f}")
                labels[w.item] = w.labels
                continue
            if w.item in shown and shown[w.item] == w.failing:
                no_op += 1
                self.no_op_writes.append(f"{w.item} comment {sorted(w.failing)} at {w.time:.3f}")
                continue
            shown[w.item] = w.failing
            owed = sorted(events.get(w.item, []), key=lambda s: s.delivery.made_at)
            start = done[w.item]
            made = [s for s in owed[start:] if s.delivery.made_at <= w.time]
            match = [s for s in made if s.delivery.failing == w.failing]
            if match:
                latencies.append(max(0.0, w.time - match[-1].sent_at))
                answered += 1
                done[w.item] = start + made.index(match[-1]) + 1
        return latencies, no_op, self.state_changes - answered

    def off_stream(self) -> list[str]:
        """Items whose final managed state is not what the newest delivery posted for them
        calls for: the `pmo-unowned` label exactly when owner-in-progress fails, and a
        managed comment naming exactly the failing rules (none, or an "all pass" one,
        when nothing fails). Unlike a clean-vs-faulted comparison, this holds each run
        to the stream itself."""
        newest: dict[str, Sent] = {}
        for s in self.sent:
            if s.delivery.kind != "duplicate":
                if (
                    s.delivery.item not in newest
                    or s.delivery.seq > newest[s.delivery.item].delivery.seq
                ):
                    newest[s.delivery.item] = s
        out = []
        for item, s in sorted(newest.items()):
            failing = s.delivery.failing
            labels, texts = self.state.get(item, ((), ()))
            wanted = ("pmo-unowned",) if "owner-in-progress" in failing else ()
            shown = frozenset(r for r in RULE_IDS if texts and r in texts[-1])
            if tuple(labels) != wanted or shown != failing:
                out.append(
                    f"{item}: newest delivery (seq {s.delivery.seq}) fails {sorted(failing)}; shows "
                    f"labels {list(labels)}, comment naming {sorted(shown)}"
                )
        return out

    def first_write_latencies(self) -> list[float]:
        """Post -> the next write on the same item, per state change (for the naive
        consumer, whose comments name no rules)."""
        writes: dict[str, list[float]] = defaultdict(list)
        for w in self.writes:
            writes[w.item].append(w.time)
        out = []
        for s in self.sent:
            if s.delivery.changes_state:
                after = [t for t in writes.get(s.delivery.item, []) if t >= s.sent_at]
                if after:
                    out.append(min(after) - s.sent_at)
        return out

    def retry_after_violations(self, grace: float = 0.05) -> list[str]:
        """Calls that reached a tracker after it answered 429 and before its Retry-After
        ran out (`grace` allows for calls already on the wire when the 429 left)."""
        out = []
        for tracker, answered, until in self.throttles:
            for name, call in self.calls:
                if name == tracker and answered + grace < call.time < until:
                    out.append(f"{tracker} {call.method} {call.path} {call.time - answered:.3f}s")
        return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- running ---------------------------------------------------------------------------------


def capture_bodies(sandbox: Sandbox) -> None:
    """Keep the body of every write call in the request log (to tell what it wrote)."""
    from flask import request

    for faults in sandbox.faults():
        original = faults.arrive

        def arrive(method: str, path: str, _original: Any = original) -> Any:
            call, refused = _original(method, path)
            if method not in ("GET", "HEAD", "OPTIONS"):
                call.body = request.get_data()
            return call, refused

        faults.arrive = arrive  # type: ignore[method-assign]


def write_calls(calls: list[tuple[str, Any]]) -> tuple[list[Write], int]:
    """The bots' applied writes on items, in arrival order, and the refused ones."""
    writes, refused = [], 0
    labels: dict[str, set[str]] = defaultdict(set)
    for tracker, call in calls:
        if call.actor not in BOTS or call.method in ("GET", "HEAD", "OPTIONS"):
            continue
        name, pattern = next(p for p in _ITEM if p[0] == tracker)
        match = pattern.search(call.path)
        if match is None or call.path.lower().endswith(("/wiql", "workitemsbatch")):
            continue
        if call.status is None or not 200 <= call.status < 300:
            refused += 1
            continue
        item = f"{name}:{match.group(1)}"
        body = getattr(call, "body", b"") or b""
        if "/comment" in call.path.lower():
            text = body.decode("utf-8", "replace")
            failing = frozenset(r for r in RULE_IDS if r in text)
            writes.append(Write(tracker, item, "comment", call.time, failing=failing))
            continue
        labels[item] = _labels_after(labels[item], body)
        writes.append(Write(tracker, item, "labels", call.time, labels=frozenset(labels[item])))
    return writes, refused


def _labels_after(current: set[str], body: bytes) -> set[str]:
    """Managed labels after a Jira `update.labels` or an Azure DevOps System.Tags patch."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return current
    if isinstance(data, dict):  # Jira: {"update": {"labels": [{"add": x}, {"remove": y}]}}
        out = set(current)
        for verb in (data.get("update") or {}).get("labels") or []:
            out |= {verb["add"]} if "add" in verb else set()
            out -= {verb["remove"]} if "remove" in verb else set()
        return {lb for lb in out if lb.startswith("pmo-")}
    for op in data or []:  # Azure DevOps: [test /rev, add /fields/System.Tags]
        if op.get("path") == "/fields/System.Tags":
            tags = str(op.get("value") or "").split(";")
            return {t.strip() for t in tags if t.strip().startswith("pmo-")}
    return current


def run_replay(
    plan: Plan,
    *,
    naive: bool = False,
    faults: list[Fault] = (),  # type: ignore[assignment]
    database_url: str | None = None,
    drain_timeout: float = 300.0,
    service_options: dict[str, Any] | None = None,
    on_fault: Any = None,
    trace_item: str | None = None,
    redis_url: str | None = None,
    workers: int = 1,
    backlog: bool = False,
    rate: float | None = None,
    threads: int | None = None,
) -> Result:
    """One replay. `workers`: queue worker processes. `backlog`: every delivery is posted
    before the workers start (the drain then measures the workers alone). `rate`: post at
    that steady rate (deliveries per second), ignoring the plan's bursts and pauses."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="pmo-bridge-replay-") as tmp, Sandbox() as sandbox:
        folder = Path(tmp)
        prepare_sandbox(sandbox)
        pack = write_pack(folder)
        stream = Stream(sandbox, pack, items=plan.items, seed=plan.seed)
        capture_bodies(sandbox)
        service = consumer = None
        cpu_at_start = 0.0
        fault_log: list[str] = []
        throttles: list[tuple[str, float, float]] = []
        background: list[threading.Thread] = []
        try:
            if naive:
                consumer = NaiveConsumer(sandbox)
                port = consumer.port
            else:
                service = Service(
                    folder,
                    sandbox,
                    pack,
                    database_url=database_url,
                    redis_url=redis_url,
                    queue_workers=0 if backlog else workers,
                    worker_threads=threads,
                    **(service_options or {}),
                )
                port = service.port
            poster = Poster(port)
            todo = sorted(faults, key=lambda f: f.at)
            started = time.monotonic()
            posted = 0
            try:
                for delivery in deliveries(stream, plan):
                    if isinstance(delivery, float):  # the pause after a burst
                        if rate is None:
                            time.sleep(delivery)
                        continue
                    if rate is not None:  # steady: the n-th post at start + n / rate
                        time.sleep(max(0.0, started + posted / rate - time.monotonic()))
                    while todo and posted >= todo[0].at * plan.events:
                        fault = todo.pop(0)
                        for thread in background:  # one fault at a time
                            thread.join()
                        thread = _inject(fault, service, sandbox, database_url, fault_log, on_fault)
                        if thread is not None:
                            background.append(thread)
                    poster.put(delivery)
                    posted += 1
            finally:
                poster.close()
            post_seconds = time.monotonic() - started
            for thread in background:
                thread.join()
            if service is not None and backlog:
                received = service.store()
                try:  # intake has answered every post; wait for its group commits
                    while received.received_count() < sum(
                        1 for s in poster.sent if s.status == 202
                    ):
                        time.sleep(0.05)
                finally:
                    received.close()
                service.start_workers(workers)
                first = service.store()
                try:  # the clock starts with the first delivery done, not process start-up
                    deadline = time.monotonic() + 120
                    while first.delivery_counts()["done"] == 0 and time.monotonic() < deadline:
                        time.sleep(0.01)
                finally:
                    first.close()
                cpu_at_start = service.cpu()[0]
            drain_started = time.monotonic()
            busy_at_start = machine_busy_seconds()
            drained = True
            dead = 0
            stuck: list[str] = []
            if service is not None:
                store = service.store()
                drained = wait_drained(store, drain_timeout)
                dead = len(store.list_dead_letters())
                if not drained:
                    from bench.replay_trace import stuck as stuck_rows

                    stuck = stuck_rows(store, folder / "serve.log")
                store.close()
            else:
                time.sleep(0.5)
            drain_seconds = time.monotonic() - drain_started
            machine_busy = machine_busy_seconds() - busy_at_start
            worker_cpu, web_cpu = service.cpu() if service is not None else (0.0, 0.0)
            if backlog:
                worker_cpu -= cpu_at_start
        finally:
            for thread in background:
                thread.join()
            if service is not None:
                service.stop()
            if consumer is not None:
                consumer.stop()
        calls = sandbox.request_log()
        for tracker, call in calls:
            if call.status == 429:
                seconds = next((f.seconds for f in faults if f.action == "throttle"), 0.0)
                throttles.append((tracker, call.time, call.time + seconds))
        writes, refused = write_calls(calls)
        story = _trace(trace_item, poster.sent, calls, folder, service) if trace_item else []
        return Result(
            "naive" if naive else "pmo-bridge",
            poster.sent,
            post_seconds,
            drain_seconds,
            drained,
            writes,
            refused,
            calls,
            final_state(sandbox),
            dead,
            fault_log,
            throttles,
            story,
            stuck,
            worker_cpu,
            web_cpu,
            workers,
            machine_busy=machine_busy,
        )


def _trace(item: str, sent: list[Sent], calls: Any, folder: Path, service: Any) -> list[str]:
    from bench.replay_trace import trace

    store = service.store() if service is not None else None
    try:
        return trace(item, sent, calls, folder / "serve.log", store)
    finally:
        if store is not None:
            store.close()


def _inject(
    fault: Fault,
    service: Service | None,
    sandbox: Sandbox,
    database_url: str | None,
    log: list[str],
    on_fault: Any,
) -> threading.Thread | None:
    stamp = time.strftime("%H:%M:%S")
    if on_fault is not None:
        on_fault(fault)
    if fault.action == "kill" and service is not None:

        def kill() -> None:
            pid = service.kill_worker()
            log.append(
                f"{stamp} worker pid {pid} killed (SIGKILL); restarted as {service.worker_pid()}"
            )

        thread = threading.Thread(target=kill)
        thread.start()
        return thread
    if fault.action == "outage":
        sandbox.outage(fault.seconds, 503)
        log.append(f"{stamp} both trackers answer 503 for {fault.seconds:g} s")
    elif fault.action == "throttle":
        sandbox.throttle(fault.count, fault.seconds)
        log.append(
            f"{stamp} both trackers answer 429 (Retry-After: {fault.seconds:g}) "
            f"to their next {fault.count} calls"
        )
    elif fault.action == "pg-restart" and database_url:
        killed = terminate_backends(database_url)
        log.append(f"{stamp} pg_terminate_backend on {killed} connections of the store")
    return None


def terminate_backends(database_url: str) -> int:
    """What a store restart looks like to its clients: every connection to the database
    is closed from the server side."""
    import sqlalchemy as sa

    url = sa.engine.make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": url.database},
            ).all()
        return sum(1 for (ok,) in rows if ok)
    finally:
        admin.dispose()


def create_database(base_url: str, name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(base_url: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()

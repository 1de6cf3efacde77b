"""Processes and plumbing for the replay: `pmo-bridge serve` as a real subprocess wired to
the sandbox trackers, a poster that delivers bursts the way the trackers do (same id on a
retry), and the naive comment-per-event consumer used as the baseline."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask, request

from bench.replay_stream import (
    AZURE_BOT,
    AZURE_BOT_PAT,
    AZURE_PROJECT,
    AZURE_SECRET,
    JIRA_BOT,
    JIRA_BOT_TOKEN,
    JIRA_SECRET,
    Delivery,
)
from sandbox import Sandbox, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (all its threads), from /proc; 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (every process: the service, the
    sandbox trackers, PostgreSQL, Redis), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        out += children
        todo += children
    return out


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # comm may hold spaces
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(entry.name), cmd))
    return [p for p, cmd in found if "webhooks.commands.main worker" in cmd]


class Service:
    """`pmo-bridge serve` in `folder`, configured for the sandbox's two trackers."""

    def __init__(
        self,
        folder: Path,
        sandbox: Sandbox,
        pack: Path,
        *,
        database_url: str | None = None,
        workers: int = 2,
        retry_base_seconds: float = 2.0,
        max_retries: int = 6,
        redis_url: str | None = None,
        queue_workers: int = 1,
        worker_threads: int | None = None,
    ) -> None:
        """`queue_workers`: worker processes; the first is serve's embedded one, the
        others `pmo-bridge worker` processes beside it (0: none until `start_workers`)."""
        self.folder = folder
        self.database_url = database_url or f"sqlite:///{folder / 'store.db'}"
        config = folder / "pmo-bridge.yaml"
        config.write_text(
            "trackers:\n"
            "  jira:\n"
            f"    {{kind: jira, url: '{sandbox.jira_url}', deployment: cloud,\n"
            "     auth: {user_env: REPLAY_JIRA_USER, token_env: REPLAY_JIRA_TOKEN},\n"
            f"     webhook_secret_env: REPLAY_JIRA_SECRET, bot_account: {JIRA_BOT}}}\n"
            "  azure-devops:\n"
            f"    {{kind: azure-devops, url: '{sandbox.azure_url}', project: {AZURE_PROJECT},\n"
            "     auth: {token_env: REPLAY_AZURE_PAT},\n"
            f"     webhook_secret_env: REPLAY_AZURE_SECRET, bot_account: '{AZURE_BOT}'}}\n"
            f"rules: ['{pack}']\n"
            f"queue_path: '{folder / 'queue.db'}'\n"
            f"retry_base_seconds: {retry_base_seconds}\n"
            f"max_retries: {max_retries}\n" + (f"redis_url: '{redis_url}'\n" if redis_url else "")
        )
        self.config = config
        self.extra: list[subprocess.Popen[bytes]] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PMO_BRIDGE_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        self.env = env
        env.update(
            PMO_BRIDGE_DATABASE_URL=self.database_url,
            REPLAY_JIRA_USER=JIRA_BOT,
            REPLAY_JIRA_TOKEN=JIRA_BOT_TOKEN,
            REPLAY_AZURE_PAT=AZURE_BOT_PAT,
            REPLAY_JIRA_SECRET=JIRA_SECRET,
            REPLAY_AZURE_SECRET=AZURE_SECRET,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        self.port = free_port()
        self.log = open(folder / "serve.log", "wb")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "webhooks.commands.main", "serve", "--config", str(config)),
                *("--port", str(self.port), "--workers", str(workers)),
                *(() if queue_workers else ("--no-worker",)),
            ],
            cwd=folder,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.kills = 0
        try:
            self._wait(self._healthy, "serve to answer /healthz")
            if queue_workers:
                self._wait(self.worker_pid, "the embedded queue worker")
                self.start_workers(queue_workers - 1)
        except BaseException:
            self.stop()
            raise

    def _wait(self, check: Any, what: str, timeout: float = START_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited ({self.proc.returncode}); see {self.log.name}")
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}")

    def _healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    def start_workers(self, count: int) -> None:
        """`count` more `pmo-bridge worker` processes on the same store and queue."""
        for _ in range(count):
            self.extra.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "webhooks.commands.main", "worker"),
                        *("--config", str(self.config)),
                    ],
                    cwd=self.folder,
                    env=self.env,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                )
            )

    def worker_pids(self) -> list[int]:
        """The queue worker processes now running (embedded and extra)."""
        return [*children_of(self.proc.pid), *(p.pid for p in self.extra if p.poll() is None)]

    def cpu(self) -> tuple[float, float]:
        """(CPU seconds of the queue workers, of serve and its web workers) so far."""
        workers = set(self.worker_pids())
        web = [self.proc.pid, *(p for p in descendants(self.proc.pid) if p not in workers)]
        return sum(map(cpu_seconds, workers)), sum(map(cpu_seconds, web))

    def worker_pid(self) -> int | None:
        pids = children_of(self.proc.pid)
        return pids[0] if pids else None

    def kill_worker(self) -> int:
        """SIGKILL the queue worker; returns once serve has started a new one."""
        pid = self._wait(self.worker_pid, "a queue worker")
        os.kill(pid, signal.SIGKILL)
        self.kills += 1
        self._wait(lambda: (self.worker_pid() or pid) != pid, "the worker's restart", 90)
        return pid

    def store(self) -> Any:
        from webhooks.store import Store

        return Store(self.database_url)

    def stop(self) -> None:
        for extra in self.extra:
            if extra.poll() is None:
                extra.send_signal(signal.SIGTERM)
        for extra in self.extra:
            try:
                extra.wait(timeout=20)
            except subprocess.TimeoutExpired:
                extra.kill()
                extra.wait()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_drained(store: Any, timeout: float) -> bool:
    """True once no delivery is unfinished: received, queued (retries included) or
    processing."""
    from webhooks.store.records import UNFINISHED_STATUSES

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            counts = store.delivery_counts()
        except Exception:  # the store may be restarting under us: ask again
            counts = {"queued": 1}
        if sum(counts.get(status, 0) for status in UNFINISHED_STATUSES) == 0:
            return True
        time.sleep(0.2)
    return False


# -- posting ------------------------------------------------------------------------------


@dataclass
class Sent:
    delivery: Delivery
    sent_at: float  # epoch seconds, first attempt
    status: int = 0
    attempts: int = 0


class Poster:
    """Posts deliveries from a queue with `threads` keep-alive connections; a 5xx or a
    dropped connection is retried with the same delivery id and body, as Jira and Azure
    DevOps do, up to `tries` times."""

    def __init__(self, port: int, threads: int = 8, tries: int = 8, retry_delay: float = 0.5):
        self.port, self.tries, self.retry_delay = port, tries, retry_delay
        self.sent: list[Sent] = []
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=threads)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def put(self, delivery: Delivery) -> None:
        self._queue.put(delivery)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while (delivery := self._queue.get()) is not None:
            sent, conn = self._deliver(conn, delivery)
            with self._lock:
                self.sent.append(sent)
        conn.close()

    def _deliver(self, conn: http.client.HTTPConnection, d: Delivery) -> tuple[Sent, Any]:
        sent = Sent(d, time.time())
        for attempt in range(1, self.tries + 1):
            sent.attempts = attempt
            try:
                conn.request("POST", d.path, d.body, d.headers())
                response = conn.getresponse()
                response.read()
                sent.status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                sent.status = 0
            if 0 < sent.status < 500:
                break
            time.sleep(self.retry_delay * attempt)
        return sent, conn


# -- the naive baseline: one comment per delivery ------------------------------------------


class NaiveConsumer:
    """What a simple automation rule does: for every delivery, post a comment on the
    item, synchronously, with no de-duplication and no ordering."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._local = threading.local()
        app = Flask("replay.naive")

        @app.post("/webhooks/<tracker>")
        def hook(tracker: str):
            payload = request.get_json(force=True)
            self.comment(tracker, payload)
            return "", 200

        self.url, self._stop = run_in_thread(app)
        self.port = int(self.url.rsplit(":", 1)[1])

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def comment(self, tracker: str, payload: dict[str, Any]) -> None:
        text = f"Automation: {payload.get('webhookEvent') or payload.get('eventType')} received."
        if tracker == "jira":
            key = payload["issue"]["key"]
            self._session().post(
                f"{self.sandbox.jira_url}/rest/api/2/issue/{key}/comment",
                json={"body": text},
                auth=(JIRA_BOT, JIRA_BOT_TOKEN),
                timeout=10,
            )
            return
        resource = payload["resource"]
        item_id = resource.get("workItemId") or resource["id"]
        self._session().post(
            f"{self.sandbox.azure_url}/{AZURE_PROJECT}/_apis/wit/workItems/{item_id}/comments",
            params={"api-version": "7.1-preview.4"},
            json={"text": text},
            auth=("", AZURE_BOT_PAT),
            timeout=10,
        )

    def stop(self) -> None:
        self._stop()


def final_state(sandbox: Sandbox) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per item: the managed labels/tags and the text of every bot comment."""
    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    with sandbox.jira_state.lock:
        for issue in sandbox.jira_state.issues.values():
            labels = tuple(sorted(lb for lb in issue.fields["labels"] if lb.startswith("pmo-")))
            texts = tuple(
                json.dumps(c["body"], sort_keys=True)
                for c in issue.comments
                if c["author"] == JIRA_BOT
            )
            out[f"jira:{issue.key}"] = (labels, texts)
    with sandbox.azure_state.lock:
        for item in sandbox.azure_state.items.values():
            tags = str(item.fields.get("System.Tags") or "")
            labels = tuple(
                sorted(t.strip() for t in tags.split(";") if t.strip().startswith("pmo-"))
            )
            texts = tuple(
                c["text"]
                for c in item.comments
                if c["createdBy"] == AZURE_BOT and not c["isDeleted"]
            )
            out[f"azure-devops:{item.id}"] = (labels, texts)
    return out


ALL_PASS = "All PMO rules pass"


def effective(state: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[tuple[str, ...], str]:
    """What an item tells its PM: managed labels and the managed comment's text, where no
    comment and an "all rules pass" comment say the same. (Whether an item that was
    briefly non-compliant ever got a comment depends on when the service saw it.)"""
    labels, texts = state
    shown = [t for t in texts if ALL_PASS not in t]
    return labels, shown[-1] if shown else ALL_PASS

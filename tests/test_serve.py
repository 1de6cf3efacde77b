"""`pmo-bridge serve` and `pmo-bridge worker` as real processes on a loopback port: intake
over HTTP, the embedded worker, metrics from both, start-up failures, clean stops."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import fixture_bytes
from tests.service import SERVICE_PACK, jira_headers
from webhooks.store import Store

JIRA_SECRET = "serve-test-jira-secret"
AZURE_SECRET = "serve-test-azure-secret"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces, so split after its ')'
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def queue_workers_of(pid: int) -> list[int]:
    return [c for c in children_of(pid) if " worker" in cmdline(c)]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "pmo-bridge.yaml").write_text(
        "trackers:\n"
        "  jira: {kind: jira, webhook_secret_env: SERVE_TEST_JIRA_SECRET}\n"
        "  azure-devops: {kind: azure-devops, webhook_secret_env: SERVE_TEST_AZURE_SECRET}\n"
        f"rules: [{SERVICE_PACK}]\n"
        f"database_url: sqlite:///{tmp_path / 'store.db'}\n"
        f"queue_path: {tmp_path / 'queue.db'}\n"
    )
    return tmp_path


def command_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_BRIDGE_")}
    env["SERVE_TEST_JIRA_SECRET"] = JIRA_SECRET
    env["SERVE_TEST_AZURE_SECRET"] = AZURE_SECRET
    # In the test's folder, so even a serve killed with SIGKILL leaves nothing behind.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
    return env


def leave_stale_metrics(workdir: Path) -> None:
    """Counter files of an earlier run, which serve must clear before it starts."""
    (workdir / "metrics").mkdir(exist_ok=True)
    code = (
        "from webhooks.metrics import EVENTS; "
        "EVENTS.labels('jira', 'jira:issue_updated', 'accepted').inc(5)"
    )
    subprocess.run([sys.executable, "-c", code], env=command_env(workdir), check=True)
    assert list((workdir / "metrics").glob("counter_*.db"))


def pmo_bridge(workdir: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "webhooks.cli", *args],
        cwd=workdir,
        env=command_env(workdir),
        stdout=subprocess.DEVNULL,
        stderr=kw.pop("stderr", None),
        **kw,
    )


class Server:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, timeout=5)

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited early with {self.proc.returncode}")
        try:
            return self.get("/healthz").status_code == 200
        except requests.ConnectionError:
            return False


@pytest.fixture
def server(workdir: Path) -> Iterator[Server]:
    leave_stale_metrics(workdir)
    port = free_port()
    proc = pmo_bridge(
        workdir, "serve", "--config", "pmo-bridge.yaml", "--port", str(port), "--workers", "2"
    )
    srv = Server(proc, port)
    try:
        wait_for(srv.up, START_TIMEOUT, "serve to answer /healthz")
        wait_for(lambda: queue_workers_of(proc.pid), START_TIMEOUT, "the queue worker")
        yield srv
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def store_of(workdir: Path) -> Store:
    return Store(f"sqlite:///{workdir / 'store.db'}")


def metric(text: str, outcome: str) -> float:
    for line in text.splitlines():
        if line.startswith("pmo_bridge_events_total{") and f'outcome="{outcome}"' in line:
            if 'tracker="jira"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_serve_accepts_over_http_and_the_embedded_worker_processes(server, workdir):
    assert server.get("/readyz").status_code == 200

    body = fixture_bytes("jira", "issue_updated__status_cloud")
    response = requests.post(
        server.base + "/webhooks/jira",
        data=body,
        headers=jira_headers(body, JIRA_SECRET, "serve-delivery-1"),
        timeout=5,
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery": "serve-delivery-1"}

    store = store_of(workdir)
    wait_for(lambda: store.delivery_counts()["done"] == 1, 20, "the delivery to be processed")

    # The web worker answering /metrics never ran the task: "processed" comes from the
    # queue worker's files in the shared multiprocess folder.
    text = wait_for(
        lambda: (t := server.get("/metrics").text) and metric(t, "processed") == 1 and t,
        10,
        "the processed event in /metrics",
    )
    assert metric(text, "accepted") == 1  # the stale files of an earlier run are gone
    assert "pmo_bridge_queue_depth" in text


def test_sigterm_stops_server_and_worker(server):
    workers = queue_workers_of(server.proc.pid)
    web = [c for c in children_of(server.proc.pid) if c not in workers]
    assert len(workers) == 1 and len(web) == 2

    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 8
    for pid in workers + web:
        wait_for(lambda pid=pid: not is_running(pid), 5, f"process {pid} to end")


def test_a_dead_queue_worker_is_restarted(server):
    (first,) = queue_workers_of(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    restarted = wait_for(
        lambda: [p for p in queue_workers_of(server.proc.pid) if p != first],
        10,
        "a new queue worker",
    )
    assert len(restarted) == 1
    assert server.get("/healthz").status_code == 200


def test_worker_stops_by_itself_when_serve_is_killed(server):
    (worker_pid,) = queue_workers_of(server.proc.pid)
    server.proc.kill()
    server.proc.wait()
    wait_for(lambda: not is_running(worker_pid), 10, "the orphaned worker to stop")


@pytest.mark.parametrize(
    "config, expected",
    [
        ("trackers: {jira: {kind: jiraa}}\n", "kind: Must be one of"),
        ("trackers: [\n", "not valid YAML"),
        ("rules: [{here}/broken.yaml]\n", "rules:"),
        ("database_url: postgresql://postgres@127.0.0.1:9/pmo\n", "database postgresql"),
        ("database_url: sqlite:////nonexistent-folder/x/store.db\n", "database sqlite"),
        ("redis_url: redis://127.0.0.1:9/0\n", "queue redis://127.0.0.1:9/0: not reachable"),
        (
            "rules: [{here}/chain.yaml]\n",
            "rules: x: escalate[0].via: unknown channel 'pmo-mail'; channels configured: none",
        ),
    ],
    ids=[
        "bad-value",
        "bad-yaml",
        "broken-rules",
        "database-unreachable",
        "database-path",
        "redis-unreachable",
        "escalation-to-an-unknown-channel",
    ],
)
def test_startup_failure_is_one_line_and_exit_2(workdir, config, expected):
    (workdir / "broken.yaml").write_text(
        "version: 1\nrules:\n  - id: x\n    when: {tpye: [story]}\n"
    )
    (workdir / "chain.yaml").write_text(
        "version: 1\nrules:\n  - id: x\n    require: [{field: assignee, present: true}]\n"
        "    escalate: [{after: 1d, to: assignee, via: [pmo-mail]}]\n"
    )
    (workdir / "bad.yaml").write_text(config.replace("{here}", str(workdir)))
    proc = pmo_bridge(
        workdir, "serve", "--config", "bad.yaml", "--port", str(free_port()), stderr=subprocess.PIPE
    )
    _, err = proc.communicate(timeout=30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("pmo-bridge: ") and expected in lines[0]


def test_startup_fails_when_the_port_is_taken(workdir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = pmo_bridge(
            workdir,
            "serve",
            "--config",
            "pmo-bridge.yaml",
            "--port",
            str(port),
            stderr=subprocess.PIPE,
        )
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.decode().strip().splitlines() == [
        f"pmo-bridge: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_worker_requeues_pending_deliveries_at_start_and_stops_on_sigterm(workdir):
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    store = Store(f"sqlite:///{workdir / 'store.db'}", clock=lambda: long_ago)
    store.migrate()
    body = fixture_bytes("jira", "issue_updated__status_cloud")
    row = store.record_delivery("jira", "left-by-a-crash", "jira:issue_updated", body)
    assert row is not None

    proc = pmo_bridge(workdir, "worker", "--config", "pmo-bridge.yaml")
    try:
        wait_for(
            lambda: store.get_delivery(row).status == "done", 20, "the pending delivery to run"
        )
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""`pmo-bridge serve` and `pmo-bridge worker` as real processes on a loopback port: intake
over HTTP, the embedded worker, metrics from both, start-up failures, clean stops."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.support.helpers import fixture_bytes
from tests.support.serve import (
    JIRA_SECRET,
    children_of,
    free_port,
    is_running,
    metric,
    pmo_bridge,
    queue_workers_of,
    store_of,
    wait_for,
)
from tests.support.service import jira_headers
from webhooks.store import Store


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
    def split() -> tuple[list[int], list[int]] | None:
        workers = queue_workers_of(server.proc.pid)
        web = [c for c in children_of(server.proc.pid) if c not in workers]
        return (workers, web) if len(workers) == 1 and len(web) == 2 else None

    # /readyz answers once one web worker is up; the second may still be forking
    workers, web = wait_for(split, 10, "one queue worker and two web workers")

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

"""The command tests' fixtures: a working folder with a config, and a running `serve`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serve import (
    START_TIMEOUT,
    Server,
    free_port,
    leave_stale_metrics,
    pmo_bridge,
    queue_workers_of,
    wait_for,
)
from tests.support.service import SERVICE_PACK


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

"""`pmo-bridge serve` and `pmo-bridge worker` as real processes for the command tests:
the command line, the environment, a free port, waiting, the process tree."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

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
        "from webhooks.telemetry.metrics import EVENTS; "
        "EVENTS.labels('jira', 'jira:issue_updated', 'accepted').inc(5)"
    )
    subprocess.run([sys.executable, "-c", code], env=command_env(workdir), check=True)
    assert list((workdir / "metrics").glob("counter_*.db"))


def pmo_bridge(workdir: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "webhooks.commands.main", *args],
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


def store_of(workdir: Path) -> Store:
    return Store(f"sqlite:///{workdir / 'store.db'}")


def metric(text: str, outcome: str) -> float:
    for line in text.splitlines():
        if line.startswith("pmo_bridge_events_total{") and f'outcome="{outcome}"' in line:
            if 'tracker="jira"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0

"""What the slow-client and dashboard benches share: `pmo-bridge serve` on a free
loopback port in a folder of its own, and a client posting signed webhooks one after
another while it times each (the "normal client" whose latency the benches report)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "jira" / "issue_updated__status_cloud.json"
SECRET = "bench-jira-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, **extra: object) -> Path:
    lines = [
        "trackers:",
        "  jira: {kind: jira, url: https://acme.atlassian.net, webhook_secret_env: BENCH_JIRA_SECRET}",
        f"database_url: sqlite:///{folder / 'store.db'}",
        f"queue_path: {folder / 'queue.db'}",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    path = folder / "pmo-bridge.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Served:
    """`pmo-bridge serve --no-worker` (intake only: nothing else competes for the CPU)."""

    def __init__(self, folder: Path, config: Path, workers: int = 2) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_BRIDGE_")}
        env["BENCH_JIRA_SECRET"] = SECRET
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder / "metrics")
        self.log = folder / "serve.log"
        command = [sys.executable, "-m", "webhooks.commands.main", "serve", "--config", str(config),
                   "--port", str(self.port), "--workers", str(workers), "--no-worker"]  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, cwd=folder, env=env,
                                         stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited at start: {self.log.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("serve did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def webhook_bodies(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """Signed, each one different (the same body again would be a duplicate)."""
    payload = json.loads(FIXTURE.read_text())
    out = []
    for n in range(count):
        payload["timestamp"] = 1_700_000_000_000 + n
        payload["bench"] = f"{tag}-{n}"
        body = json.dumps(payload).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append((body, {"Content-Type": "application/json",
                           "X-Hub-Signature": f"sha256={digest}",
                           "X-Atlassian-Webhook-Identifier": f"{tag}-{n}"}))  # fmt: skip
    return out


def post_webhooks(port: int, bodies, max_seconds: float, pause: float = 0.0) -> dict:
    """One client, one keep-alive connection, one request at a time: milliseconds each."""
    latencies, failures = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + max_seconds
    for body, headers in bodies:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        try:
            conn.request("POST", "/webhooks/jira", body, headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 202
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            ok = False
        latencies.append((time.perf_counter() - started) * 1000)
        failures += not ok
        if pause:
            time.sleep(pause)
    conn.close()
    return summary(latencies, failures)


def summary(latencies: list[float], failures: int) -> dict:
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": len(latencies),
        "failed": failures,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }


def fmt(label: str, s: dict) -> str:
    return (f"{label:<34} {s['requests']:>5} requests, {s['failed']} failed, "
            f"p50 {s['p50']:6.1f} ms, p99 {s['p99']:6.1f} ms, max {s['max']:7.1f} ms")  # fmt: skip

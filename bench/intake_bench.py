"""Webhook intake throughput and latency over HTTP, against a no-op Flask app on the same
server settings.

    python bench/intake_bench.py [--requests 3000] [--concurrency 8] [--workers 2]
                                 [--rounds 5] [--skip-worker-run] [--max-seconds 120]

Starts, on free loopback ports in a temporary folder:
- `pmo-bridge serve --workers N --no-worker` on the embedded SQLite store and queue, with
  webhook secrets set, so every request is verified, parsed and stored (the outbox a
  worker's relay queues from);
- `bench/noop_app.py`, a Flask app that reads the body and answers 202, under the same
  gunicorn settings (waitress workers, same worker and thread counts).
This process is the client: `--concurrency` threads, one keep-alive connection each,
posting real fixture payloads (tests/fixtures/jira and azure-devops, the events intake
acts on; signed Jira bodies, Basic-auth Azure DevOps ones), each with a unique delivery id
and a body of its own (Jira `timestamp`, Azure DevOps event `id`).
Each side gets a warm-up, then `--rounds` interleaved timed rounds; the best round counts
(as timeit does). After intake, the store and the queue must hold every accepted delivery,
or the bench fails. A last round runs `serve` with its embedded worker processing events
at the same time (figures only; the targets are for intake alone). Stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
JIRA_SECRET = "bench-jira-secret"
AZURE_SECRET = "bench-azure-secret"
TARGET_RATIO = 0.6
TARGET_P99_MS = 25.0


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Result:
    sent: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    server_cpu: float  # seconds of CPU the server's processes used during the round
    machine_busy: float  # share of all CPUs busy during the round (anyone's work)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- payloads ---------------------------------------------------------------------------


def acted_on_fixtures() -> dict[str, list[tuple[str, bytes]]]:
    """Fixtures of events intake stores and queues (not the ignored ones)."""
    from config.settings import TrackerConfig
    from connector import azure_devops, jira
    from connector.model import Ignored

    chosen: dict[str, list[tuple[str, bytes]]] = {}
    for kind, adapter in (("jira", jira), ("azure-devops", azure_devops)):
        tracker = TrackerConfig(name=kind, kind=kind)
        for path in sorted((FIXTURES / kind).glob("*.json")):
            raw = path.read_bytes()
            try:
                event = adapter.parse_event(json.loads(raw), tracker)
            except Exception:  # noqa: S112 - a fixture intake would reject is not load
                continue
            if not isinstance(event, Ignored):
                chosen.setdefault(kind, []).append((path.stem, raw))
    return chosen


def build_requests(
    fixtures: dict[str, list[tuple[str, bytes]]], count: int, tag: str
) -> list[Request]:
    jira = [json.loads(raw) for _, raw in fixtures["jira"]]
    azure = [json.loads(raw) for _, raw in fixtures["azure-devops"]]
    basic = "Basic " + base64.b64encode(f"pmo:{AZURE_SECRET}".encode()).decode()
    out = []
    for n in range(count):
        delivery = f"{tag}-{n}"
        if n % 2 == 0:
            # Each event's body differs, as Jira's do (its timestamp at least): the same
            # body again would be a replay, answered "duplicate".
            stamp = 1_700_000_000_000 + zlib.crc32(tag.encode()) * 100_000 + n
            payload = dict(jira[(n // 2) % len(jira)], timestamp=stamp)
            raw = json.dumps(payload).encode()
            signature = "sha256=" + hmac.new(JIRA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature": signature,
                "X-Atlassian-Webhook-Identifier": delivery,
            }
            out.append(Request("/webhooks/jira", raw, headers))
        else:
            payload = dict(azure[(n // 2) % len(azure)], id=delivery)
            headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": basic}
            out.append(Request("/webhooks/azure-devops", json.dumps(payload).encode(), headers))
    return out


# -- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, command: list[str], port: int, cwd: Path, env: dict[str, str]):
        self.name, self.command, self.port = name, command, port
        self.log_path = cwd / f"{name}.log"  # a file, not a pipe nobody reads: never blocks
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log_file
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited at start: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{name} did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- load -------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family = {pid}
    for candidate in sorted(parents):  # children have higher pids than their parents here
        if candidate in family or parents[candidate] in family:
            family.add(candidate)
    return sum(cpu.get(p, 0.0) for p in family)


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 1.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def run_load(
    port: int, requests: list[Request], concurrency: int, max_seconds: float, server_pid: int
) -> Result:
    next_index = itertools.count().__next__  # atomic under the GIL
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = latencies[slot]
        seen: dict[int, int] = {}
        while time.perf_counter() < deadline:
            i = next_index()
            if i >= len(requests):
                break
            req = requests[i]
            started = time.perf_counter()
            try:
                conn.request("POST", req.path, req.body, req.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status = 0
            mine.append((time.perf_counter() - started) * 1000)
            seen[status] = seen.get(status, 0) + 1
        conn.close()
        with lock:
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    cpu_before, (busy_before, total_before) = tree_cpu_seconds(server_pid), cpu_times()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    busy_after, total_after = cpu_times()
    server_cpu = tree_cpu_seconds(server_pid) - cpu_before
    busy = (busy_after - busy_before) / max(1.0, total_after - total_before)
    flat = [ms for per in latencies for ms in per]
    return Result(len(flat), seconds, flat, statuses, server_cpu, busy)


def line(label: str, result: Result) -> str:
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    return (
        f"  {label:<34} {result.rate:8.0f} events/s   p50 {result.percentile(0.50):6.2f} ms"
        f"   p99 {result.percentile(0.99):6.2f} ms   server CPU"
        f" {result.server_cpu / result.sent * 1e6:5.0f} us/event   machine busy"
        f" {result.machine_busy:4.0%}   ({result.sent} in {result.seconds:.2f} s; {codes})"
    )


def check_durable(folder: Path, expected: int) -> str:
    """Every 202 must be a committed store row, waiting in the outbox ("received"); then
    relaying them, as a worker does, must put every one on the queue (in tasks of up to
    25 deliveries)."""
    from config.settings import load_settings
    from webhooks.worker.runtime import Runtime

    runtime = Runtime.from_settings(load_settings(str(folder / "pmo-bridge.yaml")))
    received = runtime.store.delivery_counts()["received"]
    relayed = 0
    while batch := runtime.relay_received():
        relayed += batch
    tasks = runtime.huey.pending_count()
    queued = len(runtime.tasks.waiting_rows())
    runtime.store.close()
    if not received == relayed == queued == expected:
        raise SystemExit(
            f"durability check failed: {expected} accepted, {received} rows received,"
            f" {relayed} relayed, {queued} in {tasks} tasks"
        )
    return f"store rows received: {received}, relayed to the queue: {queued} in {tasks} tasks"


def write_config(folder: Path) -> None:
    folder.mkdir()
    (folder / "pmo-bridge.yaml").write_text(
        "trackers:\n"
        "  jira: {kind: jira, webhook_secret_env: BENCH_JIRA_SECRET}\n"
        "  azure-devops: {kind: azure-devops, webhook_secret_env: BENCH_AZURE_SECRET}\n"
        f"database_url: sqlite:///{folder / 'store.db'}\n"
        f"queue_path: {folder / 'queue.db'}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per timed round (3000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both servers (2)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side; best counts")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests per server")
    parser.add_argument("--max-seconds", type=float, default=120, help="cap per round")
    parser.add_argument("--skip-worker-run", action="store_true", help="no round with the worker")
    args = parser.parse_args()

    from webhooks.commands.serve import WEB_THREADS

    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()} {platform.machine()}"
    )
    print(
        f"servers: gunicorn with waitress workers, {args.workers} x {WEB_THREADS} threads, loopback; "
        f"client: {args.concurrency} threads, keep-alive, this process"
    )
    fixtures = acted_on_fixtures()
    print(
        "payloads: "
        + ", ".join(f"{kind} {len(items)} fixtures" for kind, items in fixtures.items())
        + " (events intake acts on), alternating, unique delivery ids"
    )

    with tempfile.TemporaryDirectory(prefix="pmo-bridge-bench-") as tmp:
        folder, live_folder = Path(tmp) / "intake", Path(tmp) / "live"
        for place in (folder, live_folder):
            write_config(place)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_BRIDGE_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(BENCH_JIRA_SECRET=JIRA_SECRET, BENCH_AZURE_SECRET=AZURE_SECRET)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        workers = ["--workers", str(args.workers)]
        serve_cmd = [
            sys.executable,
            "-m",
            "webhooks.commands.main",
            "serve",
            "--config",
            "pmo-bridge.yaml",
        ]
        noop_cmd = [sys.executable, str(ROOT / "bench" / "noop_app.py")]

        servers = []
        try:
            port = free_port()
            noop = Server("no-op", [*noop_cmd, "--port", str(port), *workers], port, folder, env)
            servers.append(noop)
            port = free_port()
            intake = Server(
                "intake",
                [*serve_cmd, "--port", str(port), "--no-worker", *workers],
                port,
                folder,
                env,
            )
            servers.append(intake)

            warm = {
                server.name: run_load(
                    server.port,
                    build_requests(fixtures, args.warmup, f"warm-{server.name}"),
                    args.concurrency,
                    args.max_seconds,
                    server.proc.pid,
                )
                for server in (noop, intake)
            }
            rounds: dict[str, list[Result]] = {"no-op": [], "intake": []}
            for r in range(args.rounds):
                for server in (noop, intake):
                    reqs = build_requests(fixtures, args.requests, f"r{r}-{server.name}")
                    rounds[server.name].append(
                        run_load(
                            server.port, reqs, args.concurrency, args.max_seconds, server.proc.pid
                        )
                    )
            intake.stop()
            log_lines = len(intake.log_path.read_text().splitlines())
            accepted = sum(res.statuses.get(202, 0) for res in [*rounds["intake"], warm["intake"]])
            durable = check_durable(folder, accepted)

            with_worker = None
            if not args.skip_worker_run:
                port = free_port()
                live = Server(
                    "intake+worker",
                    [*serve_cmd, "--port", str(port), *workers],
                    port,
                    live_folder,
                    env,
                )
                servers.append(live)
                reqs = build_requests(fixtures, args.requests, "live")
                with_worker = run_load(
                    live.port, reqs, args.concurrency, args.max_seconds, live.proc.pid
                )
        finally:
            for server in servers:
                server.stop()

    best = {name: max(results, key=lambda res: res.rate) for name, results in rounds.items()}
    print(f"\nrounds ({args.requests} requests each, best marked *):")
    for name, results in rounds.items():
        for n, res in enumerate(results, 1):
            print(line(f"{name} round {n}{' *' if res is best[name] else ''}", res))
    print(f"durability: every 202 checked after the run ({durable})")
    print(f"intake server log: {log_lines} lines in all")
    ratio = best["intake"].rate / best["no-op"].rate
    p99 = best["intake"].percentile(0.99)
    print("\nresult (worker stopped: intake alone):")
    print(line("no-op Flask app", best["no-op"]))
    print(line("intake (serve --no-worker)", best["intake"]))
    print(
        f"  ratio intake/no-op {ratio:.2f} (target >= {TARGET_RATIO})   "
        f"intake p99 {p99:.2f} ms (target < {TARGET_P99_MS:.0f} ms)   "
        f"{'targets met' if ratio >= TARGET_RATIO and p99 < TARGET_P99_MS else 'targets NOT met'}"
    )
    noop_cpu = min(res.server_cpu / res.sent for res in rounds["no-op"])
    intake_cpu = min(res.server_cpu / res.sent for res in rounds["intake"])
    print(
        f"  server CPU per event (least of the rounds; other load on the machine does not"
        f" move it): no-op {noop_cpu * 1e6:.0f} us, intake {intake_cpu * 1e6:.0f} us,"
        f" ratio {noop_cpu / intake_cpu:.2f}"
    )
    if with_worker is not None:
        print("\nwith the embedded worker processing at the same time (no target):")
        print(line("intake (serve, worker running)", with_worker))
    failed = sum(n for res in rounds["intake"] for code, n in res.statuses.items() if code != 202)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Webhook latency while dashboard readers loop, with the snapshot cache and without.

    python bench/dashboard_bench.py [--items 2000] [--readers 8] [--requests 300]
                                    [--max-seconds 60]

Builds a portfolio of `--items` items (tests/portfolio_gen.py: initiatives, epics,
features and stories over Jira and Azure DevOps) in a SQLite store, then starts
`pmo-bridge serve --no-worker` (2 web workers) on it, on a free loopback port, twice:
with the default cache (`dashboard_cache_seconds: 5`) and with `0`, where every request
finds the snapshot expired and one reader at a time rebuilds it (the others get the
previous copy): the cost of rebuilding continuously. For each, one client posts `--requests` signed
webhooks one at a time, first alone, then while `--readers` threads loop over
`/portfolio` and `/api/portfolio`. Reports webhook p50/p99 of each phase and the pages
read. Target: with the cache, webhook p99 under readers within 2x of the same run
without readers. Only 127.0.0.1; every loop bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rollup_bench import bulk_insert
from bench.served import Served, fmt, post_webhooks, webhook_bodies, write_config
from tests.support.portfolio_gen import generate, work_item
from webhooks.store import Store

TARGET_RATIO = 2.0


def build_store(folder: Path, items: int) -> int:
    epics, features = 5, 5
    initiatives = 4
    stories = max(1, round(items / (initiatives * epics * features)) - 1)
    made = [work_item(s) for s in generate(initiatives=initiatives, epics=epics,
                                             features=features, stories=stories)]  # fmt: skip
    store = Store(f"sqlite:///{folder / 'store.db'}")
    store.migrate()
    bulk_insert(store, made)
    store.close()
    return len(made)


def read_loop(port: int, count: int, max_seconds: float, stop, totals) -> None:
    """`count` reader threads in this (separate) process, so their work never holds the
    GIL of the process timing the webhooks: in life readers are other machines."""
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def reader(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        path = ("/portfolio", "/api/portfolio")[n % 2]
        pages = size = failed = 0
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})  # as browsers do
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok, body = False, b""
            pages, size, failed = pages + 1, size + len(body), failed + (not ok)
        conn.close()
        with lock:
            totals[0] += pages
            totals[1] += size
            totals[2] += failed

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Readers:
    def __init__(self, port: int, count: int, max_seconds: float) -> None:
        self.stop_event = multiprocessing.Event()
        self.totals = multiprocessing.Array("d", 3)
        self.proc = multiprocessing.Process(
            target=read_loop, args=(port, count, max_seconds, self.stop_event, self.totals)
        )
        self.proc.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.proc.join(60)
        if self.proc.is_alive():
            self.proc.kill()
        self.pages, self.bytes, self.failed = (int(v) for v in self.totals)


def run(folder: Path, cache_seconds: float, args: argparse.Namespace) -> dict:
    server = Served(folder, write_config(folder, dashboard_cache_seconds=cache_seconds))
    try:
        post_webhooks(server.port, webhook_bodies(50, f"warm{cache_seconds}"), args.max_seconds)
        alone = post_webhooks(server.port, webhook_bodies(args.requests, f"a{cache_seconds}"),
                              args.max_seconds, pause=0.01)  # fmt: skip
        readers = Readers(server.port, args.readers, args.max_seconds)
        time.sleep(1.0)
        started = time.monotonic()
        try:
            read = post_webhooks(server.port, webhook_bodies(args.requests, f"r{cache_seconds}"),
                                 args.max_seconds, pause=0.01)  # fmt: skip
        finally:
            seconds = time.monotonic() - started
            readers.stop()
    finally:
        server.stop()
    return {"alone": alone, "read": read, "pages": readers.pages, "seconds": seconds,
            "page_bytes": readers.bytes / max(1, readers.pages), "failed": readers.failed}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pmo-dash-bench-") as tmp:
        folder = Path(tmp)
        count = build_store(folder, args.items)
        print(f"portfolio: {count} items; serve: 2 web workers, loopback; "
              f"{args.readers} readers on /portfolio and /api/portfolio")  # fmt: skip
        results = {label: run(folder, seconds, args)
                   for label, seconds in (("cache 5 s", 5), ("cache 0 s", 0))}  # fmt: skip
    for label, r in results.items():
        print(fmt(f"[{label}] webhooks, no readers", r["alone"]))
        print(fmt(f"[{label}] webhooks, {args.readers} readers", r["read"]))
        print(f"[{label}] pages read: {r['pages']} in {r['seconds']:.1f} s "
              f"({r['pages'] / max(r['seconds'], 0.001):.0f}/s, {r['page_bytes'] / 1024:.0f} KiB "
              f"average, {r['failed']} failed)")  # fmt: skip
    cached = results["cache 5 s"]
    ratio = cached["read"]["p99"] / max(cached["alone"]["p99"], 0.001)
    print(f"cached: webhook p99 with readers / without: {ratio:.2f} "
          f"(p50 {cached['read']['p50'] / max(cached['alone']['p50'], 0.001):.2f})")  # fmt: skip
    met = ratio <= TARGET_RATIO and cached["read"]["failed"] == 0
    print(f"target ratio <= {TARGET_RATIO:.1f}: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""A normal client's webhook latency while slow clients hold connections open.

    python bench/slow_clients_bench.py [--slow 200] [--requests 400] [--max-seconds 60]

Starts `pmo-bridge serve --no-worker` (2 web workers) on a free loopback port, then, in
the same run:
1. baseline: one client posts `--requests` signed webhooks, one at a time;
2. attack: `--slow` connections are opened and each sends one more header byte every
   second (slowloris), then the same client posts the same number of webhooks again.
Reports p50/p99 of both and the ratio. Target: p99 under attack < 100 ms. Only 127.0.0.1;
every loop is bounded in count and `--max-seconds`; it stops by itself.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import Served, fmt, post_webhooks, webhook_bodies, write_config

TARGET_P99_MS = 100.0


class Slowloris:
    """`count` connections trickling one header byte a second, from one thread."""

    def __init__(self, port: int, count: int, max_seconds: float) -> None:
        self.socks: list[socket.socket] = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.socks.append(sock)
        self.dropped = 0
        self.stopping = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopping.wait(1.0) and time.monotonic() < self.deadline:
            for sock in list(self.socks):
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.socks.remove(sock)
                    self.dropped += 1

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pmo-slow-bench-") as tmp:
        folder = Path(tmp)
        server = Served(folder, write_config(folder))
        try:
            print(f"serve: 2 web workers (waitress in gunicorn), loopback port {server.port}")
            warm = webhook_bodies(50, "warm")
            post_webhooks(server.port, warm, args.max_seconds)
            base = post_webhooks(server.port, webhook_bodies(args.requests, "base"),
                                 args.max_seconds, pause=0.005)  # fmt: skip
            attack = Slowloris(server.port, args.slow, args.max_seconds)
            time.sleep(2.0)  # every slow connection accepted and trickling
            try:
                under = post_webhooks(server.port, webhook_bodies(args.requests, "attack"),
                                      args.max_seconds, pause=0.005)  # fmt: skip
                still_open = len(attack.socks)
            finally:
                attack.stop()
        finally:
            server.stop()
    print(fmt("webhooks, no slow clients", base))
    print(fmt(f"webhooks, {args.slow} slow clients open", under))
    print(f"slow connections still open at the end: {still_open}/{args.slow}")
    print(f"p99 ratio attack/baseline: {under['p99'] / max(base['p99'], 0.001):.2f}")
    met = under["failed"] == 0 and under["p99"] < TARGET_P99_MS and still_open == args.slow
    print(f"target p99 < {TARGET_P99_MS:.0f} ms with {args.slow} slow clients: "
          f"{'met' if met else 'NOT met'}")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

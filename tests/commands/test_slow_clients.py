"""Slow and heavy clients against a real `pmo-bridge serve` on loopback: connections that
trickle their headers must not take the service down, and a chunked body over the limit
is refused whole. Every loop here is bounded in count and time; all traffic is 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from types import SimpleNamespace

import pytest
import requests

from tests.support.helpers import fixture_bytes
from tests.support.serve import JIRA_SECRET, START_TIMEOUT, Server, free_port, pmo_bridge, wait_for
from tests.support.service import jira_headers
from webhooks.http.waitress_worker import BoundedServer

SLOW_CLIENTS = 60  # more than the 8 threads of two web workers, as an attack would be
TRICKLE_SECONDS = 0.5
ATTACK_SECONDS = 6.0


def open_slow_clients(port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        clients.append(sock)
    return clients


def trickle(clients: list[socket.socket]) -> None:
    """One more header byte on each connection still open."""
    for sock in list(clients):
        try:
            sock.sendall(b"a")
        except OSError:
            clients.remove(sock)


def test_trickling_clients_do_not_starve_webhooks_or_healthz(server: Server):
    port = int(server.base.rsplit(":", 1)[1])
    clients = open_slow_clients(port, SLOW_CLIENTS)
    body = fixture_bytes("jira", "issue_created__server_zulip")
    answers, slowest = [], 0.0
    try:
        deadline = time.monotonic() + ATTACK_SECONDS
        n = 0
        while time.monotonic() < deadline and n < 200:
            trickle(clients)
            started = time.monotonic()
            health = requests.get(server.base + "/healthz", timeout=3)
            # a new body each time: the same body again would be a (correct) duplicate
            signed = body.replace(b'"id"', f'"n": {n}, "id"'.encode(), 1)
            hook = requests.post(server.base + "/webhooks/jira", data=signed, timeout=3,
                                 headers=jira_headers(signed, JIRA_SECRET, f"slow-{n}"))  # fmt: skip
            slowest = max(slowest, time.monotonic() - started)
            answers.append((health.status_code, hook.status_code))
            n += 1
            time.sleep(TRICKLE_SECONDS / 5)
        assert len(clients) == SLOW_CLIENTS  # the attack really was in progress throughout
    finally:
        for sock in clients:
            sock.close()
    assert answers and set(answers) == {(200, 202)}
    assert slowest < 2.0, f"slowest normal request took {slowest:.2f}s"


def test_chunked_body_over_the_limit_is_413_over_real_http(server: Server):
    """The service's limit in this config is the default 5 MiB; send 6 MiB chunked."""
    chunk = b"x" * (256 * 1024)

    def chunks():
        yield b'{"webhookEvent": "jira:issue_updated", "pad": "'
        for _ in range(24):
            yield chunk
        yield b'"}'

    response = requests.post(
        server.base + "/webhooks/jira",
        data=chunks(),
        headers={"Content-Type": "application/json", "X-Hub-Signature": "sha256=" + "0" * 64},
        timeout=30,
    )
    assert response.status_code == 413
    assert json.loads(response.content) == {"error": "request body too large"}


def test_views_over_real_http_answer_loopback_but_not_what_a_proxy_forwards(server: Server):
    assert requests.get(server.base + "/api/portfolio", timeout=10).status_code == 200
    forwarded = requests.get(server.base + "/api/portfolio", timeout=10,
                             headers={"X-Forwarded-For": "198.51.100.3"})  # fmt: skip
    assert forwarded.status_code == 403
    ready = requests.get(server.base + "/readyz", timeout=10, headers={"X-Real-IP": "198.51.100.3"})
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def _channel(request: object | None, last_activity: float = 0.0) -> SimpleNamespace:
    return SimpleNamespace(request=request, requests=[], last_activity=last_activity,
                           will_close=False)  # fmt: skip


def test_a_request_trickling_in_past_the_read_timeout_is_dropped():
    """waitress closes only idle connections; the bounded server also drops one whose
    request keeps arriving, a byte at a time, for longer than its read timeout."""
    bounded = BoundedServer.__new__(BoundedServer)
    bounded.adj = SimpleNamespace(channel_timeout=120)
    bounded.request_read_timeout = 10
    partial, idle = object(), _channel(None, last_activity=100.0)
    trickling = _channel(partial, last_activity=100.0)
    bounded.active_channels = {1: trickling, 2: idle}
    for now in (100.0, 105.0, 110.0):
        trickling.last_activity = now  # a byte just arrived
        bounded.maintenance(now)
        assert not trickling.will_close
    bounded.maintenance(111.0)
    assert trickling.will_close and not idle.will_close
    fresh = _channel(object(), last_activity=111.0)  # the next request starts its own clock
    bounded.active_channels = {3: fresh}
    bounded.maintenance(111.0)
    bounded.maintenance(120.0)
    assert not fresh.will_close


@pytest.fixture
def impatient_server(workdir):
    """`serve` dropping requests still arriving 2 s after they began."""
    config = workdir / "pmo-bridge.yaml"
    config.write_text(config.read_text() + "request_read_timeout_seconds: 2\n")
    port = free_port()
    proc = pmo_bridge(workdir, "serve", "--config", str(config), "--port", str(port), "--no-worker")
    srv = Server(proc, port)
    try:
        wait_for(srv.up, START_TIMEOUT, "serve to answer /healthz")
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_trickling_request_is_dropped_after_the_read_timeout(impatient_server):
    port = int(impatient_server.base.rsplit(":", 1)[1])
    (sock,) = open_slow_clients(port, 1)
    closed_after = None
    started = time.monotonic()
    try:
        while time.monotonic() - started < 15:  # bounded: 2 s timeout, checked every 2 s
            try:
                sock.sendall(b"a")  # a steady trickle: never idle
                sock.settimeout(0.5)
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
    finally:
        sock.close()
    assert closed_after is not None and 2 <= closed_after < 10, closed_after
    assert impatient_server.get("/healthz").status_code == 200

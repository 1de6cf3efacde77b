"""A gunicorn worker that serves with waitress: a slow client costs a buffer, not a thread.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes
arrive, and the thread then blocks reading the rest: forty clients sending a header byte
every few seconds held every thread. waitress reads each request whole in one event loop
(headers and body buffered, large bodies spooled to a file) and gives a thread only a
complete request. gunicorn's master stays: it forks these workers, restarts them, and
supervises the embedded queue worker (`webhooks.commands.serve`).

Bounds on what a client may hold:
- `request_read_timeout`: a request not received whole this long after its first byte is
  dropped (checked every `CHECK_SECONDS`), however steadily it trickles in;
- `idle_timeout`: a connection that sends nothing this long is closed;
- `connection_limit` open connections per worker, header and body sizes capped.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

CHECK_SECONDS = 2
HEADER_BYTES = 64 * 1024
LOOP_SECONDS = 0.5  # how soon a stop or a heartbeat is noticed


@dataclass(frozen=True)
class ServeLimits:
    request_read_timeout: float = 30.0
    idle_timeout: int = 30
    connection_limit: int = 1000
    # waitress answers larger bodies itself (plain 413); up to it the app answers JSON
    max_body_bytes: int = 64 * 1024 * 1024


class BoundedServer(TcpWSGIServer):
    """waitress's server, also closing connections whose request takes too long to
    arrive (waitress itself only closes connections idle for `channel_timeout`)."""

    request_read_timeout: float = ServeLimits.request_read_timeout

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        for channel in list(self.active_channels.values()):
            partial = channel.request  # a request whose bytes are still arriving
            if partial is None:
                continue
            if getattr(channel, "partial_of", None) is not partial:
                channel.partial_of = partial
                channel.partial_since = now
            elif now - channel.partial_since > self.request_read_timeout:
                channel.will_close = True


def adjustments(threads: int, limits: ServeLimits) -> Adjustments:
    return Adjustments(
        threads=threads,
        connection_limit=limits.connection_limit,
        channel_timeout=limits.idle_timeout,
        cleanup_interval=CHECK_SECONDS,
        max_request_header_size=HEADER_BYTES,
        max_request_body_size=limits.max_body_bytes,
        asyncore_use_poll=True,
        ident="pmo-bridge",
        # Forwarding headers reach the app as sent: `webhooks.http.viewer` takes a request
        # carrying one as forwarded by a proxy, not local (waitress would strip them).
        clear_untrusted_proxy_headers=False,
        expose_tracebacks=False,
        log_socket_errors=False,
    )


class WaitressWorker(Worker):
    """One gunicorn worker process: waitress's event loop on the inherited listening
    sockets, `threads` threads running the app, a heartbeat for the master. `limits`
    is set on the class by `serve` before gunicorn forks."""

    limits = ServeLimits()

    def run(self) -> None:
        adj = adjustments(self.cfg.threads, self.limits)
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        channels: dict = {}
        servers = []
        for listener in self.sockets:
            sock = listener.sock
            server = BoundedServer(
                self.wsgi,
                channels,
                _sock=sock,
                dispatcher=dispatcher,
                adj=adj,
                bind_socket=False,
                sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
            )
            server.request_read_timeout = self.limits.request_read_timeout
            servers.append(server)
        beat = 0.0
        try:
            while self.alive:
                wasyncore.loop(timeout=LOOP_SECONDS, map=channels, use_poll=True, count=1)
                now = time.monotonic()
                if now - beat >= 1.0:
                    self.notify()
                    beat = now
                if self.ppid != os.getppid():  # the master is gone
                    break
        except (SystemExit, KeyboardInterrupt):
            pass
        finally:
            self._drain(servers, channels, dispatcher)

    def _drain(self, servers: list, channels: dict, dispatcher: Any) -> None:
        """Stop accepting; let requests in flight finish and their answers go out."""
        for server in servers:
            server.del_channel()  # the master keeps the listening socket open
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(
            getattr(c, "requests", None) or getattr(c, "total_outbufs_len", 0)
            for c in list(channels.values())
        ):
            wasyncore.loop(timeout=0.1, map=channels, use_poll=True, count=1)
        dispatcher.shutdown(timeout=1)
        wasyncore.close_all(channels)

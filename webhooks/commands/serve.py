"""`pmo-bridge serve`: gunicorn, plus the embedded worker (`pmo-bridge worker`, in
`webhooks.commands.worker`).

`serve` runs gunicorn's master in this process with waitress-based workers
(`webhooks.http.waitress_worker`: requests are read whole before a thread takes them, so slow
clients cost buffers, not threads); each web worker builds the app with `create_app`
after the fork. With the embedded queue (no Redis URL)
the master also supervises one `pmo-bridge worker` child:

- started once the listening socket is bound, with `PMO_BRIDGE_SUPERVISOR_PID` set so it
  stops by itself if the master is killed without a chance to stop it;
- restarted when it dies (1 s back-off, doubling to 30 s while it keeps dying young).
  Nothing is lost meanwhile: a 202 means the delivery is in the store and the queue, and a
  restarted worker re-queues what the dead one left pending;
- stopped with SIGTERM (the current task finishes), then SIGKILL after the grace period,
  when the server stops on SIGTERM or SIGINT. `--no-worker` leaves it out.

Metrics: web and worker processes write prometheus_client multiprocess files into
PROMETHEUS_MULTIPROC_DIR (a fresh temporary folder unless set; emptied at start when
set), so `/metrics` on any web worker shows all of them.

Start-up problems (config file, rules, database, queue, address in use) end the command
with one line on stderr and exit code 2, before anything is started.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from sqlalchemy.exc import SQLAlchemyError

from config.settings import ConfigError, Settings, load_settings
from webhooks.governance.escalation import chains_of, unknown_channels
from webhooks.http.waitress_worker import ServeLimits, WaitressWorker
from webhooks.queue.backend import make_huey, ping
from webhooks.rulesource import RuleSource
from webhooks.store import Store

log = logging.getLogger(__name__)

WEB_THREADS = 4
GRACE_SECONDS = 10  # for in-flight requests and the worker's current task
SUPERVISOR_ENV = "PMO_BRIDGE_SUPERVISOR_PID"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


# -- start-up checks --------------------------------------------------------------------


def quiet_startup_logs() -> None:
    # Library chatter at start-up (alembic's plugin list) is not worth a line each.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def check_startup(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Fail at once, as one `ConfigError` line, for what would otherwise fail in every
    web worker or on the first event."""
    # The ConfigError says it all: no second line from a warning on its way out.
    silence = logging.NullHandler()
    logging.getLogger().addHandler(silence)
    try:
        _check_services(settings)
    finally:
        logging.getLogger().removeHandler(silence)
    if port is not None:
        _check_bindable(host or settings.host, port)


def check_escalation_channels(settings: Settings, ruleset: Any) -> None:
    """An escalation that names a channel the config lacks would reach nobody: refuse."""
    problems = unknown_channels(chains_of(ruleset).values(), settings.notify)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        known = ", ".join(sorted(settings.notify.channels)) or "none"
        raise ConfigError(f"rules: {problems[0]}{more}; channels configured: {known}")


def _check_services(settings: Settings) -> None:
    check_escalation_channels(settings, RuleSource(settings.rules).current())
    shown = _without_password(settings.database_url)
    try:
        store = Store(settings.database_url)
        try:
            store.migrate()
        finally:
            store.close()
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise ConfigError(f"database {shown}: {first_line(exc)}") from None
    queue_name = (
        f"queue {_without_password(settings.redis_url)}"
        if settings.redis_url
        else f"queue {settings.queue_path}"
    )
    try:
        reachable = ping(make_huey(settings))
    except Exception as exc:
        raise ConfigError(f"{queue_name}: {first_line(exc)}") from None
    if not reachable:
        raise ConfigError(f"{queue_name}: not reachable")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _check_bindable(host: str, port: int) -> None:
    """gunicorn would retry a busy port for five seconds, then print a stack of lines."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


# -- metrics folder ---------------------------------------------------------------------


def prepare_metrics_dir() -> tuple[str, bool]:
    """Point every process at one empty folder of metric files; (folder, we made it)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        folder = tempfile.mkdtemp(prefix="pmo-bridge-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        return folder, True
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # counters from an earlier run would add up
        stale.unlink()
    return folder, False


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


# -- the embedded queue worker ----------------------------------------------------------


class QueueWorker:
    """The `pmo-bridge worker` child that `serve` keeps running."""

    MAX_BACKOFF = 30.0
    SETTLED_SECONDS = 60.0  # a worker that lived this long starts the back-off afresh

    def __init__(self, command: list[str], note: Callable[..., None]) -> None:
        self.command = command
        self.note = note
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self._started_at = 0.0
        self._backoff = 1.0
        self._restart_at: float | None = None

    def start(self) -> None:
        env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
        self.proc = subprocess.Popen(self.command, env=env)
        self._started_at = time.monotonic()
        self._restart_at = None

    def poll(self) -> None:
        """Notice an exit (a targeted waitpid, so gunicorn's waitpid(-1) never takes it)."""
        proc = self.proc
        if proc is None or proc.poll() is None:
            return
        self.proc = None
        _mark_dead(proc.pid)
        if self.stopping:
            return
        lived = time.monotonic() - self._started_at
        self._backoff = 1.0 if lived >= self.SETTLED_SECONDS else self._backoff
        self._restart_at = time.monotonic() + self._backoff
        self.note(
            f"queue worker (pid {proc.pid}) exited with {proc.returncode} after {lived:.1f}s; "
            f"restarting in {self._backoff:.0f}s"
        )
        self._backoff = min(self.MAX_BACKOFF, self._backoff * 2)

    def keep_alive(self) -> None:
        self.poll()
        if self.proc is None and not self.stopping and self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self.start()

    def terminate(self) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        self.terminate()
        proc = self.proc
        if proc is None:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.poll()


# -- gunicorn ---------------------------------------------------------------------------


def run_gunicorn(
    app_factory: Callable[[], Any],
    host: str,
    port: int,
    workers: int,
    *,
    threads: int = WEB_THREADS,
    queue_worker: QueueWorker | None = None,
    limits: Any = None,
) -> None:
    limits = limits or ServeLimits()
    WaitressWorker.limits = limits  # inherited by the forked workers

    class ServeArbiter(Arbiter):
        """gunicorn's master, also minding the queue worker between its own rounds."""

        def start(self) -> None:
            super().start()
            if queue_worker is not None:
                queue_worker.note = self.log.error
                queue_worker.start()

        def reap_workers(self) -> None:
            if queue_worker is not None:
                queue_worker.poll()
            super().reap_workers()

        def manage_workers(self) -> None:
            super().manage_workers()
            if queue_worker is not None:
                queue_worker.keep_alive()

        def stop(self, graceful: bool = True) -> None:
            if queue_worker is not None:
                queue_worker.terminate()  # both drain at once
            super().stop(graceful)
            if queue_worker is not None:
                queue_worker.wait(GRACE_SECONDS if graceful else 2.0)

    class ServeApp(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "webhooks.http.waitress_worker.WaitressWorker",
                "threads": threads,
                "worker_connections": limits.connection_limit,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "timeout": 30,
                "graceful_timeout": GRACE_SECONDS,
                "keepalive": 5,
                "control_socket_disable": True,
                "child_exit": lambda _server, worker: _mark_dead(worker.pid),
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return app_factory()

        def run(self) -> None:
            ServeArbiter(self).run()

    ServeApp().run()


def serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    quiet_startup_logs()
    # Before anything imports prometheus_client: it picks its storage at import time.
    folder, made = prepare_metrics_dir()
    master = os.getpid()
    queue_worker = None
    try:
        check_startup(settings, host, port)
        if settings.embedded_queue and not args.no_worker:
            command = [sys.executable, "-m", "webhooks.commands.main", "worker"]
            if args.config:
                command += ["--config", args.config]
            queue_worker = QueueWorker(command, note=print)

        what = "web and queue worker" if queue_worker else "web only"
        print(f"pmo-bridge: serving on http://{host}:{port} ({what})", file=sys.stderr, flush=True)
        # Only now: the app imports prometheus_client, which picks its storage (the
        # multiprocess folder above) when first imported.
        from webhooks.http.app import create_app

        run_gunicorn(
            lambda: create_app(args.config),
            host,
            port,
            args.workers,
            queue_worker=queue_worker,
            limits=ServeLimits(
                request_read_timeout=settings.request_read_timeout_seconds,
                max_body_bytes=2 * settings.max_body_bytes + 64 * 1024,
            ),
        )
    finally:
        # gunicorn's web workers are forks of this process and leave through here too.
        if os.getpid() == master:
            if queue_worker is not None:
                queue_worker.wait(GRACE_SECONDS)
            if made:
                shutil.rmtree(folder, ignore_errors=True)
    return 0

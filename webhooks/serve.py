"""`pmo-bridge serve` (gunicorn, plus the embedded worker) and `pmo-bridge worker`."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

from config.settings import Settings, load_settings

log = logging.getLogger(__name__)


def _multiproc_dir() -> None:
    """Web and worker processes share metrics through one folder of prometheus files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = tempfile.mkdtemp(prefix="pmo-bridge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(shutil.rmtree, folder, True)


def run_gunicorn(app_factory: Any, host: str, port: int, workers: int, threads: int = 4) -> None:
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("errorlog", "-")
            self.cfg.set("loglevel", "warning")
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)

        def load(self) -> Any:
            return app_factory()

    _App().run()


def serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    _multiproc_dir()
    _check_startup(settings)

    worker_proc = None
    if settings.embedded_queue and not args.no_worker:
        command = [sys.executable, "-m", "webhooks.cli", "worker"]
        if args.config:
            command += ["--config", args.config]
        worker_proc = subprocess.Popen(command)
        atexit.register(_stop, worker_proc)

    print(f"pmo-bridge: serving on http://{host}:{port} ", file=sys.stderr, flush=True)
    from webhooks.app import create_app

    try:
        run_gunicorn(lambda: create_app(args.config), host, port, args.workers)
    finally:
        if worker_proc is not None:
            _stop(worker_proc)
    return 0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _check_startup(settings: Settings) -> None:
    """Fail at once, with one line, for what would otherwise fail on the first event."""
    from webhooks.rulesource import RuleSource
    from webhooks.store import Store

    RuleSource(settings.rules)  # raises ConfigError with the rules errors
    store = Store(settings.database_url)
    store.migrate()


def build_consumer(runtime: Any, threads: int) -> Any:
    return runtime.huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        max_delay=0.5,
        check_worker_health=True,
    )


def worker(args: argparse.Namespace) -> int:
    from webhooks.logs import configure_logging
    from webhooks.runtime import Runtime

    settings = load_settings(args.config)
    configure_logging(
        [t.webhook_secret_env for t in settings.trackers.values() if t.webhook_secret_env]
        + [t.token_env for t in settings.trackers.values() if t.token_env]
    )
    runtime = Runtime.from_settings(settings)
    runtime.tasks.recover_now()
    consumer = build_consumer(runtime, args.threads or settings.worker_threads)
    log.info("worker.started", extra={"threads": args.threads or settings.worker_threads})
    consumer.run()
    return 0

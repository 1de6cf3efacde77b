"""`pmo-bridge worker`: queue workers only (scale-out), or the embedded worker `serve`
starts and supervises. Huey's consumer threads run the tasks; the outbox relay beside
them queues what intake received."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from config.settings import ConfigError, load_settings
from webhooks.commands.serve import (
    SUPERVISOR_ENV,
    check_escalation_channels,
    first_line,
    quiet_startup_logs,
)
from webhooks.governance.action_checks import check_field_actions
from webhooks.telemetry.logs import configure_logging, secret_env_names
from webhooks.worker.consumer import build_consumer
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)


def _follow_supervisor() -> None:
    """Stop when the `serve` process that started us is gone (killed with SIGKILL)."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if not supervisor or not supervisor.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(supervisor):
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def worker(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(secret_env_names(settings))
    quiet_startup_logs()
    try:
        runtime = Runtime.from_settings(settings)
    except (SQLAlchemyError, OSError) as exc:
        raise ConfigError(f"worker start-up: {first_line(exc)}") from None
    check_escalation_channels(settings, runtime.rules.current())
    runtime.discover_fields()
    check_field_actions(runtime)  # logged; refused actions are reported per item anyway
    threads = args.threads or settings.worker_threads
    consumer = build_consumer(runtime, threads)
    _follow_supervisor()
    recovered = runtime.tasks.recover_now(at_start=True)
    log.info("worker.started", extra={"threads": threads, "recovered": recovered})
    consumer.run()
    log.info("worker.stopped")
    return 0

"""`pmo-bridge demo`: the whole product on one machine, in one process.

Both sandbox trackers, the Flask service under a threaded WSGI server and a Huey consumer
run here, on loopback, with an SQLite store and queue in a temporary folder. `LiveStack`
is that set-up (the end-to-end tests use it too); `run` seeds a portfolio, registers the
webhooks, audits both trackers and plays a scripted week of PM activity, then tells what
the PMO rules did. Every clock (trackers, rules, rollups) is one shared `DemoClock`, so a
week passes in seconds."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from config.settings import Settings, TrackerConfig
from demo import handoff
from demo.mailbox import DemoMailbox, demo_notify
from demo.script import play
from demo.seed import (
    AZURE_BOT,
    AZURE_PROJECT,
    JIRA_BOT,
    JIRA_PROJECTS,
    PEOPLE_FILE,
    PORTFOLIO_FIELD,
)
from sandbox import Sandbox
from webhooks.commands.register import register
from webhooks.http.app import create_app
from webhooks.store.records import UNFINISHED_STATUSES
from webhooks.worker.consumer import build_consumer
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
ENV = {  # names of the demo's secrets; values are made up per run
    "jira_user": "PMO_BRIDGE_DEMO_JIRA_USER",
    "jira_token": "PMO_BRIDGE_DEMO_JIRA_TOKEN",
    "jira_secret": "PMO_BRIDGE_DEMO_JIRA_WEBHOOK_SECRET",
    "azure_pat": "PMO_BRIDGE_DEMO_AZURE_DEVOPS_PAT",
    "azure_secret": "PMO_BRIDGE_DEMO_AZURE_DEVOPS_WEBHOOK_SECRET",
}


class DemoClock:
    """A settable clock shared by the trackers and the service: the demo's week."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, moment: dt.datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)  # the trackers' revisions only move forward

    def advance(self, **delta: float) -> dt.datetime:
        self.set(self.now() + dt.timedelta(**delta))
        return self.now()


class _ErrorLog(logging.Handler):
    """Counts ERROR records from anywhere in the pipeline: any one fails the demo."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _LateApp:
    """The server binds (and learns its port) before the app that needs the sandboxes'
    URLs exists; until then it answers 503, which the trackers retry."""

    app: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class LiveStack:
    """Sandbox trackers + service + worker on loopback. `start()`, then `connect()` to
    register the webhooks, `drain()` after each change, `problems()`, `stop()`."""

    def __init__(self, clock: DemoClock, *, port: int = 0, threads: int = 2,
                 rollup_delay: float = 0.3, workdir: str | None = None,
                 rules: tuple[str, ...] | None = None) -> None:  # fmt: skip
        self.clock = clock
        self.port = port
        self.threads = threads
        self.rollup_delay = rollup_delay
        self.rules = rules
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pmo-bridge-demo-"))
        self.values = {
            ENV["jira_user"]: JIRA_BOT,
            ENV["jira_token"]: secrets.token_hex(8),
            ENV["jira_secret"]: secrets.token_hex(16),
            ENV["azure_pat"]: secrets.token_hex(16),
            ENV["azure_secret"]: secrets.token_hex(16),
        }
        self.errors = _ErrorLog()
        self.sandbox: Sandbox | None = None
        self.runtime: Any = None
        self.settings: Settings | None = None
        self.url = ""
        self.jira_bot_id = ""
        self._env = _environment(self.values)
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._consumer: Any = None
        self._log_state: list[tuple[Any, int]] = []
        self.mailbox = DemoMailbox()

    # -- start / stop -----------------------------------------------------------------
    def start(self) -> LiveStack:
        self._env.__enter__()
        self.mailbox.start()
        late = _LateApp()
        self._server = make_server(HOST, self.port, late, threaded=True)
        self.url = f"http://{HOST}:{self._server.server_port}"
        self.sandbox = Sandbox(organization="fabrikam").start()
        for state in (self.sandbox.jira_state, self.sandbox.azure_state):
            state.clock = self.clock.now
        # Jira Cloud names people by account id only: that is how the bot is configured.
        bot = self.sandbox.jira_state.add_user(
            JIRA_BOT, "PMO Bot", token=self.values[ENV["jira_token"]]
        )
        self.jira_bot_id = bot["accountId"]
        self.sandbox.azure_state.add_user(AZURE_BOT, "PMO Bot", pat=self.values[ENV["azure_pat"]])
        self.settings = self._settings()
        self.runtime = Runtime.from_settings(self.settings, clock=self.clock.now)
        self.runtime.discover_fields()  # as a worker does at its start
        late.app = create_app(settings=self.settings, runtime=self.runtime)
        self._quiet_logs()
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="pmo-bridge-demo-web", daemon=True
        )
        self._server_thread.start()
        self._consumer = build_consumer(self.runtime, self.threads)
        # Huey installs signal handlers for a consumer that owns the process; this one is
        # a guest (and may not be on the main thread), so Ctrl-C stays ours.
        self._consumer._set_signal_handlers = lambda: None
        self._consumer.start()
        return self

    def _settings(self) -> Settings:
        assert self.sandbox is not None
        trackers = {
            "jira": TrackerConfig(
                name="jira", kind="jira", url=self.sandbox.jira_url, deployment="cloud",
                user_env=ENV["jira_user"], token_env=ENV["jira_token"],
                webhook_secret_env=ENV["jira_secret"], bot_account=self.jira_bot_id,
                projects=tuple(JIRA_PROJECTS),
            ),
            "azure-devops": TrackerConfig(
                name="azure-devops", kind="azure-devops", url=self.sandbox.azure_url,
                token_env=ENV["azure_pat"], webhook_secret_env=ENV["azure_secret"],
                bot_account=AZURE_BOT, project=AZURE_PROJECT,
                fields={"portfolio_link": PORTFOLIO_FIELD},
            ),
        }  # fmt: skip
        extra = {"rules": tuple(self.rules)} if self.rules else {}
        people = self.workdir / "people.yaml"
        people.write_text(PEOPLE_FILE, encoding="utf-8")
        return Settings(
            people_file=str(people),
            **extra,
            trackers=trackers,
            database_url=f"sqlite:///{self.workdir / 'pmo-bridge.db'}",
            queue_path=str(self.workdir / "pmo-bridge-queue.db"),
            rollup_delay_seconds=self.rollup_delay,
            sweep_interval_minutes=0,  # the demo runs its nightly sweep itself
            retry_base_seconds=0.2,
            max_retries=3,
            worker_threads=self.threads,
            escalation_interval_minutes=0,  # the demo runs escalation at its own hours
            notify=demo_notify(self.mailbox.port),
        )

    def _quiet_logs(self) -> None:
        """JSON logs at WARNING on stderr; the story goes to stdout."""
        root = logging.getLogger()
        self._log_state = [(root, root.level)]
        for name in ("werkzeug", "huey", "alembic"):
            logger = logging.getLogger(name)
            self._log_state.append((logger, logger.level))
            logger.setLevel(logging.WARNING)
        root.setLevel(logging.WARNING)
        root.addHandler(self.errors)

    def connect(self) -> list[str]:
        """Register the service's webhooks in both trackers, as `pmo-bridge register`
        does; returns its outcome lines."""
        assert self.settings is not None
        lines = []
        for tracker in self.settings.trackers.values():
            target = f"{self.url}/webhooks/{tracker.name}"
            lines += [outcome.line() for outcome in register(tracker, target)]
        return lines

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.sandbox is not None:
            self.sandbox.stop()
        self.mailbox.stop()
        if self.runtime is not None:
            self.runtime.store.close()
            self.runtime = None
        logging.getLogger().removeHandler(self.errors)
        for logger, level in self._log_state:
            logger.setLevel(level)
        self._log_state = []
        self._env.__exit__(None, None, None)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- waiting and checking ---------------------------------------------------------
    def _busy(self) -> tuple[Any, ...]:
        huey = self.runtime.huey
        counts = self.runtime.store.delivery_counts()
        return (
            huey.pending_count(),
            huey.scheduled_count(),
            len(getattr(huey, "_tasks_in_flight", ())),  # tasks this process is running
            sum(counts[status] for status in UNFINISHED_STATUSES),
        )

    def _activity(self) -> tuple[int, int]:
        assert self.sandbox is not None
        calls = sum(self.sandbox.api_calls().values())
        sent = sum(len(s.deliveries) for s in self.sandbox.senders())
        return calls, sent

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the trackers have delivered every webhook and the worker has
        finished every task, scheduled rollups included: two quiet looks in a row, with
        no tracker call or webhook in between. False on timeout."""
        assert self.sandbox is not None
        deadline = time.monotonic() + timeout
        last: tuple[int, int] | None = None
        while time.monotonic() < deadline:
            if not self.sandbox.flush(max(0.1, deadline - time.monotonic())):
                return False
            idle = not any(self._busy())
            now = self._activity()
            if idle and now == last:
                return True
            last = now if idle else None
            time.sleep(0.05)
        return False

    def problems(self) -> list[str]:
        """Everything that went wrong in the pipeline, one line each."""
        out = []
        assert self.sandbox is not None
        for sender in self.sandbox.senders():
            for record in sender.deliveries:
                if not record.delivered:
                    out.append(f"webhook {record.event} not delivered: {record.error}")
        counts = self.runtime.store.delivery_counts()
        for status in (*UNFINISHED_STATUSES, "failed", "dead"):
            if counts[status]:
                out.append(f"{counts[status]} deliveries {status}")
        for letter in self.runtime.dead_letters():
            out.append(f"dead letter {letter.id} ({letter.tracker}): {letter.error}")
        for record in self.errors.records:
            out.append(f"error logged: {record.getMessage()} ({record.name})")
        return out


def run(args: argparse.Namespace) -> int:
    monday = _demo_monday()
    stack = LiveStack(DemoClock(monday - dt.timedelta(days=60)), port=args.port or 0)
    # on a terminal the demo stays up to be explored; piped or in CI it ends after the story
    keep = args.keep_running or (sys.stdout.isatty() and not getattr(args, "exit", False))
    started = time.monotonic()
    try:
        stack.start()
    except OSError as exc:
        print(f"pmo-bridge: demo: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 2
    files: tuple[Path, Path] | None = None
    try:
        ok = play(stack, monday, out=sys.stdout)
        print(f"Finished in {time.monotonic() - started:.1f} s.", flush=True)
        if keep:
            _stop_on_sigterm()
            # From here the sandboxes are explored by hand and by `doctor`: like a real
            # tracker they refuse a token they did not issue (401).
            for state in (stack.sandbox.jira_state, stack.sandbox.azure_state):
                state.known_credentials_only = True
            folder = Path(getattr(args, "dir", None) or ".")
            files = handoff.write_files(stack, ENV, folder)
            print("", *handoff.access_lines(stack, ENV, files), sep="\n", flush=True)
            print(
                "\nEverything stays up for you to explore: press Ctrl-C to stop "
                f"(that also removes {files[0].name} and {files[1].name}).",
                flush=True,
            )
            wait = getattr(args, "stop_event", None) or threading.Event()
            while not wait.wait(0.5):
                pass
        else:
            print(
                "The demo has stopped, and its dashboard with it. To explore it, run "
                "`pmo-bridge demo --keep-running`: it stays up, writes a config for "
                "`audit`, and prints how to reach each sandbox.",
                flush=True,
            )
    except KeyboardInterrupt:
        ok = not stack.problems()
        print("\nStopping.", flush=True)
    finally:
        if files is not None:
            handoff.remove_files(files)
        stack.stop()
    return 0 if ok else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> None:
    """`kill` stops a demo left running as Ctrl-C does: its files removed, ports closed."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _demo_monday() -> dt.datetime:
    """9:00 UTC on the Monday a week before this one: the demo's week ends about now."""
    today = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=today.weekday() + 7)

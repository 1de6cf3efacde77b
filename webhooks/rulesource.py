"""The rules a process runs, reloaded when their files change.

A changed file is loaded and validated in full before it replaces anything; a broken one
is refused with its PATH:LINE:COL errors (logged and shown in /readyz) and the last good
rules keep running."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from config.settings import ConfigError
from rules import RuleSet, RulesFileError, load_ruleset
from rules.ruleset import source_files

log = logging.getLogger(__name__)


def _rule_files(paths: tuple[str, ...]) -> list[Path]:
    """Rules and waivers files: a waiver added or expired by edit is a reload too."""
    files, waivers, _errors = source_files(paths)  # a missing path shows up when loading
    return [Path(f) for f in files + waivers] + [Path(p) for p in paths if not Path(p).exists()]


class RuleSource:
    def __init__(self, paths: tuple[str, ...] | list[str], *, check_interval: float = 2.0) -> None:
        self.paths = tuple(str(p) for p in paths)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._ruleset: RuleSet | None = None
        self._signature: tuple = ()
        self._errors: list[str] = []
        self._checked_at = 0.0
        self._loaded_at: float | None = None
        result = self.reload(force=True)
        if not result["ok"]:
            raise ConfigError("rules: " + "; ".join(result["errors"][:5]))

    def _signature_now(self) -> tuple:
        sig = []
        for path in _rule_files(self.paths):
            try:
                stat = path.stat()
                sig.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                sig.append((str(path), None, None))
        return tuple(sig)

    def current(self) -> RuleSet:
        """The rules in force, after a cheap check (at most every `check_interval` s) for
        changed files."""
        now = time.monotonic()
        if now - self._checked_at >= self.check_interval:
            self._checked_at = now
            if self._signature_now() != self._signature:
                self.reload()
        ruleset = self._ruleset
        assert ruleset is not None  # the constructor refuses to start without rules
        return ruleset

    def reload(self, *, force: bool = False) -> dict[str, Any]:
        with self._lock:
            signature = self._signature_now()
            if not force and signature == self._signature:
                return self.status()
            try:
                ruleset = load_ruleset(self.paths)
            except RulesFileError as exc:
                self._errors = [str(e) for e in exc.errors]
                self._signature = signature  # do not retry the same broken files every call
                log.error("rules.reload_refused", extra={"errors": self._errors})
                return self.status()
            except OSError as exc:
                self._errors = [f"{getattr(exc, 'filename', '')}: {exc.strerror or exc}"]
                self._signature = signature
                log.error("rules.reload_refused", extra={"errors": self._errors})
                return self.status()
            except (RecursionError, MemoryError, ValueError, TypeError) as exc:
                # Whatever else a hostile file provokes is a refusal too, never a crash
                # of the process that reads it.
                self._errors = [f"{', '.join(self.paths)}: unreadable rules ({type(exc).__name__})"]
                self._signature = signature
                log.error("rules.reload_refused", extra={"errors": self._errors})
                return self.status()
            self._ruleset = ruleset
            self._signature = signature
            self._errors = []
            self._loaded_at = time.time()
            log.info("rules.loaded", extra={"files": [s[0] for s in signature]})
            return self.status()

    def status(self) -> dict[str, Any]:
        return {
            "ok": not self._errors and self._ruleset is not None,
            "errors": list(self._errors),
            "files": [os.fspath(p) for p in _rule_files(self.paths)],
            "running_last_good": bool(self._errors) and self._ruleset is not None,
        }

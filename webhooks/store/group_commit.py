"""Group commit: writes that threads of one process make at the same time share one
transaction. The first thread in writes everything waiting, its own included; the others
wait for that commit instead of each taking the write lock, beginning and committing
in turn. Each writer still gets its own result, or its own error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_UNSET = object()


class Pending:
    """One write waiting for its batch: its statement's parameters, then its outcome."""

    __slots__ = ("args", "error", "result")

    def __init__(self, args: Any) -> None:
        self.args = args
        self.result: Any = _UNSET
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not _UNSET or self.error is not None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """`submit(args)` returns what `write_batch` gave that write. `write_batch(batch)`
    must give every `Pending` of the batch its `result` or its `error`."""

    def __init__(self, write_batch: Callable[[list[Pending]], None]) -> None:
        self._write_batch = write_batch
        self._changed = threading.Condition()
        self._waiting: list[Pending] = []
        self._writing = False

    def submit(self, args: Any) -> Any:
        pending = Pending(args)
        with self._changed:
            self._waiting.append(pending)
            while self._writing and not pending.done:
                self._changed.wait()
            if pending.done:  # written by another thread's batch
                return pending.outcome()
            self._writing = True
            batch, self._waiting = self._waiting, []
        try:
            self._write_batch(batch)
        except BaseException as exc:  # e.g. KeyboardInterrupt: nobody may wait for ever
            _fail_unfinished(batch, exc)
            raise
        else:
            _fail_unfinished(batch, RuntimeError("the batch writer gave this write no outcome"))
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()
        return pending.outcome()


def _fail_unfinished(batch: list[Pending], error: BaseException) -> None:
    for each in batch:
        if not each.done:
            each.error = error

"""Errors in rules files, each pointing at a line and column a PMO can jump to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class RuleError:
    """One problem in a rules (or tests) file; line and col are 1-based."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class RulesFileError(ValueError):
    """Raised by the loaders; `errors` holds every problem found, not just the first."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

"""Checks a command makes before it creates anything: a store, a queue file, a log.

A command that fails on its configuration must leave the folder as it found it, so every
check that needs no database runs first and raises `ConfigError` with one line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from config.settings import ConfigError, Settings, TrackerConfig
from rules.ruleset import load_ruleset_with_errors


def tracker_reachable(tracker: TrackerConfig, environ: Mapping[str, str] | None = None) -> None:
    """What a command calling the tracker's API needs: its URL and a token."""
    if not tracker.url:
        raise ConfigError(
            f"tracker {tracker.name!r} has no url: set trackers.{tracker.name}.url in the config"
        )
    _, token = tracker.credentials(environ)
    if not token:
        name = tracker.token_env or f"trackers.{tracker.name}.auth.token_env"
        raise ConfigError(f"tracker {tracker.name!r}: no API token ({name} is not set)")


def rules_loadable(paths: Iterable[str]) -> None:
    """Every rules file reads and validates; else the first problems, as PATH:LINE:COL."""
    _, errors = load_ruleset_with_errors(paths)
    if errors:
        shown = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ConfigError(f"rules: {shown}{more}")


def ready_for_tracker_command(settings: Settings, tracker_name: str) -> TrackerConfig:
    """The checks of `audit`: the tracker is named, reachable, and the rules load."""
    tracker = settings.tracker(tracker_name)
    tracker_reachable(tracker)
    rules_loadable(settings.rules)
    return tracker

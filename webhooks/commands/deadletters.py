"""`pmo-bridge deadletters list|replay`: events that failed after all retries."""

from __future__ import annotations

import argparse
import json
import sys

from config.settings import load_settings
from webhooks.worker.runtime import Runtime


def _runtime(config: str | None) -> Runtime:
    return Runtime.from_settings(load_settings(config))


def deadletters_list(args: argparse.Namespace) -> int:
    letters = _runtime(args.config).dead_letters()
    if args.format == "json":
        print(json.dumps([letter.to_dict() for letter in letters], indent=2, default=str))
        return 0
    if not letters:
        print("no dead letters")
        return 0
    print(f"{'ID':>5}  {'TRACKER':<14} {'EVENT':<24} {'TRIES':>5}  {'FAILED AT':<20}  ERROR")
    for letter in letters:
        when = letter.created_at.strftime("%Y-%m-%d %H:%M:%S")
        error = letter.error.splitlines()[0][:80] if letter.error else ""
        print(
            f"{letter.id:>5}  {letter.tracker:<14} {letter.native_event[:24]:<24} "
            f"{letter.attempts:>5}  {when:<20}  {error}"
        )
    return 0


def deadletters_replay(args: argparse.Namespace) -> int:
    runtime = _runtime(args.config)
    wanted = list(args.ids) or None
    replayed = runtime.replay_dead_letters(wanted)
    missing = sorted(set(wanted or []) - set(replayed))
    for letter_id in missing:
        print(f"pmo-bridge: no dead letter {letter_id} waiting for replay", file=sys.stderr)
    print(f"replayed {len(replayed)} dead letter(s); a running worker processes them")
    return 1 if missing else 0

"""`pmo-bridge notifications list [--status dead]`: the notification outbox, newest last,
with each message's attempts and last error (never its body: it may name people)."""

from __future__ import annotations

import json
import sys
from typing import Any

from config.settings import load_settings
from webhooks.store import Store
from webhooks.store.notifications import NOTIFICATION_STATUSES

STATUSES = NOTIFICATION_STATUSES


def notifications_list(args: Any) -> int:
    settings = load_settings(args.config)
    store = Store.from_settings(settings)
    store.migrate()
    rows = store.notifications(status=args.status)
    if args.format == "json":
        out = [
            {
                "id": n.id, "channel": n.channel, "recipient": n.recipient, "subject": n.subject,
                "status": n.status, "attempts": n.attempts, "error": n.error,
                "created_at": n.created_at.isoformat(),
                "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            }
            for n in rows
        ]  # fmt: skip
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("no notifications" + (f" with status {args.status}" if args.status else ""))
        return 0
    for n in rows:
        error = f"  ({n.error})" if n.error else ""
        print(f"{n.id:>6}  {n.status:<7} {n.channel:<16} {n.recipient:<28} "
              f"attempts {n.attempts}  {n.subject[:60]}{error}")  # fmt: skip
    return 0

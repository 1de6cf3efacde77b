"""`pmo-bridge people list [--unmapped]`: who the PMO's people file knows, or the
accounts seen in the trackers that it does not (grouped by display name until mapped)."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from config.people import resolve_person
from config.people_file import load_people
from config.settings import load_settings
from webhooks.store import Store


def people_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    directory = load_people(settings)
    if not args.unmapped:
        rows = [
            {
                "id": m.id, "name": m.name, "team": m.team, "email": m.email,
                "accounts": list(m.accounts),
                "capacity": {"hours": m.capacity.hours, "points": m.capacity.points},
            }
            for m in directory.members.values()
        ]  # fmt: skip
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['id']:<20} {row['name']:<28} {row['team'] or '-':<16} "
                      f"{', '.join(row['accounts'])}")  # fmt: skip
        return 0
    store = Store(settings.database_url)
    store.migrate()
    seen: Counter[tuple[str, str, str]] = Counter()
    for item in store.iter_items():
        for person in (item.assignee, item.reporter):
            if person is None:
                continue
            member = resolve_person(directory, item.tracker, person)
            if member is not None and not member.mapped:
                seen[(item.tracker, person.account_id or "", person.display_name)] += 1
    unmapped = [
        {"tracker": t, "account": a, "display_name": n, "items": c}
        for (t, a, n), c in sorted(seen.items())
    ]
    if args.format == "json":
        print(json.dumps(unmapped, indent=2))
    elif not unmapped:
        print("every account seen is mapped")
    else:
        print(f"{'TRACKER':<16} {'ACCOUNT':<40} {'ITEMS':>5}  DISPLAY NAME")
        for row in unmapped:
            name = row["display_name"]
            print(f"{row['tracker']:<16} {row['account']:<40} {row['items']:>5}  {name}")
    return 0

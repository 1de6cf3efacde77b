"""The demo's week: the portfolio goes live on Monday (webhooks registered, both trackers
audited), then project managers work in their trackers for a week, one scripted step a
day, and after each step the demo tells what the service did about it."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from demo.mailbox import HOST
from demo.seed import AZURE_PROJECT, Seeded, add_people, seed_portfolio
from demo.story import (
    Change,
    Snapshot,
    calls_line,
    compare,
    describe,
    plural,
    rollup_line,
    take,
)
from webhooks.governance.audit import run_audit
from webhooks.governance.people import people_line, people_report, report_people
from webhooks.governance.report import build_report
from webhooks.governance.report_render import render_html
from webhooks.governance.sweep import sweep

INDENT = " " * 11
JQL = "project in (PAY, WEB) ORDER BY key ASC"
WIQL = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"


@dataclass(frozen=True)
class Step:
    day: int  # days after the demo's Monday
    hour: int
    headline: str
    act: Callable[[], Any]


def week(stack: Any, seeded: Seeded) -> list[Step]:
    jira, azure = stack.sandbox.jira_state, stack.sandbox.azure_state
    k, d = seeded.keys, seeded.day

    def move(key: str, status: str, actor: str) -> Callable[[], Any]:
        return lambda: jira.transition(key, status, actor=actor)

    def jira_edit(key: str, actor: str, **fields: Any) -> Callable[[], Any]:
        return lambda: jira.update_issue(key, actor=actor, fields=fields, api_version=2)

    def azure_edit(alias: str, actor: str, **values: Any) -> Callable[[], Any]:
        ops = [{"op": "add", "path": f"/fields/{ref.replace('_', '.')}", "value": value}
               for ref, value in values.items()]  # fmt: skip
        return lambda: azure.update_work_item(int(k[alias]), ops, actor=actor)

    def bulk_plan() -> None:
        stories = [k[f"chkt{n}"] for n in range(6)] + [k[f"srch{n}"] for n in range(6)]
        for key in [*stories, k["chk2"], k["chk4"], k["wbug"]]:
            jira.update_issue(
                key, actor="sam", update={"labels": [{"add": "sprint-24"}]},
                fields={"duedate": d(11)}, api_version=2,
            )  # fmt: skip

    return [
        Step(0, 10, f"Marco starts {k['api']} 'Card tokenisation API for partners' "
             "without estimating it.", move(k["api"], "In Progress", "marco")),
        Step(1, 9, f"Marco estimates {k['api']} at 5 points.",
             jira_edit(k["api"], "marco", customfield_10016=5)),
        Step(1, 14, f"Tom cannot start {k['guest']} 'Guest checkout': the fraud-check API is "
             "not ready. He marks it Blocked.", move(k["guest"], "Blocked", "tom")),
        Step(2, 11, f"Priya moves {k['ref1']} 'Partial refunds through the API' from the "
             f"refunds epic {k['ref']} to {k['tok']} 'Card tokenisation'.",
             jira_edit(k["ref1"], "priya", parent={"key": k["tok"]})),
        Step(2, 15, f"Raj starts #{k['off2']} 'Sync queue for offline edits' in Azure Boards, "
             "without story points.",
             azure_edit("off2", "raj@fabrikam.com", System_State="Active")),
        Step(3, 10, "Sprint planning: Sam bulk-edits 15 WEB stories (label sprint-24, due "
             f"{d(11)}).", bulk_plan),
        Step(3, 16, f"Raj sizes #{k['off2']} at 3 points.",
             azure_edit("off2", "raj@fabrikam.com", Microsoft_VSTS_Scheduling_StoryPoints=3)),
        Step(4, 10, f"Aisha fills in the business case template on {k['srch']} 'Search relaunch'.",
             jira_edit(k["srch"], "aisha", description="Business case: 40% of visitors search"
                       ".\n\nSuccess criteria: search conversion up 15%.")),
        Step(4, 15, f"Elena closes feature #{k['wal']} 'Wallet payments' in Azure Boards. "
             f"It belongs to the Jira initiative {k['init']} (its PortfolioParent field).",
             azure_edit("wal", "elena@fabrikam.com", System_State="Closed")),
        Step(4, 17, f"Lena renames {k['fix']} 'Fix it' and files it under {k['tok']}.",
             jira_edit(k["fix"], "lena", summary="Fix rounding in currency conversion",
                       parent={"key": k["tok"]})),
        Step(7, 6, "Monday 06:00, the nightly sweep: ages and due dates moved over the "
             "weekend.", lambda: _sweep(stack)),
        Step(7, 9, "Monday 09:00, the escalation run: blocked work past its limit reaches "
             "people, and the weekly PMO report (due Monday 08:00) goes out.",
             lambda: stack.runtime.escalation.tick()),
        Step(7, 10, f"The fraud-check API is live: Tom starts {k['guest']}.",
             move(k["guest"], "In Progress", "tom")),
    ]  # fmt: skip


def _sweep(stack: Any) -> None:
    sweep(stack.runtime, stack.runtime.tasks)


def _when(seeded: Seeded, day: int, hour: int) -> dt.datetime:
    return seeded.monday + dt.timedelta(days=day, hours=hour - 9)


@dataclass
class Tally:
    """Totals over the demo, summed step by step (a finding raised and resolved within
    the week counts in both columns)."""

    raised: int = 0
    resolved: int = 0
    comments_new: int = 0
    comments_edited: int = 0
    labels_added: int = 0
    labels_removed: int = 0
    rag_changes: int = 0
    webhooks: int = 0
    skipped: int = 0
    reads: int = 0
    writes: int = 0

    def add(self, change: Change) -> None:
        self.raised += len(change.raised)
        self.resolved += len(change.resolved)
        self.comments_new += len(change.comments_new)
        self.comments_edited += len(change.comments_edited)
        self.labels_added += len(change.labels_added)
        self.labels_removed += len(change.labels_removed)
        self.rag_changes += sum(1 for _, was, _ in change.rag_changes if was is not None)
        self.webhooks += change.webhooks
        self.skipped += change.skipped
        self.reads += sum(n for (_, kind), n in change.calls.items() if kind == "read")
        self.writes += sum(n for (_, kind), n in change.calls.items() if kind == "write")


def play(stack: Any, monday: dt.datetime, out: TextIO) -> bool:
    """Run the whole demo on a started stack; True when nothing in the pipeline failed."""

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    rules = stack.runtime.rules.current()
    packs = ", ".join(p.name for p in rules.packs)
    say("pmo-bridge demo: a week of PMO governance on local Jira and Azure DevOps sandboxes")
    say()
    say(f"  Jira sandbox          {stack.sandbox.jira_url}  (projects PAY, WEB)")
    say(f"  Azure DevOps sandbox  {stack.sandbox.azure_url}  (project {AZURE_PROJECT})")
    say(f"  pmo-bridge service    {stack.url}  (with its queue worker, {stack.threads} threads)")
    say(f"  store and queue       SQLite, in {stack.workdir}")
    say(f"  rules                 {packs}: {len(rules.rules)} rules, "
        f"{len(getattr(rules, 'rollups', ()))} rollup")  # fmt: skip
    say()

    add_people(stack.sandbox, stack.values["PMO_BRIDGE_DEMO_JIRA_TOKEN"],
               stack.values["PMO_BRIDGE_DEMO_AZURE_DEVOPS_PAT"])  # fmt: skip
    seeded = seed_portfolio(stack.sandbox, stack.clock.set, monday)
    total = sum(seeded.counts.values())
    projects = ", ".join(f"{p} {n}" for p, n in seeded.counts.items())
    say(f"Before Monday: {total} items in the trackers ({projects}), five weeks of history.")
    say("Each day below: what a project manager did in a tracker, then what pmo-bridge did.")
    say()

    stack.clock.set(_when(seeded, 0, 8))
    registered = stack.connect()
    say(_day(stack) + "The PMO switches pmo-bridge on: webhooks registered in both trackers "
        f"({len(registered)} subscriptions), then a first audit of every item.")  # fmt: skip
    tally = Tally()
    before = take(stack)
    audited = sum(
        run_audit(stack.runtime, tracker, query, apply=True).items
        for tracker, query in (("jira", JQL), ("azure-devops", WIQL))
    )
    _sweep(stack)  # rolls every epic and initiative up once
    ok = stack.drain()
    after = take(stack)
    change = compare(before, after)
    tally.add(change)
    flagged = {key for key, _ in after.findings}
    say(f"{INDENT}{audited} items checked: {audited - len(flagged)} comply, {len(flagged)} need "
        f"attention ({plural(len(after.findings), 'finding')}):")  # fmt: skip
    for rule, n in Counter(rule for _, rule in after.findings).most_common():
        title = rules.rule(rule).title if rules.rule(rule) else rule
        say(f"{INDENT}  {n:>2} x {rule:<22} {title}")
    written = len(change.comments_new)
    say(
        f"{INDENT}{written} comments written: items that need attention are told what fails "
        "and how to fix it; initiatives, epics and features get their rollup."
    )
    say(
        f"{INDENT}{len(after.rollups)} initiatives, epics and features rolled up: "
        f"{_rag_counts(after)} (RAG label on each: {len(change.labels_added)} labels)."
    )
    for key in sorted(after.rollups):
        say(f"{INDENT}  " + rollup_line(key, None, after.rollups[key], seeded.titles, False)[10:])
    say(f"{INDENT}{calls_line(change)}")
    say()

    for step in week(stack, seeded):
        stack.clock.set(_when(seeded, step.day, step.hour))
        before = take(stack)
        say(_day(stack) + step.headline)
        step.act()
        ok = stack.drain() and ok
        after = take(stack)
        change = compare(before, after)
        tally.add(change)
        for line in describe(change, after, seeded.titles):
            say(INDENT + line)
        say()

    ok = stack.drain() and ok
    end = take(stack)
    problems = stack.problems() + ([] if ok else ["the queue did not drain in time"])
    _summary(say, tally, end, problems)
    say()
    _reached(say, stack)
    say()
    say(f"Dashboard: {stack.url}/portfolio   (the same data as JSON: {stack.url}/api/portfolio)")
    say(people_line(people_report(stack.runtime, weeks=2), f"{stack.url}/people"))
    return not problems


def _day(stack: Any) -> str:
    return f"{stack.clock.now():%a %d %b}  "


def _rag_counts(snap: Snapshot) -> str:
    counts = Counter(value[0] for value in snap.rollups.values())
    return ", ".join(f"{counts[c]} {c}" for c in ("green", "amber", "red"))


def _summary(say: Callable[..., None], t: Tally, end: Snapshot, problems: list[str]) -> None:
    on_items = sum(1 for v in end.comments.values() if v)
    most = max((len(v) for v in end.comments.values()), default=0)
    say("The week in numbers")
    say(f"  findings      {t.raised} raised, {t.resolved} resolved; {len(end.findings)} open now")
    say(f"  comments      {t.comments_new} written, {t.comments_edited} edited in place; "
        f"{on_items} items carry one (most on any item: {most})")  # fmt: skip
    say(f"  labels        {t.labels_added} added, {t.labels_removed} removed (only pmo- labels; "
        "people's own labels are never touched)")  # fmt: skip
    changes = plural(t.rag_changes, "RAG change")
    say(
        f"  rollups       {len(end.rollups)} initiatives, epics and features; "
        f"RAG now {_rag_counts(end)}; {changes} during the week"
    )
    say(f"  webhooks      {t.webhooks} received; {t.skipped} were echoes of the service's own "
        "edits, skipped without a tracker call")  # fmt: skip
    say(f"  tracker API   {t.reads + t.writes} calls: {t.reads} reads, {t.writes} writes")
    say(f"  dead letters  {end.deliveries.get('dead', 0)}")
    if problems:
        say()
        say("PROBLEMS: the pipeline did not run clean")
        for line in problems:
            say(f"  {line}")
    else:
        say("  pipeline      every webhook delivered and processed; nothing failed")


def _reached(say: Callable[..., None], stack: Any) -> None:
    """Who the escalations reached, and where the weekly report went."""
    say("Who was reached")
    for fired in stack.runtime.store.escalations():
        role = f" ({fired.role})" if fired.role else ""
        how = ", ".join(
            "mention in the managed comment" if v == "mention" else v for v in fired.via
        )
        say(f"  {fired.fired_at:%a %H:%M}  {fired.item_key:<10} {fired.rule}: "
            f"{fired.person}{role}, by {how}")  # fmt: skip
    now = stack.clock.now()
    report = build_report(stack.runtime.store, now, people=lambda: report_people(stack.runtime))
    path = Path(tempfile.gettempdir()) / "pmo-bridge-demo-report.html"
    path.write_text(render_html(report), encoding="utf-8")
    say(f"Weekly PMO report: {path}")
    box = stack.mailbox
    for index, message in enumerate(box.messages):
        saved = box.save(index, path.with_name(f"pmo-bridge-demo-mail-{index + 1}.eml"))
        say(f"  e-mailed to {message['To']} (local mailbox {HOST}:{box.port}): "
            f"\"{message['Subject']}\", saved as {saved}")  # fmt: skip

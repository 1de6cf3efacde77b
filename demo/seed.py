"""The demo portfolio: two Jira projects (PAY, WEB) and one Azure DevOps project
(Fabrikam), about sixty items with five weeks of history, written straight into the
sandbox trackers before any webhook is registered.

The mix is deliberate: most items follow the PMO standard pack, and a realistic few do
not (an epic without an owner or business case, an oversized estimate, a story with no
epic, a bug without a priority, a risk without mitigation, work stuck in progress, a due
date past its epic's). The Jira initiative PAY-1 owns two Azure DevOps features, one
named in the `Custom.PortfolioParent` field, one by a `portfolio:PAY-1` tag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import Sandbox

ORG = "fabrikam"
AZURE_PROJECT = "Fabrikam"
JIRA_PROJECTS = {"PAY": "Payments", "WEB": "Website"}
PORTFOLIO_FIELD = "Custom.PortfolioParent"
PARENT_REL = "System.LinkTypes.Hierarchy-Reverse"
JIRA_BOT = "pmo-bot"
AZURE_BOT = "pmo-bot@fabrikam.com"

JIRA_PEOPLE = {
    "priya": "Priya Shah",
    "marco": "Marco Rossi",
    "lena": "Lena Fischer",
    "sam": "Sam Okafor",
    "aisha": "Aisha Khan",
    "tom": "Tom Berg",
}
# The PMO's people file: Dana works in both trackers (another display name in each);
# only people in it have a capacity, so only they are judged over or under.
DANA_JIRA_ID = "712020:8d2f3c1e-5a7b-4c9d-9e0f-1a2b3c4d5e6f"
PEOPLE_FILE = f"""\
teams:
  mobile: {{capacity: {{points: 10}}}}
people:
  - {{id: dana, name: Dana Whitfield, team: mobile,
     accounts: ["{DANA_JIRA_ID}", dana@fabrikam.com]}}
  - {{id: elena, name: Elena Petrova, team: mobile, accounts: [elena@fabrikam.com],
     capacity: {{points: 30}}}}
"""
AZURE_PEOPLE = {
    "dana@fabrikam.com": "Dana Whitfield",
    "raj@fabrikam.com": "Raj Patel",
    "elena@fabrikam.com": "Elena Petrova",
}


def template(why: str, success: str) -> str:
    """An epic description that follows the PMO template."""
    return f"Business case: {why}\n\nSuccess criteria: {success}"


@dataclass
class Seeded:
    """What the seed made: item keys by alias, and the calendar it was made on."""

    monday: dt.datetime
    keys: dict[str, str] = field(default_factory=dict)  # alias -> PAY-6 / 17
    titles: dict[str, str] = field(default_factory=dict)  # native id -> title
    counts: dict[str, int] = field(default_factory=dict)  # project -> items

    def day(self, offset: int) -> str:
        return (self.monday + dt.timedelta(days=offset)).date().isoformat()


class _Seeder:
    def __init__(self, sandbox: Sandbox, set_clock: Callable[[dt.datetime], None], monday):
        self.sb, self.set_clock = sandbox, set_clock
        self.out = Seeded(monday)
        self.moves: list[tuple[int, str, str, str, str]] = []  # (day, kind, id, status, actor)

    def at(self, offset: int, hour: int = 9) -> None:
        self.set_clock(self.out.monday + dt.timedelta(days=offset, hours=hour - 9))

    def jira(
        self,
        alias: str,
        project: str,
        kind: str,
        title: str,
        *,
        status="To Do",
        who=None,
        pts=None,
        start=None,
        due=None,
        parent=None,
        desc=None,
        prio=None,
        since=-14,
    ) -> None:
        d = self.out.day
        fields: dict[str, Any] = {
            "description": desc,
            "assignee": {"name": who} if who else None,
            "customfield_10016": pts,
            "customfield_10015": d(start) if start is not None else None,
            "duedate": d(due) if due is not None else None,
            "parent": {"key": self.out.keys[parent]} if parent else None,
            "priority": {"name": prio} if prio else None,
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        actor = who or "priya"
        issue = self.sb.jira_state.create_issue(
            project, kind, title, actor=actor, fields=fields, api_version=2
        )
        self.out.keys[alias] = issue.key
        self.out.titles[issue.key] = title
        self.out.counts[project] = self.out.counts.get(project, 0) + 1
        if status != "To Do":
            self.moves.append((since, "jira", issue.key, status, actor))

    def azure(
        self,
        alias: str,
        kind: str,
        title: str,
        *,
        state="New",
        who=None,
        pts=None,
        start=None,
        due=None,
        parent=None,
        desc=None,
        prio=None,
        tags=None,
        owner=None,
        since=-14,
    ) -> None:
        d = self.out.day
        fields: dict[str, Any] = {
            "System.Description": desc,
            "System.AssignedTo": who,
            "Microsoft.VSTS.Scheduling.StoryPoints": pts,
            "Microsoft.VSTS.Scheduling.StartDate": d(start) if start is not None else None,
            "Microsoft.VSTS.Scheduling.TargetDate": d(due) if due is not None else None,
            "Microsoft.VSTS.Common.Priority": prio,
            "System.Tags": tags,
            PORTFOLIO_FIELD: owner,
        }
        ops = []
        if parent:
            url = f"{self.sb.azure_state.org_url}/_apis/wit/workItems/{self.out.keys[parent]}"
            ops.append(
                {"op": "add", "path": "/relations/-", "value": {"rel": PARENT_REL, "url": url}}
            )
        actor = who or "dana@fabrikam.com"
        item = self.sb.azure_state.create_work_item(
            AZURE_PROJECT,
            kind,
            title,
            actor=actor,
            ops=ops,
            fields={k: v for k, v in fields.items() if v is not None},
        )
        self.out.keys[alias] = str(item.id)
        self.out.titles[str(item.id)] = title
        self.out.counts[AZURE_PROJECT] = self.out.counts.get(AZURE_PROJECT, 0) + 1
        if state != "New":
            self.moves.append((since, "azure", str(item.id), state, actor))

    def play_history(self) -> None:
        """Status changes on the days they happened, oldest first."""
        for since, kind, native_id, status, actor in sorted(self.moves, key=lambda m: m[0]):
            self.at(since)
            if kind == "jira":
                self.sb.jira_state.transition(native_id, status, actor=actor)
            else:
                op = {"op": "add", "path": "/fields/System.State", "value": status}
                self.sb.azure_state.update_work_item(int(native_id), [op], actor=actor)


def add_people(sandbox: Sandbox, jira_token: str, azure_pat: str) -> None:
    jira, azure = sandbox.jira_state, sandbox.azure_state
    for name, display in JIRA_PEOPLE.items():
        jira.add_user(name, display)
    jira.add_user("dana", "Dana W.", account_id=DANA_JIRA_ID)
    jira.add_user(JIRA_BOT, "PMO Bot", token=jira_token)
    for name, display in AZURE_PEOPLE.items():
        azure.add_user(name, display)
    azure.add_user(AZURE_BOT, "PMO Bot", pat=azure_pat)
    for key, name in JIRA_PROJECTS.items():
        jira.add_project(key, name)
    azure.add_project(AZURE_PROJECT)
    azure.add_field(PORTFOLIO_FIELD)


def seed_portfolio(
    sandbox: Sandbox, set_clock: Callable[[dt.datetime], None], monday: dt.datetime
) -> Seeded:
    """Write the portfolio into the sandboxes, as it stands on `monday` morning."""
    s = _Seeder(sandbox, set_clock, monday)
    s.at(-35)
    j, a = s.jira, s.azure
    # fmt: off
    # -- PAY: the payments initiative, three epics under it -----------------------------
    j("init", "PAY", "Initiative", "Payments platform 2025", status="In Progress", who="priya",
      start=-60, due=120, since=-30,
      desc=template("cut card fees by 18%", "all card traffic tokenised, 3DS2 live"))
    j("tok", "PAY", "Epic", "Card tokenisation", status="In Progress", who="marco", start=-28,
      due=40, parent="init", since=-28,
      desc=template("PCI scope shrinks to the vault", "no raw card numbers outside it"))
    j("tok1", "PAY", "Story", "Tokenise card numbers at checkout", status="Done", who="marco",
      pts=5, parent="tok", since=-10)
    j("tok0", "PAY", "Story", "Token format decision record", status="Done", who="priya",
      pts=3, parent="tok", since=-18)
    j("hsm", "PAY", "Story", "Vault HSM integration", status="Done", who="marco", pts=8,
      parent="tok", since=-7)
    j("tok2", "PAY", "Story", "Token vault key rotation", status="In Progress", who="marco",
      pts=8, parent="tok", since=-6)
    j("tok3", "PAY", "Story", "Detokenise card data for refunds", who="lena", pts=3, parent="tok")
    j("api", "PAY", "Story", "Card tokenisation API for partners", who="marco", parent="tok")
    j("pci", "PAY", "Story", "PCI scope review of the token vault", who="priya", pts=2,
      due=50, parent="tok")
    j("3ds", "PAY", "Epic", "3-D Secure 2 rollout", status="In Progress", start=-21, due=30,
      parent="init", since=-21, desc="Move all card payments to 3DS2 before the deadline.")
    j("3ds1", "PAY", "Story", "Challenge flow for mobile web", status="In Progress", who="lena",
      pts=5, parent="3ds", since=-20)
    j("3ds2", "PAY", "Story", "Frictionless flow data fields", status="Done", who="lena", pts=3,
      parent="3ds", since=-12)
    j("3ds3", "PAY", "Story", "Fallback from 3DS2 to 3DS1", who="marco", pts=5, parent="3ds")
    j("3ds4", "PAY", "Story", "Issuer timeout handling", status="In Progress", who="priya",
      pts=21, parent="3ds", since=-4)
    j("ref", "PAY", "Epic", "Refunds automation", who="lena", start=14, due=75, parent="init",
      desc=template("refund handling costs 2 FTE", "90% of refunds without a human"))
    j("ref1", "PAY", "Story", "Partial refunds through the API", who="lena", pts=5, parent="ref")
    j("ref2", "PAY", "Story", "Refund status webhooks for merchants", pts=3, parent="ref")
    j("ref3", "PAY", "Story", "Refunds reconciliation report", pts=8, parent="ref")
    j("bug1", "PAY", "Bug", "Double charge on retry after gateway timeout", status="In Progress",
      who="lena", prio="Highest", parent="tok", since=-2)
    j("bug2", "PAY", "Bug", "Receipt e-mail shows the wrong currency", prio="Low", parent="3ds")
    j("risk", "PAY", "Risk", "Card scheme certification slips past Q3", who="priya",
      desc="Certification slots are scarce.\n\nMitigation: book the slot now, test early.")
    j("fix", "PAY", "Story", "Fix it", who="lena", pts=1)
    j("wal0", "PAY", "Story", "Wallet token provisioning API", status="In Progress", who="dana",
      pts=8, parent="tok", since=-2, due=4)
    # -- WEB: checkout redesign (in flight) and search relaunch (planned) ---------------
    j("chk", "WEB", "Epic", "Checkout redesign", status="In Progress", who="sam", start=-30,
      due=30, since=-30, desc=template("checkout drop-off is 31%", "drop-off under 20%"))
    for n, (title, pts, since) in enumerate(
        [("Basket page redesign", 8, -20), ("Address form with autocomplete", 5, -15),
         ("Payment method selector", 8, -12), ("Shipping cost estimate", 5, -8),
         ("Checkout copy review", 3, -5)]
    ):
        j(f"chkd{n}", "WEB", "Story", title, status="Done", who="sam" if n % 2 else "aisha",
          pts=pts, parent="chk", since=since)
    j("chk2", "WEB", "Story", "One-page checkout layout", status="In Progress", who="aisha",
      pts=8, parent="chk", since=-8)
    j("guest", "WEB", "Story", "Guest checkout without an account", who="tom", pts=5,
      parent="chk")
    j("chk4", "WEB", "Story", "Order summary sidebar", status="In Progress", who="tom", pts=3,
      parent="chk", since=-3)
    for n, (title, pts) in enumerate(
        [("Checkout analytics events", 2), ("Saved cards in checkout", None),
         ("Accessibility audit of checkout", 3), ("Delivery slot picker", 5),
         ("Promo code field", 2), ("Checkout error messages rewrite", 1)]
    ):
        j(f"chkt{n}", "WEB", "Story", title, who="tom" if n % 2 else "aisha", pts=pts,
          parent="chk")
    j("srch", "WEB", "Epic", "Search relaunch", who="aisha", desc="Faster, better search.")
    for n, (title, pts) in enumerate(
        [("Search index on OpenSearch", 8), ("Autocomplete suggestions", 5),
         ("Typo tolerance", 3), ("Search results facets", 5), ("Zero-results page", 2),
         ("Synonyms management UI", None)]
    ):
        j(f"srch{n}", "WEB", "Story", title, who="sam" if n % 2 else "aisha", pts=pts,
          parent="srch")
    j("wbug", "WEB", "Bug", "Basket badge count off by one", who="tom", prio="Medium")
    # -- Fabrikam (Azure DevOps): the mobile app, plus features owned by PAY-1 ----------
    a("app", "Epic", "Fabrikam mobile app v3", state="Active", who="dana@fabrikam.com",
      start=-40, due=60, since=-40,
      desc=template("app rating 3.1 costs renewals", "rating 4.3+, crash-free 99.5%"))
    a("off", "Feature", "Offline mode", state="Active", who="raj@fabrikam.com", pts=20,
      due=45, parent="app", since=-10)
    a("off1", "User Story", "Cache the catalogue for offline browsing", state="Closed",
      who="raj@fabrikam.com", pts=5, parent="off", since=-9)
    a("off2", "User Story", "Sync queue for offline edits", who="raj@fabrikam.com",
      parent="off")
    a("off3", "User Story", "Conflict resolution on reconnect", who="raj@fabrikam.com", pts=8,
      parent="off")
    a("off4", "User Story", "Offline indicator in the app bar", state="Active",
      who="dana@fabrikam.com", pts=2, parent="off", since=-3)
    a("push", "Feature", "Push notifications", who="dana@fabrikam.com", pts=8, due=55,
      parent="app")
    a("push1", "User Story", "Notification preferences screen", who="dana@fabrikam.com",
      pts=3, parent="push")
    a("push2", "User Story", "Order shipped notification", who="raj@fabrikam.com", pts=2,
      parent="push")
    a("push3", "User Story", "Quiet hours for notifications", pts=3, parent="push")
    a("wal", "Feature", "Wallet payments in the mobile app", state="Active",
      who="elena@fabrikam.com", pts=13, due=60, owner="PAY-1", since=-12)
    a("wal1", "User Story", "Apple Pay button on the basket", state="Closed",
      who="elena@fabrikam.com", pts=5, parent="wal", since=-5)
    a("wal2", "User Story", "Google Pay button on the basket", state="Active",
      who="elena@fabrikam.com", pts=5, parent="wal", since=-2)
    a("wal3", "User Story", "Wallet payment error states", who="elena@fabrikam.com", pts=3,
      parent="wal")
    a("rcp", "Feature", "In-app receipts", who="elena@fabrikam.com", pts=8, due=90,
      tags="portfolio:PAY-1")
    a("rcp1", "User Story", "Receipt list in the account area", who="elena@fabrikam.com",
      pts=3, parent="rcp")
    a("rcp2", "User Story", "Receipt PDF download", pts=2, parent="rcp")
    a("abug", "Bug", "Crash on login with an expired token", state="Active",
      who="raj@fabrikam.com", prio=1, parent="app", since=-1)
    a("abug2", "Bug", "Dark mode contrast on the order list", who="dana@fabrikam.com")
    a("arisk", "Risk", "App store review rejects background sync", who="dana@fabrikam.com",
      desc="Apple may read the sync as background abuse.")
    # fmt: on
    s.play_history()
    return s.out

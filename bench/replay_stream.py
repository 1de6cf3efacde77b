"""The replay portfolio and its stream of PM activity, rendered as real webhook deliveries.

Items live in the sandbox trackers' states (two Jira projects, one Azure DevOps project).
Each PM action is applied to the state, and the payload Jira or Azure DevOps would send
for it is rendered by the sandbox's own renderers (`sandbox.jira_events.build_payload`,
`sandbox.azure_events.build_payload`), so the bytes are the real shapes. The actions are
drawn from a seeded generator and depend only on fields PMs own, never on what the
service wrote, so two replays with the same seed send the same stream.

Every delivery is classified against the replay pack with the rule engine itself: it
changes the compliance state when the set of failing rules on its item differs from the
set after the item's previous delivery (an item starts with none).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.azure_events import build_payload as azure_payload
from sandbox.jira_events import WEBHOOK_EVENTS
from sandbox.jira_events import build_payload as jira_payload

JIRA_PROJECTS = ("PAY", "WEB")
AZURE_PROJECT = "Fabrikam"
JIRA_BOT, AZURE_BOT = "pmo-bot", "pmo-bot@fabrikam.com"
JIRA_BOT_TOKEN, AZURE_BOT_PAT = "bench-jira-token", "bench-azure-pat"
JIRA_SECRET, AZURE_SECRET = "replay-jira-secret", "replay-azure-secret"
JIRA_PEOPLE = ("priya", "marco", "lena", "sam", "aisha")
AZURE_PEOPLE = ("dana@fabrikam.com", "raj@fabrikam.com", "elena@fabrikam.com")
ESTIMATE_JIRA, ESTIMATE_AZURE = "customfield_10016", "Microsoft.VSTS.Scheduling.StoryPoints"
TEMPLATE = "Acceptance criteria"
RULE_IDS = ("story-estimated", "owner-in-progress", "story-template", "title-meaningful")

# One advise rule per kind of state change, one enforce rule (a label), no time-dependent
# rule and no rollup: the managed state of an item follows from its fields alone.
PACK = """\
version: 1
name: Replay bench pack
enforcement: advise
rules:
  - id: story-estimated
    severity: medium
    when: {type: [story], status_category: [in_progress, done]}
    require:
      - {field: estimate, present: true}
  - id: owner-in-progress
    severity: high
    enforcement: enforce
    when: {status_category: [in_progress]}
    require:
      - {field: assignee, present: true}
    labels: [unowned]
  - id: story-template
    severity: low
    when: {type: [story]}
    require:
      - {field: description, contains: ["Acceptance criteria"]}
  - id: title-meaningful
    severity: low
    when: {status_category: [todo, in_progress]}
    require:
      - {field: title, min_length: 10}
"""


@dataclass(frozen=True)
class Delivery:
    tracker: str  # configured tracker name: jira | azure-devops
    item: str  # item key, e.g. jira:PAY-3, azure-devops:12
    delivery_id: str
    body: bytes
    kind: str  # the PM action
    changes_state: bool
    seq: int  # position in the generated stream (before duplicates and reordering)
    made_at: float  # epoch seconds when the change was made in the tracker
    failing: frozenset[str]  # the pack's failing rule ids on the item after the change
    reordered: bool = False  # sent after a newer delivery for the same item

    @property
    def path(self) -> str:
        return f"/webhooks/{self.tracker}"

    def headers(self) -> dict[str, str]:
        if self.tracker == "jira":
            digest = hmac.new(JIRA_SECRET.encode(), self.body, hashlib.sha256).hexdigest()
            return {
                "Content-Type": "application/json; charset=utf-8",
                "X-Hub-Signature": f"sha256={digest}",
                "X-Atlassian-Webhook-Identifier": self.delivery_id,
                "User-Agent": "Atlassian Webhook HTTP Client",
            }
        token = base64.b64encode(f"pmo:{AZURE_SECRET}".encode()).decode()
        return {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Basic {token}",
        }


def write_pack(folder: Path) -> Path:
    path = folder / "replay-pack.yaml"
    path.write_text(PACK)
    return path


def prepare_sandbox(sandbox: Sandbox) -> None:
    """Projects, people and the bot accounts (credentials the service is configured with)."""
    for key in JIRA_PROJECTS:
        sandbox.jira_state.add_project(key)
    for name in JIRA_PEOPLE:
        sandbox.jira_state.add_user(name, name.title())
    sandbox.jira_state.add_user(JIRA_BOT, "PMO Bot", token=JIRA_BOT_TOKEN)
    sandbox.azure_state.add_project(AZURE_PROJECT)
    for name in AZURE_PEOPLE:
        sandbox.azure_state.add_user(name)
    sandbox.azure_state.add_user(AZURE_BOT, "PMO Bot", pat=AZURE_BOT_PAT)


class Classifier:
    """Failing rule ids per item, from the rule engine on the parsed payload."""

    def __init__(self, pack_path: Path) -> None:
        from config.settings import TrackerConfig
        from connector import azure_devops, jira
        from rules import load_pack

        self.pack = load_pack(pack_path)
        self.adapters = {"jira": jira, "azure-devops": azure_devops}
        self.trackers = {
            "jira": TrackerConfig(name="jira", kind="jira"),
            "azure-devops": TrackerConfig(name="azure-devops", kind="azure-devops"),
        }
        self.state: dict[str, frozenset[str]] = {}

    def classify(self, tracker: str, payload: dict[str, Any]) -> tuple[str, frozenset[str]]:
        """(item key, failing rule ids after this delivery)."""
        from rules import Context, evaluate

        event = self.adapters[tracker].parse_event(payload, self.trackers[tracker])
        if event.partial or event.item is None:  # a comment: no field changed
            return event.item_key, self.state.get(event.item_key, frozenset())
        now = dt.datetime.now(dt.UTC)
        failing = frozenset(f.rule for f in evaluate(self.pack, event.item, Context(now=now)))
        self.state[event.item_key] = failing
        return event.item_key, failing


class Stream:
    """Applies seeded PM actions to the sandbox and yields the deliveries they cause."""

    def __init__(self, sandbox: Sandbox, pack_path: Path, *, items: int, seed: int) -> None:
        self.sb = sandbox
        self.rng = random.Random(seed)
        self.items = items
        self.classifier = Classifier(pack_path)
        self.captured: list[tuple[str, dict[str, Any]]] = []
        self.jira_keys: list[str] = []
        self.azure_ids: list[int] = []
        self.seq = 0
        self.edits = 0
        sandbox.jira_state.subscribe(self._on_jira)
        sandbox.azure_state.subscribe(self._on_azure)

    # -- capture: payloads rendered as the trackers send them (PM changes only) -----------
    def _on_jira(self, change: Any) -> None:
        if change.actor["name"] != JIRA_BOT and change.kind in WEBHOOK_EVENTS:
            self.captured.append(("jira", jira_payload(self.sb.jira_state, change)))

    def _on_azure(self, change: Any) -> None:
        if change.actor != AZURE_BOT:
            sub = "00000000-0000-0000-0000-000000000000"
            payload = azure_payload(self.sb.azure_state, change, sub, len(self.captured) + 1)
            self.captured.append(("azure-devops", payload))

    def _drain(self, kind: str) -> list[Delivery]:
        out = []
        captured, self.captured = self.captured, []
        for tracker, payload in captured:
            before = self.classifier.state.get(_key(tracker, payload), frozenset())
            item, failing = self.classifier.classify(tracker, payload)
            delivery_id = payload.get("id") if tracker == "azure-devops" else None
            out.append(
                Delivery(
                    tracker,
                    item,
                    delivery_id or str(uuid.UUID(int=self.rng.getrandbits(128))),
                    json.dumps(payload, separators=(",", ":")).encode(),
                    kind,
                    failing != before,
                    self.seq,
                    time.time(),
                    failing,
                )
            )
            self.seq += 1
        return out

    # -- the portfolio ---------------------------------------------------------------------
    def seed(self) -> list[Delivery]:
        """Create the items (their `created` events are the start of the stream)."""
        rng, out = self.rng, []
        for n in range(self.items):
            kind = rng.choice(("Story", "Story", "Story", "Task", "Bug"))
            in_flight = rng.random() < 0.5
            if n % 3 < 2:
                project = JIRA_PROJECTS[n % 3]
                fields: dict[str, Any] = {
                    "description": f"{TEMPLATE}: the {kind.lower()} does what it says ({n}).",
                    "assignee": {"name": rng.choice(JIRA_PEOPLE)},
                }
                if kind == "Story":
                    fields[ESTIMATE_JIRA] = rng.choice((1, 2, 3, 5, 8))
                issue = self.sb.jira_state.create_issue(
                    project,
                    kind,
                    f"{project} {kind.lower()} number {n}",
                    actor=rng.choice(JIRA_PEOPLE),
                    fields=fields,
                    api_version=2,
                )
                self.jira_keys.append(issue.key)
                if in_flight:
                    self.sb.jira_state.transition(issue.key, "In Progress", actor="priya")
            else:
                wi_type = {"Story": "User Story"}.get(kind, kind)
                fields = {
                    "System.Description": f"<div>{TEMPLATE}: works as described ({n}).</div>",
                    "System.AssignedTo": rng.choice(AZURE_PEOPLE),
                }
                if kind == "Story":
                    fields[ESTIMATE_AZURE] = rng.choice((1, 2, 3, 5, 8))
                item = self.sb.azure_state.create_work_item(
                    AZURE_PROJECT,
                    wi_type,
                    f"Fabrikam {kind.lower()} number {n}",
                    actor=AZURE_PEOPLE[0],
                    fields=fields,
                )
                self.azure_ids.append(item.id)
                if in_flight:
                    self._azure_set(item.id, "System.State", "Active")
            out += self._drain("create")
        return out

    # -- actions ---------------------------------------------------------------------------
    def _azure_set(self, item_id: int, ref: str, value: Any) -> None:
        op = {"op": "remove", "path": f"/fields/{ref}"} if value is None else {}
        op = op or {"op": "add", "path": f"/fields/{ref}", "value": value}
        self.sb.azure_state.update_work_item(item_id, [op], actor=self.rng.choice(AZURE_PEOPLE))

    def _jira_set(self, key: str, fields: dict[str, Any]) -> None:
        actor = self.rng.choice(JIRA_PEOPLE)
        self.sb.jira_state.update_issue(key, actor=actor, fields=fields, api_version=2)

    def no_op_action(self) -> str:
        """An edit that leaves every item's compliance as it was."""
        self.edits += 1
        rng, n = self.rng, self.edits
        choice = rng.random()
        if rng.random() < 2 / 3:
            key = rng.choice(self.jira_keys)
            fields = self.sb.jira_state.get(key).fields
            if choice < 0.35:
                self._jira_set(key, {"summary": f"{key} {fields['issuetype']} edit {n}"})
                return "title tweak"
            if choice < 0.6:
                text = f"{TEMPLATE}: refined in backlog grooming, edit {n}."
                self._jira_set(key, {"description": text})
                return "description edit"
            if choice < 0.85:
                self.sb.jira_state.add_comment(
                    key, _adf(f"Status note {n}"), actor=rng.choice(JIRA_PEOPLE)
                )
                return "comment"
            if fields["status"] in ("In Progress", "In Review"):
                target = "In Review" if fields["status"] == "In Progress" else "In Progress"
                self.sb.jira_state.transition(key, target, actor=rng.choice(JIRA_PEOPLE))
                return "status move, same category"
            self._jira_set(key, {"priority": {"name": rng.choice(("High", "Medium", "Low"))}})
            return "priority change"
        item_id = rng.choice(self.azure_ids)
        fields = self.sb.azure_state.get(item_id).fields
        if choice < 0.35:
            self._azure_set(item_id, "System.Title", f"Fabrikam item {item_id} edit {n}")
            return "title tweak"
        if choice < 0.6:
            text = f"<div>{TEMPLATE}: refined in backlog grooming, edit {n}.</div>"
            self._azure_set(item_id, "System.Description", text)
            return "description edit"
        if choice < 0.85:
            self.sb.azure_state.add_comment(item_id, f"Status note {n}", actor=AZURE_PEOPLE[1])
            return "comment"
        if fields["System.State"] in ("Active", "Resolved"):
            target = "Resolved" if fields["System.State"] == "Active" else "Active"
            self._azure_set(item_id, "System.State", target)
            return "status move, same category"
        self._azure_set(item_id, "Microsoft.VSTS.Common.Priority", rng.choice((1, 2, 3)))
        return "priority change"

    def state_action(self) -> str:
        """An edit that changes the item's failing rules (checked by the classifier)."""
        rng = self.rng
        action = rng.choice(("status", "status", "estimate", "assignee"))
        if rng.random() < 2 / 3:
            key = rng.choice(self.jira_keys)
            fields = self.sb.jira_state.get(key).fields
            if action == "status":
                flow = {"To Do": "In Progress", "Done": "To Do"}
                target = flow.get(fields["status"], rng.choice(("Done", "To Do")))
                self.sb.jira_state.transition(key, target, actor=rng.choice(JIRA_PEOPLE))
                return "status move"
            if action == "estimate":
                value = None if fields[ESTIMATE_JIRA] is not None else rng.choice((2, 3, 5))
                self._jira_set(key, {ESTIMATE_JIRA: value})
                return "estimate " + ("removed" if value is None else "added")
            value = None if fields["assignee"] else {"name": rng.choice(JIRA_PEOPLE)}
            self._jira_set(key, {"assignee": value})
            return "assignee " + ("removed" if value is None else "added")
        item_id = rng.choice(self.azure_ids)
        fields = self.sb.azure_state.get(item_id).fields
        if action == "status":
            flow = {"New": "Active", "Closed": "New"}
            target = flow.get(fields["System.State"], rng.choice(("Closed", "New")))
            self._azure_set(item_id, "System.State", target)
            return "status move"
        if action == "estimate":
            value = None if fields.get(ESTIMATE_AZURE) is not None else rng.choice((2, 3, 5))
            self._azure_set(item_id, ESTIMATE_AZURE, value)
            return "estimate " + ("removed" if value is None else "added")
        value = None if fields.get("System.AssignedTo") else rng.choice(AZURE_PEOPLE)
        self._azure_set(item_id, "System.AssignedTo", value)
        return "assignee " + ("removed" if value is None else "added")

    def step(self, change_state: bool) -> list[Delivery]:
        """One PM action, aimed at a compliance change or not (the classifier decides)."""
        return self._drain(self.state_action() if change_state else self.no_op_action())


def _key(tracker: str, payload: dict[str, Any]) -> str:
    if tracker == "jira":
        return f"jira:{payload['issue']['key']}"
    resource = payload["resource"]
    return f"azure-devops:{resource.get('workItemId') or resource['id']}"


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@dataclass(frozen=True)
class Plan:
    """How the stream is delivered: bursts, duplicates, out-of-order pairs."""

    events: int = 10_000
    items: int = 150
    seed: int = 7
    state_share: float = 0.10  # deliveries that change an item's compliance
    duplicate_share: float = 0.05
    reorder_share: float = 0.02
    burst: tuple[int, int] = (50, 400)  # deliveries per burst
    pause: tuple[float, float] = (0.05, 0.4)  # seconds between bursts


def deliveries(stream: Stream, plan: Plan) -> Iterator[Delivery | float]:
    """The deliveries to post, in order, with a pause (float, seconds) after each burst.

    Each PM action is applied when its delivery is about to be posted, so the trackers
    change just before they notify, as in real life. A duplicate repeats a recent
    delivery (same id, same body); a reordered delivery is held back and posted right
    after a newer delivery for the same item (older revision after newer)."""
    rng = random.Random(plan.seed + 1)
    total = changed = made = 0
    originals = plan.events - round(plan.events * plan.duplicate_share)
    pending = stream.seed()
    recent: list[Delivery] = []
    held: dict[str, Delivery] = {}
    while total < plan.events:
        size, in_burst = rng.randint(*plan.burst), 0
        while in_burst < size and total < plan.events:
            if pending:
                delivery = pending.pop(0)
                made += 1
                changed += delivery.changes_state
                recent = [*recent[-199:], delivery]
                if (
                    delivery.item not in held
                    and total < plan.events - 100
                    and rng.random() < plan.reorder_share
                ):
                    held[delivery.item] = delivery
                    continue
            elif made >= originals or rng.random() < plan.duplicate_share:
                delivery = _as_duplicate(rng.choice(recent))
            else:
                # steer towards the planned share of compliance changes
                pending += stream.step(changed < plan.state_share * (made + 1))
                continue
            yield delivery
            total, in_burst = total + 1, in_burst + 1
            older = held.get(delivery.item)
            if older is not None and older is not delivery and delivery.kind != "duplicate":
                yield replace(held.pop(delivery.item), reordered=True)
                total, in_burst = total + 1, in_burst + 1
        yield rng.uniform(*plan.pause)
    yield from held.values()  # never followed by a newer one: sent last, in order


def _as_duplicate(delivery: Delivery) -> Delivery:
    return replace(delivery, kind="duplicate", changes_state=False, reordered=False)

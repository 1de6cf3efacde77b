"""Portfolios for tests and benchmarks: tracker-neutral item specs rendered as Jira issue
payloads (the REST issue shape, as in `jira/issue_created__epic_with_parent.json`), as
Azure DevOps work items and service-hook payloads (as in
`azure-devops/workitem.created__user_story_with_parent.json`), or as `WorkItem`s straight
into the store."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from connector.model import ItemType, Person, StatusCategory, WorkItem
from tests.support.spec_check import INVALID_INPUT, comment_problems

JIRA_SITE = "https://acme.atlassian.net"
ADO_ORG = "https://dev.azure.com/fabrikam"
ADO_PROJECT = "Fabrikam"
ADO_PROJECT_ID = "3b1d8c0e-6a52-4f0e-9b8e-2c7d0f6e1a44"
ADO_PORTFOLIO_FIELD = "Custom.PortfolioParent"  # the `portfolio_link` field in tests

# status name -> (Jira status category key, common category)
JIRA_STATUSES = {
    "To Do": ("new", StatusCategory.TODO),
    "In Progress": ("indeterminate", StatusCategory.IN_PROGRESS),
    "Blocked": ("indeterminate", StatusCategory.IN_PROGRESS),
    "Done": ("done", StatusCategory.DONE),
}
ADO_STATES = {
    "New": StatusCategory.TODO,
    "Active": StatusCategory.IN_PROGRESS,
    "Blocked": StatusCategory.IN_PROGRESS,  # a custom state: in progress by default
    "Closed": StatusCategory.DONE,
    "Removed": StatusCategory.REMOVED,
}
JIRA_TYPES = {"initiative": "Initiative", "epic": "Epic", "story": "Story", "feature": "Feature"}
ADO_TYPES = {
    "initiative": "Initiative",
    "epic": "Epic",
    "feature": "Feature",
    "story": "User Story",
}
BASE_TIME = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Spec:
    """One item of a generated portfolio, in tracker-neutral terms."""

    tracker: str  # "jira" | "azure-devops"
    native_id: str  # PAY-12 | 4711
    type: str  # initiative | epic | feature | story
    title: str
    status: str  # a name from JIRA_STATUSES or ADO_STATES
    estimate: float | None = None
    parent: str | None = None  # native id of a parent in the same tracker
    portfolio_tag: str | None = None  # `portfolio:<owner>` label/tag
    portfolio_field: str | None = None  # Azure DevOps portfolio_link field value
    labels: tuple[str, ...] = ()
    assignee: str | None = None  # an e-mail-style account name
    start: dt.date | None = None
    due: dt.date | None = None
    status_changed: dt.datetime | None = None
    revision: int = 1  # Azure DevOps rev; Jira `updated` = BASE_TIME + revision minutes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.tracker}:{self.native_id}"

    @property
    def project(self) -> str:
        return self.native_id.rsplit("-", 1)[0] if self.tracker == "jira" else ADO_PROJECT

    @property
    def category(self) -> StatusCategory:
        if self.tracker == "jira":
            return JIRA_STATUSES[self.status][1]
        return ADO_STATES[self.status]

    @property
    def updated(self) -> dt.datetime:
        return BASE_TIME + dt.timedelta(minutes=self.revision)

    def bump(self, **changes: Any) -> Spec:
        """The next revision of the item with `changes`."""
        return replace(self, revision=self.revision + 1, **changes)


def _display(account: str) -> str:
    return account.split("@", 1)[0].replace(".", " ").title()


# -- Jira -----------------------------------------------------------------------------


def _jira_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def jira_issue(spec: Spec) -> dict[str, Any]:
    """The REST issue shape (v3 field names, plain-string description)."""
    category_key, _ = JIRA_STATUSES[spec.status]
    number = spec.native_id.rsplit("-", 1)[1]
    labels = list(spec.labels)
    if spec.portfolio_tag:
        labels.append(f"portfolio:{spec.portfolio_tag}")
    assignee = None
    if spec.assignee:
        # Jira Data Center names users by login; with e-mail logins the same person has
        # the same account name in both trackers (Cloud's opaque accountId does not).
        assignee = {"name": spec.assignee, "displayName": _display(spec.assignee), "active": True}
    fields: dict[str, Any] = {
        "issuetype": {"id": "1", "name": JIRA_TYPES[spec.type], "subtask": False},
        "project": {"id": "10020", "key": spec.project, "name": spec.project.title()},
        "summary": spec.title,
        "description": f"{spec.title}: generated test item.",
        "status": {
            "id": "1",
            "name": spec.status,
            "statusCategory": {"id": 2, "key": category_key, "name": spec.status},
        },
        "priority": {"id": "3", "name": "Medium"},
        "labels": labels,
        "assignee": assignee,
        "reporter": {"accountId": "pmo-office", "displayName": "PMO Office"},
        "customfield_10016": spec.estimate,
        "customfield_10015": spec.start.isoformat() if spec.start else None,
        "duedate": spec.due.isoformat() if spec.due else None,
        "created": _jira_time(BASE_TIME),
        "updated": _jira_time(spec.updated),
        "statuscategorychangedate": _jira_time(spec.status_changed or BASE_TIME),
        "issuelinks": [],
        **spec.extra,
    }
    if spec.parent:
        fields["parent"] = {"id": "1", "key": spec.parent, "fields": {"summary": "parent"}}
    return {
        "id": str(10000 + int(number)),
        "self": f"{JIRA_SITE}/rest/api/3/issue/{10000 + int(number)}",
        "key": spec.native_id,
        "fields": fields,
    }


def jira_event(spec: Spec, event: str = "jira:issue_updated") -> dict[str, Any]:
    """A webhook payload carrying the whole issue, as Jira Cloud sends it."""
    kind = event.split(":", 1)[1]
    return {
        "timestamp": int(spec.updated.timestamp() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": kind if kind != "issue_updated" else "issue_generic",
        "user": {"accountId": "pm-1", "displayName": "Priya Natarajan", "active": True},
        "issue": jira_issue(spec),
    }


# -- Azure DevOps ---------------------------------------------------------------------


def _ado_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ado_work_item(spec: Spec) -> dict[str, Any]:
    """The REST work item shape {id, rev, fields, relations, _links, url}."""
    wid = int(spec.native_id)
    tags = list(spec.labels)
    if spec.portfolio_tag:
        tags.append(f"portfolio:{spec.portfolio_tag}")
    fields: dict[str, Any] = {
        "System.Id": wid,
        "System.Rev": spec.revision,
        "System.TeamProject": ADO_PROJECT,
        "System.WorkItemType": ADO_TYPES[spec.type],
        "System.State": spec.status,
        "System.Title": spec.title,
        "System.Description": f"<div>{spec.title}: generated test item.</div>",
        "System.CreatedDate": _ado_time(BASE_TIME),
        "System.ChangedDate": _ado_time(spec.updated),
        "System.CreatedBy": {"displayName": "PMO Office", "uniqueName": "pmo@fabrikam.com"},
        "System.ChangedBy": {"displayName": "Ravi Menon", "uniqueName": "ravi@fabrikam.com"},
        "Microsoft.VSTS.Common.StateChangeDate": _ado_time(spec.status_changed or BASE_TIME),
        "Microsoft.VSTS.Common.Priority": 2,
        **spec.extra,
    }
    if spec.assignee:
        fields["System.AssignedTo"] = {
            "displayName": _display(spec.assignee),
            "uniqueName": spec.assignee,
            "id": f"id-{spec.assignee}",
        }
    if spec.estimate is not None:
        fields["Microsoft.VSTS.Scheduling.StoryPoints"] = spec.estimate
    if spec.start:
        fields["Microsoft.VSTS.Scheduling.StartDate"] = f"{spec.start.isoformat()}T00:00:00Z"
    if spec.due:
        fields["Microsoft.VSTS.Scheduling.TargetDate"] = f"{spec.due.isoformat()}T00:00:00Z"
    if tags:
        fields["System.Tags"] = "; ".join(tags)
    if spec.portfolio_field:
        fields[ADO_PORTFOLIO_FIELD] = spec.portfolio_field
    relations = []
    if spec.parent:
        fields["System.Parent"] = int(spec.parent)
        relations.append(
            {
                "rel": "System.LinkTypes.Hierarchy-Reverse",
                "url": f"{ADO_ORG}/{ADO_PROJECT_ID}/_apis/wit/workItems/{spec.parent}",
                "attributes": {"isLocked": False, "name": "Parent"},
            }
        )
    url = f"{ADO_ORG}/{ADO_PROJECT_ID}/_apis/wit/workItems/{wid}"
    return {
        "id": wid,
        "rev": spec.revision,
        "fields": fields,
        "relations": relations,
        "_links": {"html": {"href": f"{ADO_ORG}/{ADO_PROJECT}/_workitems/edit/{wid}"}},
        "url": url,
    }


def ado_event(spec: Spec, event: str = "workitem.updated") -> dict[str, Any]:
    """A service-hook payload: `resource` is the work item for created/deleted/restored;
    for updated it is the change set with the whole new revision in `resource.revision`."""
    wi = ado_work_item(spec)
    if event == "workitem.updated":
        resource: dict[str, Any] = {
            "id": spec.revision,
            "workItemId": wi["id"],
            "rev": spec.revision,
            "revisedBy": {"displayName": "Ravi Menon", "uniqueName": "ravi@fabrikam.com"},
            "revisedDate": "9999-01-01T00:00:00Z",
            "fields": {"System.Rev": {"oldValue": spec.revision - 1, "newValue": spec.revision}},
            "revision": wi,
            "url": f"{wi['url']}/updates/{spec.revision}",
        }
    else:
        resource = wi
    return {
        "subscriptionId": "5c1f0e2d-7b3a-4e69-8d10-4f2a6b9c8e31",
        "notificationId": spec.revision,
        "id": f"hook-{spec.native_id}-{spec.revision}",
        "eventType": event,
        "publisherId": "tfs",
        "message": {"text": f"{spec.title} {event}"},
        "resource": resource,
        "resourceVersion": "1.0",
        "resourceContainers": {"project": {"id": ADO_PROJECT_ID, "baseUrl": f"{ADO_ORG}/"}},
        "createdDate": _ado_time(spec.updated),
    }


def event_for(spec: Spec, *, created: bool = False, deleted: bool = False) -> dict[str, Any]:
    """The webhook payload announcing `spec` in its own tracker."""
    if spec.tracker == "jira":
        name = "created" if created else "deleted" if deleted else "updated"
        return jira_event(spec, f"jira:issue_{name}")
    name = "created" if created else "deleted" if deleted else "updated"
    return ado_event(spec, f"workitem.{name}")


# -- WorkItems for the store (benchmarks) ----------------------------------------------

_TYPES = {t.value: t for t in ItemType}


def work_item(spec: Spec) -> WorkItem:
    """The WorkItem the adapters would make of `spec` (parents as full keys)."""
    parent = f"{spec.tracker}:{spec.parent}" if spec.parent else spec.portfolio_tag
    return WorkItem(
        key=spec.key,
        tracker=spec.tracker,
        native_id=spec.native_id,
        project=spec.project,
        type=_TYPES[spec.type],
        title=spec.title,
        status=spec.status,
        status_category=spec.category,
        assignee=Person(_display(spec.assignee), spec.assignee) if spec.assignee else None,
        labels=spec.labels,
        estimate=spec.estimate,
        start_date=spec.start,
        due_date=spec.due,
        parent=parent,
        created=BASE_TIME,
        updated=spec.updated,
        status_changed=spec.status_changed,
        revision=spec.revision,
    )


def generate(
    *,
    initiatives: int,
    epics: int,
    features: int,
    stories: int,
    seed: int = 7,
    today: dt.date = dt.date(2024, 6, 10),
) -> Iterator[Spec]:
    """A depth-4 portfolio, parents before children: each initiative has `epics` epics,
    each epic `features` features, each feature `stories` stories. Initiatives and epics
    live in Jira; every other epic's features and stories live in Azure DevOps (owned by
    the Jira epic through `portfolio:<key>`), so both trackers' keys occur throughout."""
    rng = random.Random(seed)
    jira_seq, ado_seq = iter(range(1, 10**9)), iter(range(1000, 10**9))
    statuses = {
        "jira": ("To Do", "In Progress", "Done"),
        "azure-devops": ("New", "Active", "Closed"),
    }
    for i in range(initiatives):
        initiative = Spec(
            "jira", f"INI-{next(jira_seq)}", "initiative", f"Initiative {i}", "In Progress",
            due=today + dt.timedelta(days=rng.randint(30, 200)),
        )  # fmt: skip
        yield initiative
        for e in range(epics):
            epic = Spec(
                "jira", f"PAY-{next(jira_seq)}", "epic", f"Epic {i}.{e}", "In Progress",
                parent=initiative.native_id, due=today + dt.timedelta(days=rng.randint(10, 120)),
            )  # fmt: skip
            yield epic
            tracker = "azure-devops" if e % 2 else "jira"
            for f in range(features):
                native = (
                    str(next(ado_seq)) if tracker == "azure-devops" else f"PAY-{next(jira_seq)}"
                )
                feature = Spec(
                    tracker, native, "feature", f"Feature {i}.{e}.{f}", statuses[tracker][1],
                    parent=None if tracker == "azure-devops" else epic.native_id,
                    portfolio_tag=epic.key if tracker == "azure-devops" else None,
                    due=today + dt.timedelta(days=rng.randint(5, 90)),
                )  # fmt: skip
                yield feature
                for s in range(stories):
                    native = (
                        str(next(ado_seq)) if tracker == "azure-devops" else f"PAY-{next(jira_seq)}"
                    )
                    status = rng.choice(statuses[tracker])
                    changed = dt.datetime.combine(
                        today - dt.timedelta(days=rng.randint(0, 60)), dt.time(12), dt.UTC
                    )
                    yield Spec(
                        tracker, native, "story", f"Story {i}.{e}.{f}.{s}", status,
                        estimate=float(rng.choice((1, 2, 3, 5, 8))), parent=feature.native_id,
                        assignee=f"dev{rng.randint(1, 400)}@fabrikam.com", status_changed=changed,
                    )  # fmt: skip


# -- both trackers' write APIs, mocked -------------------------------------------------


@dataclass
class Write:
    key: str  # item key
    kind: str  # labels | comment_add | comment_update | fields
    body: Any


class FakeTrackers:
    """Jira Cloud and Azure DevOps write (and search) endpoints on a `responses` mock,
    with the state a write leaves behind: labels/tags, comments and revisions per item.
    Tests tell it the items they deliver (`know`) so Azure DevOps reads answer with them."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.reads: list[tuple[str, str]] = []  # (key, what) of the reads tests look at
        self.labels: dict[str, set[str]] = {}
        self.comments: dict[str, dict[str, str]] = {}  # key -> comment id -> text
        self.specs: dict[str, Spec] = {}
        self.ado_rev: dict[str, int] = {}
        self.search_issues: list[dict[str, Any]] = []
        self.search_bodies: list[dict[str, Any]] = []
        self.ado_search: list[int] = []
        self.batch_ids: list[list[int]] = []
        self.batch_bodies: list[dict[str, Any]] = []
        self.bulk_bodies: list[dict[str, Any]] = []  # Jira issue/bulkfetch
        self.edit_calls = 0  # issue edits / work item PATCHes, one-call writes included
        self._ids = iter(range(10500, 10**9))

    def know(self, spec: Spec) -> Spec:
        """Remember `spec` as the tracker's item, with the labels the tracker shows now
        (the service's own included), as the next webhook about it would carry them."""
        tag = {f"portfolio:{spec.portfolio_tag}"} if spec.portfolio_tag else set()
        shown = self.labels.setdefault(spec.key, set(spec.labels) | tag)
        known = self.specs.get(spec.key)
        if known is not None:  # a change: a revision after every earlier one, ours included
            last = self.ado_rev.get(spec.native_id, known.revision)
            spec = replace(spec, revision=max(spec.revision, last + 1))
        spec = replace(spec, labels=tuple(sorted(shown - tag)))
        self.specs[spec.key] = spec
        if spec.tracker == "azure-devops":
            self.ado_rev[spec.native_id] = spec.revision
        return spec

    def writes_to(self, key: str) -> list[Write]:
        return [w for w in self.writes if w.key == key]

    def install(self, rsps: Any) -> None:
        import re

        from tests.support.azure_devops import OPTIONS_BODY

        api = re.escape(f"{JIRA_SITE}/rest/api/3")
        org = re.escape(ADO_ORG)
        tail = r"(\?.*)?$"

        def add(method: str, url: Any, callback: Any) -> None:
            rsps.add_callback(method, url, callback, content_type="application/json")

        add("PUT", re.compile(rf"{api}/issue/([A-Z]+-\d+){tail}"), self._jira_edit)
        add("GET", re.compile(rf"{api}/issue/([A-Z]+-\d+){tail}"), self._jira_get)
        add("GET", re.compile(rf"{api}/issue/([A-Z]+-\d+)/comment{tail}"), self._jira_comments)
        add("POST", re.compile(rf"{api}/issue/([A-Z]+-\d+)/comment{tail}"), self._jira_comment_add)
        add(
            "PUT",
            re.compile(rf"{api}/issue/([A-Z]+-\d+)/comment/\d+{tail}"),
            self._jira_comment_put,
        )
        add(
            "GET",
            re.compile(rf"{api}/issue/([A-Z]+-\d+)/comment/\d+{tail}"),
            self._jira_comment_get,
        )
        add("POST", re.compile(rf"{api}/search/approximate-count{tail}"), self._jira_count)
        add("POST", re.compile(rf"{api}/search/jql{tail}"), self._jira_search)
        add("POST", re.compile(rf"{api}/issue/bulkfetch{tail}"), self._jira_bulk_fetch)
        rsps.add("OPTIONS", f"{ADO_ORG}/_apis", json=OPTIONS_BODY)
        add("GET", re.compile(rf"{org}/_apis/wit/workItems/(\d+){tail}"), self._ado_get)
        add("PATCH", re.compile(rf"{org}/_apis/wit/workItems/(\d+){tail}"), self._ado_patch)
        comments = rf"{org}/{ADO_PROJECT}/_apis/wit/workItems/(\d+)/comments"
        add("GET", re.compile(rf"{comments}{tail}"), self._ado_comments)
        add("POST", re.compile(rf"{comments}{tail}"), self._ado_comment_add)
        add("PATCH", re.compile(rf"{comments}/\d+{tail}"), self._ado_comment_put)
        add("GET", re.compile(rf"{comments}/\d+{tail}"), self._ado_comment_get)
        add("POST", re.compile(rf"{org}/{ADO_PROJECT}/_apis/wit/wiql{tail}"), self._ado_wiql)
        add(
            "POST",
            re.compile(rf"{org}/{ADO_PROJECT}/_apis/wit/workItemsBatch{tail}"),
            self._ado_batch,
        )

    # -- Jira ----------------------------------------------------------------------------

    @staticmethod
    def _jira_key(request: Any) -> str:
        import re

        return "jira:" + re.search(r"/issue/([A-Z]+-\d+)", request.url).group(1)

    def _jira_get(self, request: Any) -> tuple[int, dict, str]:
        """The issue as known, with the labels written since (comment events are partial:
        the worker reads the issue)."""
        import json

        key = self._jira_key(request)
        if key not in self.specs:
            return 404, {}, json.dumps({"errorMessages": ["Issue does not exist"], "errors": {}})
        issue = jira_issue(self.specs[key])
        issue["fields"]["labels"] = sorted(self.labels.get(key, ()))
        return 200, {}, json.dumps(issue)

    def _jira_edit(self, request: Any) -> tuple[int, dict, str]:
        """Labels by `update`, fields by `fields`; a comment added by the same edit
        (`update.comment`) is made as the comment resource makes it."""
        import json

        key, body = self._jira_key(request), json.loads(request.body)
        update = body.get("update", {})
        added = [op["add"] for op in update.get("comment", [])]
        if any(comment_problems("3", add) for add in added):
            return 400, {}, json.dumps(INVALID_INPUT)
        self.edit_calls += 1
        labels = self.labels.setdefault(key, set())
        for op in update.get("labels", []):
            labels.add(op["add"]) if "add" in op else labels.discard(op["remove"])
        if "labels" in update or "fields" in body:
            self.writes.append(Write(key, "labels" if "update" in body else "fields", body))
        for add in added:
            cid = str(next(self._ids))
            self.comments.setdefault(key, {})[cid] = json.dumps(add["body"])
            self.writes.append(Write(key, "comment_add", add))
        return 204, {}, ""

    def _jira_comments(self, request: Any) -> tuple[int, dict, str]:
        """The item's comments, the bot's, oldest first (or newest, `orderBy=-created`)."""
        import json

        key = self._jira_key(request)
        found = [
            {"id": cid, "body": json.loads(text), "author": {"accountId": "pmo-bot"}}
            for cid, text in self.comments.get(key, {}).items()
        ]
        if "orderBy=-created" in request.url:
            found.reverse()
        if "maxResults=1&" in request.url + "&":
            found = found[:1]
        page = {"comments": found, "total": len(found), "startAt": 0, "maxResults": 100}
        return 200, {}, json.dumps(page)

    def _jira_comment_add(self, request: Any) -> tuple[int, dict, str]:
        import json

        key, body = self._jira_key(request), json.loads(request.body)
        if comment_problems("3", body):  # Jira Cloud refuses it, as the sandbox does
            return 400, {}, json.dumps(INVALID_INPUT)
        cid = str(next(self._ids))
        self.comments.setdefault(key, {})[cid] = json.dumps(body["body"])
        self.writes.append(Write(key, "comment_add", body))
        return 201, {}, json.dumps({"id": cid})

    def _jira_comment_get(self, request: Any) -> tuple[int, dict, str]:
        """One comment by id, as Jira shows it now (a person's edit included), else 404."""
        import json
        import re

        key = self._jira_key(request)
        cid = re.search(r"/comment/(\d+)", request.url).group(1)
        self.reads.append((key, "comment_get"))
        stored = self.comments.get(key, {}).get(cid)
        if stored is None:
            return 404, {}, json.dumps({"errorMessages": ["Comment not found"], "errors": {}})
        try:
            body = json.loads(stored)
        except ValueError:
            body = stored  # what a person typed, in the fake as plain text
        return 200, {}, json.dumps({"id": cid, "body": body, "author": {"accountId": "bot"}})

    def _jira_comment_put(self, request: Any) -> tuple[int, dict, str]:
        import json
        import re

        key = self._jira_key(request)
        cid = re.search(r"/comment/(\d+)", request.url).group(1)
        body = json.loads(request.body)
        if comment_problems("3", body):
            return 400, {}, json.dumps(INVALID_INPUT)
        self.comments.setdefault(key, {})[cid] = json.dumps(body["body"])
        self.writes.append(Write(key, "comment_update", body))
        return 200, {}, json.dumps({"id": cid})

    def _jira_count(self, request: Any) -> tuple[int, dict, str]:
        import json

        return 200, {}, json.dumps({"count": len(self.search_issues)})

    def _jira_search(self, request: Any) -> tuple[int, dict, str]:
        """Pages of `search_issues`; the token names the next page's start."""
        import json

        body = json.loads(request.body)
        self.search_bodies.append(body)
        token = body.get("nextPageToken")
        start = int(token.split("-")[1]) if token else 0
        key_only = "fields" not in body  # the enhanced search then gives ids only
        size = min(int(body["maxResults"]), 5000 if key_only else 100)
        issues = self.search_issues[start : start + size]
        if key_only:
            issues = [{"id": issue["id"]} for issue in issues]
        page: dict[str, Any] = {"issues": issues}
        if start + size < len(self.search_issues):
            page["nextPageToken"] = f"start-{start + size}"
        else:
            page["isLast"] = True
        return 200, {}, json.dumps(page)

    def _jira_bulk_fetch(self, request: Any) -> tuple[int, dict, str]:
        """Up to 100 issues by id, ascending, with only the fields asked for."""
        import json

        body = json.loads(request.body)
        self.bulk_bodies.append(body)
        ids = body["issueIdsOrKeys"]
        if len(ids) > 100:
            return 400, {}, json.dumps({"errorMessages": ["at most 100 issues"], "errors": {}})
        by_id = {issue["id"]: issue for issue in self.search_issues}
        wanted = set(body.get("fields") or ())
        issues = []
        for ref in sorted(ids, key=int):
            issue = by_id[ref]
            fields = {k: v for k, v in issue["fields"].items() if not wanted or k in wanted}
            issues.append({**issue, "fields": fields})
        return 200, {}, json.dumps({"issues": issues, "issueErrors": []})

    # -- Azure DevOps --------------------------------------------------------------------

    def _ado_item(self, native_id: str) -> dict[str, Any]:
        spec = self.specs[f"azure-devops:{native_id}"]
        wi = ado_work_item(replace(spec, revision=self.ado_rev[native_id], portfolio_tag=None))
        wi["fields"]["System.Tags"] = "; ".join(sorted(self.labels[spec.key]))
        return wi

    def _ado_get(self, request: Any) -> tuple[int, dict, str]:
        import json
        import re

        native = re.search(r"/workItems/(\d+)", request.url).group(1)
        if f"azure-devops:{native}" not in self.specs:
            return 404, {}, json.dumps({"message": f"work item {native} does not exist"})
        return 200, {}, json.dumps(self._ado_item(native))

    def _ado_patch(self, request: Any) -> tuple[int, dict, str]:
        import json
        import re

        native = re.search(r"/workItems/(\d+)", request.url).group(1)
        key, ops = f"azure-devops:{native}", json.loads(request.body)
        for op in ops:
            if op["op"] == "test" and op["path"] == "/rev" and op["value"] != self.ado_rev[native]:
                return 412, {}, json.dumps({"message": "rev mismatch"})
        self.edit_calls += 1
        history = [op["value"] for op in ops if op["path"] == "/fields/System.History"]
        for op in ops:
            if op["path"] == "/fields/System.Tags":
                self.labels[key] = {t.strip() for t in op["value"].split(";") if t.strip()}
        self.ado_rev[native] += 1
        tags = any(op["path"] == "/fields/System.Tags" for op in ops)
        if tags or len(history) < len([op for op in ops if op["op"] != "test"]):
            self.writes.append(Write(key, "labels" if tags else "fields", ops))
        for text in history:  # System.History's text is the item's new comment
            self.comments.setdefault(key, {})[str(next(self._ids))] = text
            self.writes.append(Write(key, "comment_add", {"text": text}))
        return 200, {}, json.dumps(self._ado_item(native))

    def _ado_comments(self, request: Any) -> tuple[int, dict, str]:
        """The item's comments, the bot's, oldest first (or newest, `order=desc`)."""
        import json
        import re

        native = re.search(r"/workItems/(\d+)", request.url).group(1)
        bot = {"displayName": "PMO Bot", "uniqueName": "pmo-bot@fabrikam.com"}
        found = [
            {"id": int(cid), "workItemId": int(native), "text": text, "createdBy": bot}
            for cid, text in self.comments.get(f"azure-devops:{native}", {}).items()
        ]
        if "order=desc" in request.url:
            found.reverse()
        top = re.search(r"\$top=(\d+)", request.url.replace("%24", "$"))
        if top:
            found = found[: int(top.group(1))]
        return (
            200,
            {},
            json.dumps({"totalCount": len(found), "count": len(found), "comments": found}),
        )

    def _ado_comment_get(self, request: Any) -> tuple[int, dict, str]:
        """One comment by id, as Azure DevOps shows it now, else 404."""
        import json
        import re

        native, cid = re.search(r"/workItems/(\d+)/comments/(\d+)", request.url).groups()
        key = f"azure-devops:{native}"
        self.reads.append((key, "comment_get"))
        stored = self.comments.get(key, {}).get(cid)
        if stored is None:
            return 404, {}, json.dumps({"message": f"TF401219: comment {cid} not found"})
        answer = {"workItemId": int(native), "id": int(cid), "version": 1, "text": stored,
                  "isDeleted": False, "createdBy": {"displayName": "PMO bot"}}  # fmt: skip
        return 200, {}, json.dumps(answer)

    def _ado_comment_add(self, request: Any) -> tuple[int, dict, str]:
        import json
        import re

        native = re.search(r"/workItems/(\d+)", request.url).group(1)
        key, cid = f"azure-devops:{native}", next(self._ids)
        body = json.loads(request.body)
        self.comments.setdefault(key, {})[str(cid)] = body["text"]
        self.writes.append(Write(key, "comment_add", body))
        return 200, {}, json.dumps({"id": cid, "workItemId": int(native), "text": body["text"]})

    def _ado_comment_put(self, request: Any) -> tuple[int, dict, str]:
        import json
        import re

        native, cid = re.search(r"/workItems/(\d+)/comments/(\d+)", request.url).groups()
        key, body = f"azure-devops:{native}", json.loads(request.body)
        self.comments.setdefault(key, {})[cid] = body["text"]
        self.writes.append(Write(key, "comment_update", body))
        return (
            200,
            {},
            json.dumps({"id": int(cid), "workItemId": int(native), "text": body["text"]}),
        )

    def _ado_wiql(self, request: Any) -> tuple[int, dict, str]:
        import json

        refs = [{"id": i, "url": f"{ADO_ORG}/_apis/wit/workItems/{i}"} for i in self.ado_search]
        return 200, {}, json.dumps({"queryType": "flat", "workItems": refs})

    def _ado_batch(self, request: Any) -> tuple[int, dict, str]:
        import json

        body = json.loads(request.body)
        ids = body["ids"]
        self.batch_ids.append(ids)
        self.batch_bodies.append(body)
        value = [self._ado_item(str(i)) for i in ids]
        if body.get("fields"):  # only those fields, and no relations
            wanted = set(body["fields"])
            for wi in value:
                wi["fields"] = {k: v for k, v in wi["fields"].items() if k in wanted}
                wi.pop("relations", None)
                wi.pop("_links", None)  # given only with $expand=links or all
        return 200, {}, json.dumps({"count": len(value), "value": value})


def fresh_ado_location_cache(monkeypatch: Any) -> None:
    """The Azure DevOps library caches resource locations per process and on disk under
    the home folder: start cold and write nothing to disk."""
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)


def tracker_configs() -> dict[str, Any]:
    """Both trackers with write-back URLs; tokens from TEST_JIRA_* / TEST_ADO_PAT."""
    from config.settings import TrackerConfig

    return {
        "jira": TrackerConfig(
            name="jira", kind="jira", url=JIRA_SITE, deployment="cloud",
            user_env="TEST_JIRA_EMAIL", token_env="TEST_JIRA_TOKEN", bot_account="pmo-bot",
            allow_unsigned=True,  # the generated deliveries are unsigned
        ),
        "azure-devops": TrackerConfig(
            name="azure-devops", kind="azure-devops", url=ADO_ORG, token_env="TEST_ADO_PAT",
            bot_account="pmo-bot@fabrikam.com", project=ADO_PROJECT,
            fields={"portfolio_link": ADO_PORTFOLIO_FIELD}, allow_unsigned=True,
        ),
    }  # fmt: skip


TRACKER_ENV = {
    "TEST_JIRA_EMAIL": "pmo-bot@acme.example",
    "TEST_JIRA_TOKEN": "jira-token",
    "TEST_ADO_PAT": "ado-pat",
}

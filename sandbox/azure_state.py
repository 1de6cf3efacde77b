"""In-memory Azure Boards: projects, identities, work items, comments, service hooks.

Each change is applied under one lock and announced to listeners while the lock is held,
so service-hook notifications leave in revision order. Identities are unique names
(e-mail style); the acting identity becomes System.ChangedBy and `revisedBy`.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sandbox import azure_patch
from sandbox.azure_capacity import TeamCapacities
from sandbox.azure_catalog import AzureError, not_found, stable_id
from sandbox.azure_comments import AzureComments
from sandbox.azure_records import AzureChange, WorkItem, ado_time
from sandbox.azure_security import Permissions
from sandbox.queries import compile_wiql

__all__ = ["AzureChange", "AzureState", "WorkItem", "ado_time"]


class AzureState(AzureComments):
    def __init__(
        self, organization: str = "fabrikam", clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.organization = organization
        self.lock = threading.RLock()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.base_url = "http://localhost"  # server root; the organization URL adds /{org}
        self.projects: dict[str, dict[str, Any]] = {}
        self.identities: dict[str, dict[str, Any]] = {}
        self.pats: dict[str, str] = {}
        # True: only registered tokens authenticate (a wrong token gets 401)
        self.known_credentials_only = False
        # identities holding the project permission "Suppress notifications for work item
        # updates" (SUPPRESS_NOTIFICATIONS): only they may pass suppressNotifications=true
        self.may_suppress: set[str] = set()
        self.items: dict[int, WorkItem] = {}
        self.extra_fields: set[str] = set()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.capacities = TeamCapacities()  # Work API: iterations and sprint capacity
        self.permissions = Permissions()  # Security API: what each identity may do
        self._listeners: list[Callable[[AzureChange], None]] = []
        self._ids = itertools.count(1)
        self._comment_ids = itertools.count(5000001)
        self._watermark = itertools.count(1)
        self._last = dt.datetime.min.replace(tzinfo=dt.UTC)

    @property
    def org_url(self) -> str:
        return f"{self.base_url}/{self.organization}"

    # -- setup -------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[AzureChange], None]) -> None:
        self._listeners.append(listener)

    def add_project(self, name: str) -> dict[str, Any]:
        with self.lock:
            return self.projects.setdefault(
                name, {"id": stable_id(self.organization, name), "name": name}
            )

    def project(self, name_or_id: str) -> dict[str, Any]:
        for p in self.projects.values():
            if name_or_id.lower() in (p["name"].lower(), p["id"]):
                return p
        raise AzureError(
            404,
            f"TF200016: The following project does not exist: {name_or_id}. "
            "Verify that the name of the project is correct and that the project "
            "exists on the specified Azure DevOps Server.",
            "ProjectDoesNotExistWithNameException",
            "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException,"
            " Microsoft.TeamFoundation.Core.WebApi",
        )

    def add_user(
        self,
        unique_name: str,
        display_name: str | None = None,
        *,
        pat: str | None = None,
        suppress_notifications: bool = False,
    ) -> dict[str, Any]:
        """An identity; `pat` maps a personal access token (Basic password) to it;
        `suppress_notifications` grants it the project permission of that name."""
        with self.lock:
            if suppress_notifications:
                self.may_suppress.add(unique_name)
            ident = self.identities.setdefault(
                unique_name,
                {
                    "id": stable_id("identity", unique_name),
                    "uniqueName": unique_name,
                    "displayName": display_name or unique_name.split("@")[0],
                },
            )
            if pat:
                self.pats[pat] = unique_name
            return ident

    def add_field(self, reference_name: str) -> None:
        with self.lock:
            self.extra_fields.add(reference_name)

    def identity(self, name: str) -> dict[str, Any]:
        return self.identities.get(name) or self.add_user(name)

    def resolve_identity(self, value: str) -> str | None:
        """Unique name for "Display <unique>", a unique name or a display name."""
        text = value.strip()
        if text.endswith(">") and "<" in text:
            text = text[text.rindex("<") + 1 : -1]
        for ident in self.identities.values():
            if text.lower() in (ident["uniqueName"].lower(), ident["displayName"].lower()):
                return ident["uniqueName"]
        return None

    # -- reads -------------------------------------------------------------------------
    def get(self, item_id: int | str) -> WorkItem:
        try:
            item = self.items.get(int(item_id))
        except (TypeError, ValueError):
            item = None
        if item is None or item.deleted:
            raise not_found(item_id)
        return item

    def query(self, wiql: str, project: str | None = None) -> list[WorkItem]:
        macros = {"@project": project} if project else {}
        matcher = compile_wiql(wiql, macros)
        with self.lock:
            return [
                i
                for i in self.items.values()
                if not i.deleted
                and matcher(
                    {k.lower(): [str(v)] for k, v in i.fields.items() if v is not None}
                    | {
                        "system.tags": [
                            t.strip()
                            for t in str(i.fields.get("System.Tags", "")).split(";")
                            if t.strip()
                        ]
                    }
                )
            ]

    # -- writes ------------------------------------------------------------------------
    def _now(self) -> str:
        now = self.clock()
        if now <= self._last:  # ChangedDate must move forward with every revision
            now = self._last + dt.timedelta(milliseconds=1)
        self._last = now
        return ado_time(now)

    def _emit(self, change: AzureChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    def create_work_item(
        self,
        project: str,
        work_item_type: str,
        title: str | None = None,
        *,
        actor: str,
        ops: list[Mapping[str, Any]] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> WorkItem:
        ops = list(ops or []) + [
            {"op": "add", "path": f"/fields/{k}", "value": v} for k, v in (fields or {}).items()
        ]
        if title is not None:
            ops.insert(0, {"op": "add", "path": "/fields/System.Title", "value": title})
        with self.lock:
            proj = self.project(project)
            self.identity(actor)
            now = self._now()
            item = WorkItem(
                next(self._ids),
                1,
                {
                    "System.AreaPath": proj["name"],
                    "System.TeamProject": proj["name"],
                    "System.IterationPath": proj["name"],
                    "System.WorkItemType": work_item_type,
                    "System.State": "New",
                    "System.Reason": "New",
                    "System.CreatedDate": now,
                    "System.CreatedBy": actor,
                    "System.ChangedDate": now,
                    "System.ChangedBy": actor,
                    "System.CommentCount": 0,
                    "Microsoft.VSTS.Common.StateChangeDate": now,
                },
            )
            _, history, relations = azure_patch.apply(self, item, ops, creating=True)
            if not (item.fields.get("System.Title") or "").strip():
                raise AzureError(
                    400,
                    "TF401320: Rule Error for field Title. Error code: Required, InvalidEmpty.",
                    "RuleValidationException",
                )
            item.fields["System.Id"] = item.id
            item.fields["System.Rev"] = 1
            item.fields["System.Watermark"] = next(self._watermark)
            self.items[item.id] = item
            if history:
                self._add_comment_record(item, history, actor, now)
            self._emit(AzureChange("workitem.created", copy.deepcopy(item), actor, now))
            for other_id, rel in relations["reciprocal"]:
                self._reciprocal(other_id, rel, item.id, actor)
            return item

    def update_work_item(
        self,
        item_id: int | str,
        ops: list[Mapping[str, Any]],
        *,
        actor: str,
        _emit_comment: bool = True,
    ) -> WorkItem:
        """Apply a JSON Patch document atomically (all ops or none); one new revision."""
        with self.lock:
            item = self.get(item_id)
            self.identity(actor)
            trial = copy.deepcopy(item)
            changes, history, relations = azure_patch.apply(self, trial, ops)
            if not changes and not relations["added"] and not relations["removed"]:
                return item
            now = self._now()
            self._commit_revision(item, trial, changes, relations, actor, now)
            if history and _emit_comment:
                self._add_comment_record(item, history, actor, now)
                self._emit(AzureChange("workitem.commented", copy.deepcopy(item), actor, now))
            return item

    def _commit_revision(
        self,
        item: WorkItem,
        new: WorkItem,
        changes: dict[str, Any],
        relations: dict[str, list],
        actor: str,
        now: str,
    ) -> None:
        old = item.fields
        new.fields.update(
            {
                "System.ChangedDate": now,
                "System.ChangedBy": actor,
                "System.AuthorizedDate": now,
                "System.Rev": item.rev + 1,
                "System.Watermark": next(self._watermark),
            }
        )
        if "System.State" in changes:
            new.fields["Microsoft.VSTS.Common.StateChangeDate"] = now
        field_changes = {
            ref: {"oldValue": old.get(ref), "newValue": new.fields.get(ref)}
            for ref in sorted(
                set(changes)
                | {
                    "System.Rev",
                    "System.AuthorizedDate",
                    "System.RevisedDate",
                    "System.ChangedDate",
                    "System.ChangedBy",
                    "System.Watermark",
                    "Microsoft.VSTS.Common.StateChangeDate",
                }
            )
            if old.get(ref) != new.fields.get(ref) or ref == "System.RevisedDate"
        }
        field_changes["System.RevisedDate"] = {"oldValue": now, "newValue": "9999-01-01T00:00:00Z"}
        item.fields, item.relations, item.rev = new.fields, new.relations, item.rev + 1
        self._emit(
            AzureChange(
                "workitem.updated", copy.deepcopy(item), actor, now, field_changes, relations
            )
        )
        for other_id, rel in relations.get("reciprocal", []):
            self._reciprocal(other_id, rel, item.id, actor)

    def _reciprocal(self, other_id: int, rel: dict[str, Any], source_id: int, actor: str) -> None:
        # the other end of a hierarchy/related link changes too, in its own revision
        other = self.items[other_id]
        trial = copy.deepcopy(other)
        added, removed = [], []
        if rel.get("remove"):
            keep = [
                r
                for r in trial.relations
                if not (r["target"] == source_id and r["rel"] == rel["rel"])
            ]
            removed = [r for r in trial.relations if r not in keep]
            trial.relations = keep
        else:
            entry = {"rel": rel["rel"], "target": source_id, "attributes": {"isLocked": False}}
            trial.relations.append(entry)
            added = [entry]
        self._commit_revision(
            other, trial, {}, {"added": added, "removed": removed}, actor, self._now()
        )

    def delete_work_item(self, item_id: int | str, *, actor: str) -> WorkItem:
        with self.lock:
            item = self.get(item_id)
            item.deleted = True
            self._emit(AzureChange("workitem.deleted", copy.deepcopy(item), actor, self._now()))
            return item

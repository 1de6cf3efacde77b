"""Azure DevOps write-back client over `azure-devops` (7.1 clients) and msrest.

The work item tracking client is built directly on the organisation URL: that is where
`Connection.get_work_item_tracking_client()` lands too (the resource area of work item
tracking lives on the organisation host), without the resource-area lookup the
connection would make with library defaults (100 s timeout, 3 retries, and a fallback
call to app.vssps.visualstudio.com). The one discovery call left is the library's
`OPTIONS {org}/_apis` (resource locations: route templates and API versions), made once
per process and URL, under our timeout.

msrest's urllib3 retry policy is replaced by one that never retries and never turns a
status into an exception, so a 429 reaches us with its headers. The library keeps no
status on its exceptions, so a response hook remembers the last answer per thread.
Errors are translated once, in `_calling`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import requests
from azure.devops.v7_1.location.location_client import LocationClient
from azure.devops.v7_1.work_item_tracking.models import (
    CommentCreate,
    CommentUpdate,
    JsonPatchOperation,
    Wiql,
    WorkItemBatchGetRequest,
)
from azure.devops.v7_1.work_item_tracking.work_item_tracking_client import (
    WorkItemTrackingClient,
)
from msrest.authentication import BasicAuthentication
from msrest.exceptions import ClientException, ClientRequestError

from config.settings import TrackerConfig
from connector.azure_devops.identities import (
    display_name,
    identities_url,
    pick_identity,
    search_params,
)
from connector.azure_devops.item import DEFAULT_TYPES, item_from_work_item, work_item_fields
from connector.azure_devops.wiql import PAGE as WIQL_PAGE
from connector.azure_devops.wiql import paged_query
from connector.bulk import fetch_all
from connector.clients import (
    DEFAULT_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    CallGate,
    OnCall,
    error_for_status,
    field_id,
    pick_managed_comment,
    retry_after_seconds,
    short_message,
    unavailable,
)
from connector.document import MARKER, Document, body_text, contains_marker
from connector.errors import Conflict, ItemNotFound, PermanentTrackerError, TrackerError
from connector.labels import refuse_invalid_labels
from connector.model import Comment, Person, WorkItem

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # workitemsbatch accepts at most 200 ids
WORK_ITEMS_BATCH = "908509b6-4248-4475-a1cd-829139ba419f"  # its resource location id
WIQL = "1a9c53f7-f243-4447-b110-35ef023636e4"  # the resource location id of query_by_wiql
COMMENT_PAGE = 200
TAGS = "System.Tags"
PRIORITY = "Microsoft.VSTS.Common.Priority"
ASSIGNED_TO = "System.AssignedTo"
# The common-model names of fields a rule's action may set, and the work item fields
# they are on every process (a configured id under `fields:` still wins).
ACTION_FIELDS = {"priority": PRIORITY, "assignee": ASSIGNED_TO}
MAX_TYPES_ASKED = 8  # work item types tried for a field's allowed values
HISTORY = "/fields/System.History"  # set in a PATCH, its text becomes a new comment
# A failed `test /rev` is documented as 412; these markers also catch a 400 variant.
_STALE_MARKERS = ("TF26071", "test operation", "RevisionMismatch", "StaleRevision")


def split_tags(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(";") if t.strip()]


def merge_tags(current: str | None, add: set[str], remove: set[str]) -> str:
    """The new `System.Tags` value: existing order kept, case-insensitive, `; `-joined."""
    dropped = {t.casefold() for t in remove}
    tags = [t for t in split_tags(current) if t.casefold() not in dropped]
    present = {t.casefold() for t in tags}
    for tag in sorted(add, key=str.casefold):
        if tag.casefold() not in present and tag.casefold() not in dropped:
            tags.append(tag)
            present.add(tag.casefold())
    return "; ".join(tags)


class AzureDevOpsClient:
    def __init__(
        self,
        tracker: TrackerConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_call: OnCall | None = None,
        environ: Mapping[str, str] | None = None,
        gate: CallGate | None = None,
    ) -> None:
        if not tracker.url:
            raise ValueError(f"tracker {tracker.name!r} has no url")
        self.name = tracker.name
        self.tracker = tracker
        self._on_call = on_call
        self._gate = gate  # asked before each request is sent, told of a 429 at once
        self._local = threading.local()
        self._projects: dict[str, str] = {}  # work item id -> project, for comments
        # `quiet_edits` asks for suppressNotifications=true; once refused, never again.
        self._quiet = tracker.quiet_edits
        _, token = tracker.credentials(environ)
        self._token = token or ""
        self._timeout = timeout
        creds = BasicAuthentication("", self._token)
        self._wit = WorkItemTrackingClient(base_url=tracker.url, creds=creds)
        self._location = LocationClient(base_url=tracker.url, creds=creds)
        for client in (self._wit, self._location):
            self._configure(client.config, timeout)

    def _configure(self, config: Any, timeout: float) -> None:
        config.connection.timeout = timeout
        # In place: msrest's policy object carries attributes its logging reads.
        policy = config.retry_policy.policy
        policy.total = policy.connect = policy.read = policy.status = 0
        policy.status_forcelist = frozenset()  # every status comes back as a response
        policy.raise_on_status = False
        config.hooks.append(self._record_response)
        if self._gate is not None:
            # msrest calls this right before each request goes out
            configure, gate = config.session_configuration_callback, self._gate

            def gated(session: Any, global_config: Any, local_config: Any, **kwargs: Any) -> Any:
                gate.check()
                return configure(session, global_config, local_config, **kwargs)

            config.session_configuration_callback = gated

    # -- reading -------------------------------------------------------------------------

    def get_item(self, native_id: str) -> WorkItem:
        """GET {org}/_apis/wit/workItems/{id}?$expand=relations"""
        with self._calling("get_item", native_id):
            wi = self._wit.get_work_item(_int_id(native_id), expand="relations")
        return self._item(wi)

    def search(
        self, query: str, *, page_size: int = 100, links: bool = True
    ) -> tuple[int, Iterator[WorkItem]]:
        """POST {org}/{project}/_apis/wit/wiql (ids), then POST
        {org}/{project}/_apis/wit/workitemsbatch per batch of up to 200 ids,
        `read_concurrency` batches in flight. Without `links` (no rule reads them) a
        batch asks only for the fields the mapping reads; with them it asks for the
        relations, and so for every field: the service refuses `fields` beside `$expand`."""
        size = max(1, min(page_size, BATCH_SIZE))
        with self._calling("search"):
            ids = self._wiql_ids(query)
        fields = None if links else work_item_fields(self.tracker)

        def fetch(batch: list[int]) -> list[WorkItem]:
            request = WorkItemBatchGetRequest(
                ids=batch,
                expand="relations" if fields is None else None,
                fields=fields,
                error_policy="omit",
            )
            with self._calling("search"):
                found = self._batch(request)
            # errorPolicy=omit: an item deleted since the query comes back as null
            return [self._raw_item(wi) for wi in found if isinstance(wi, Mapping)]

        batches = [ids[start : start + size] for start in range(0, len(ids), size)]
        concurrency = self.tracker.read_concurrency
        return len(ids), fetch_all(batches, fetch, concurrency=concurrency)

    def find_managed_comment(self, native_id: str, marker: str = MARKER) -> Comment | None:
        """GET {org}/{project}/_apis/wit/workItems/{id}/comments?$top=200&order=asc
        (following continuationToken); one GET of the work item first when its project
        is not known yet."""
        project = self._project(native_id)
        found: list[Comment] = []
        token: str | None = None
        while True:
            with self._calling("find_managed_comment", native_id):
                page = self._wit.get_comments(
                    project,
                    _int_id(native_id),
                    top=COMMENT_PAGE,
                    continuation_token=token,
                    order="asc",
                )
            for raw in page.comments or []:
                if contains_marker(raw.text, marker) and not raw.is_deleted:
                    text = body_text(raw.text)
                    found.append(Comment(str(raw.id), text, _person(raw.created_by)))
            token = page.continuation_token
            if not token or not page.comments:
                break
        return pick_managed_comment(found, self.tracker.bot_account)

    def field_value_problem(
        self, name: str, value: Any, types: Iterable[str] | None = None
    ) -> str | None:
        """Why Azure DevOps would refuse a rule's action setting `name` to `value` (None:
        it would take it): a priority outside the field's allowed values on the work
        item types of the rule (`types`: common-model types; the first of their type
        names the project has answers), an identity the organisation does not have."""
        if name == "assignee":
            if self.find_user(str(value)) is None:
                return "has no one active identity of that name (identities search)"
            return None
        if name != "priority":
            return None
        field = action_field(self.tracker, name)
        for type_name in type_names(self.tracker, types)[:MAX_TYPES_ASKED]:
            try:
                allowed = self.allowed_values(type_name, field)
            except ItemNotFound:
                continue  # not a type of this project's process: the next one
            if allowed and str(_action_value(name, value)) not in allowed:
                return f"does not take it on {type_name} items (allowed: {', '.join(allowed)})"
            return None
        return None

    def list_fields(self) -> list[dict[str, Any]]:
        """GET {org}/_apis/wit/fields: every field of the organisation as
        `{"id": reference name, "name": display name}` (the shape Jira's field list has)."""
        with self._calling("list_fields"):
            found = self._wit.get_work_item_fields()
        return [
            {"id": f.reference_name, "name": f.name}
            for f in found or []
            if getattr(f, "reference_name", None) and getattr(f, "name", None)
        ]

    def allowed_values(self, type_name: str, field: str) -> list[str]:
        """GET {org}/{project}/_apis/wit/workitemtypes/{type}/fields/{field}
        ?$expand=allowedValues: the values the field takes on that work item type of the
        configured project (e.g. Microsoft.VSTS.Common.Priority: 1, 2, 3, 4); [] when the
        field has no list. An unknown type or field answers 404 (ItemNotFound)."""
        project = self.tracker.project
        if not project:
            raise PermanentTrackerError(f"azure-devops {self.name}: no project configured")
        with self._calling("allowed_values"):
            found = self._wit.get_work_item_type_field_with_references(
                project, type_name, field, expand="allowedValues"
            )
        return [str(v) for v in (getattr(found, "allowed_values", None) or [])]

    def get_comment(self, native_id: str, comment_id: str) -> Comment | None:
        """GET {org}/{project}/_apis/wit/workItems/{id}/comments/{commentId}: the comment
        as Azure DevOps has it now, or None when it is gone (404, or marked deleted)."""
        project = self._project(native_id)
        try:
            with self._calling("get_comment", native_id):
                raw = self._wit.get_comment(project, _int_id(native_id), _int_id(comment_id))
        except ItemNotFound:
            return None
        if raw is None or getattr(raw, "is_deleted", False):
            return None
        return Comment(str(raw.id), body_text(raw.text), _person(raw.created_by))

    def whoami(self) -> Person:
        """GET {org}/_apis/connectionData"""
        with self._calling("whoami"):
            data = self._location.get_connection_data()
        user = data.authenticated_user
        account = None
        if user is not None and user.properties:
            account = (user.properties.get("Account") or {}).get("$value")
        display = (user.provider_display_name if user else None) or account or "unknown"
        return Person(display, account or (user.id if user else None))

    def find_user(self, query: str) -> Person | None:
        """GET https://vssps.dev.azure.com/{org}/_apis/identities?searchFilter=General
        &filterValue=&queryMembership=None&api-version=7.1 (see `identities`): the one
        active user matching exactly, as a Person whose account is the identity id the
        mention anchor takes; None when nobody (or more than one) matches."""
        url = identities_url(self.tracker.url or "")
        with self._calling("find_user"):
            response = requests.get(
                url, params=search_params(query), auth=("", self._token),
                headers={"Accept": "application/json"}, timeout=self._timeout,
            )  # fmt: skip
            self._record_response(response)
            if not 200 <= response.status_code < 300:
                raise error_for_status(
                    response.status_code, response.headers,
                    f"azure-devops find_user: HTTP {response.status_code}",
                )  # fmt: skip
            found = pick_identity(response.json(), query)
        if found is None:
            return None
        return Person(display_name(found), str(found["id"]))

    # -- writing -------------------------------------------------------------------------

    def add_comment(self, native_id: str, doc: Document) -> str:
        """POST {org}/{project}/_apis/wit/workItems/{id}/comments  {"text": html}"""
        project = self._project(native_id)
        with self._calling("add_comment", native_id):
            created = self._wit.add_comment(
                CommentCreate(text=doc.to_html()), project, _int_id(native_id)
            )
        return str(created.id)

    def update_comment(self, native_id: str, comment_id: str, doc: Document) -> None:
        """PATCH {org}/{project}/_apis/wit/workItems/{id}/comments/{commentId} {"text": html}"""
        project = self._project(native_id)
        with self._calling("update_comment", native_id):
            self._wit.update_comment(
                CommentUpdate(text=doc.to_html()), project, _int_id(native_id), int(comment_id)
            )

    def update_labels(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        *,
        revision: int | None = None,
    ) -> int | None:
        """GET {org}/_apis/wit/workItems/{id}?fields=System.Tags, then (only when the tags
        change) PATCH {org}/_apis/wit/workItems/{id} with [test /rev, replace
        /fields/System.Tags]. `replace`, because the service merges an `add` on the tags
        into those already there, so an `add` can never take one away. The tag string is
        computed from the item as read; the test op makes the write fail (Conflict) if
        anyone changed it since."""
        if not add and not remove:
            return None
        return self._write_tags("update_labels", native_id, add, remove, revision, history=None)

    def update_labels_with_comment(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        doc: Document,
        *,
        revision: int | None = None,
    ) -> tuple[int | None, str | None] | None:
        """The tags and a new managed comment in one revision: as `update_labels`, with
        `add /fields/System.History` (the comment's HTML) in the same PATCH, as
        Microsoft's own example does (a test /rev, a field and System.History in one
        document; its History text is then the item's comment, workItems_PATCH and
        comments_GET examples of the 7.1 reference). The PATCH answers the work item, not
        the comment, so its id is read next: GET .../comments?$top=1&order=desc (or every
        page, should the newest not be ours). Returns (the item's new rev, comment id or
        None when it could not be read: the next edit of the comment finds it by its
        marker)."""
        rev = self._write_tags(
            "update_labels_with_comment", native_id, add, remove, revision, history=doc.to_html()
        )
        return rev, self._new_comment_id(native_id)

    def _write_tags(
        self,
        op: str,
        native_id: str,
        add: set[str],
        remove: set[str],
        revision: int | None,
        *,
        history: str | None,
    ) -> int | None:
        refuse_invalid_labels("azure-devops", native_id, add)
        with self._calling(op, native_id):
            current = self._wit.get_work_item(_int_id(native_id), fields=[TAGS])
        expected = current.rev if revision is None else revision
        if current.rev != expected:
            raise Conflict(
                f"azure-devops {op} {native_id}: item is at rev {current.rev}, expected {expected}"
            )
        old = (current.fields or {}).get(TAGS) or ""
        new = merge_tags(old, add, remove)
        document = [JsonPatchOperation(op="test", path="/rev", value=expected)]
        if new != "; ".join(split_tags(old)):
            document.append(JsonPatchOperation(op="replace", path=f"/fields/{TAGS}", value=new))
        if history is not None:
            document.append(JsonPatchOperation(op="add", path=HISTORY, value=history))
        if len(document) == 1:
            return current.rev  # nothing would change: the item is as wanted at this rev
        return self._patch(op, native_id, document)

    def _new_comment_id(self, native_id: str) -> str | None:
        """The id of the managed comment just added: the newest comment when it is ours,
        else the marker search. A failure here is logged, not raised: the comment is
        written, and retrying the write would add it twice."""
        try:
            project = self._project(native_id)
            with self._calling("find_managed_comment", native_id):
                page = self._wit.get_comments(project, _int_id(native_id), top=1, order="desc")
            for raw in page.comments or []:
                author = _person(raw.created_by)
                mine = not self.tracker.bot_account or (
                    author is not None and author.matches(self.tracker.bot_account)
                )
                if mine and not raw.is_deleted and contains_marker(raw.text, MARKER):
                    return str(raw.id)
            found = self.find_managed_comment(native_id)
            return found.id if found is not None else None
        except TrackerError as exc:
            log.warning(
                "azure_devops.client.comment_id_unknown",
                extra={"tracker": self.name, "item": native_id, "reason": str(exc)},
            )
            return None

    def set_fields(self, native_id: str, values: Mapping[str, Any]) -> None:
        """PATCH {org}/_apis/wit/workItems/{id} with one `add` op per field; names are
        mapped through the tracker's field map, `priority` to
        Microsoft.VSTS.Common.Priority (a whole number) and `assignee` to
        System.AssignedTo (the identity's display or unique name, as Azure DevOps takes
        it)."""
        if not values:
            return
        ops = [
            JsonPatchOperation(op="add", path=f"/fields/{action_field(self.tracker, k)}", value=v)
            for k, v in ((k, _action_value(k, v)) for k, v in values.items())
        ]
        self._patch("set_fields", native_id, ops)

    # -- plumbing ------------------------------------------------------------------------

    def _patch(self, op: str, native_id: str, document: list[JsonPatchOperation]) -> int | None:
        """PATCH the item (?suppressNotifications=true only under `quiet_edits`); returns
        its new rev. Suppressing needs the project permission "Suppress notifications for
        work item updates", and Microsoft does not document how a caller without it is
        refused: any 400/401/403 while asking is retried once without, and remembered,
        so the edit still lands."""
        if not self._quiet:
            return self._update(op, native_id, document)
        try:
            return self._update(op, native_id, document, quiet=True)
        except PermanentTrackerError as exc:
            if exc.status not in (400, 401, 403):
                raise
            refusal = str(exc)
        rev = self._update(op, native_id, document)
        self._quiet = False
        log.warning(
            "azure_devops.client.quiet_edits_refused",
            extra={"tracker": self.name, "reason": refusal},
        )
        return rev

    def _update(
        self, op: str, native_id: str, document: list[JsonPatchOperation], *, quiet: bool = False
    ) -> int | None:
        with self._calling(op, native_id):
            updated = self._wit.update_work_item(
                document, _int_id(native_id), suppress_notifications=True if quiet else None
            )
        project = (getattr(updated, "fields", None) or {}).get("System.TeamProject")
        if project:  # the answer is the work item: its project, for the comments API
            self._remember(str(native_id), project)
        return getattr(updated, "rev", None)

    def _project(self, native_id: str) -> str:
        """The item's project (the comments API needs it): remembered from reads, else one
        GET of the item's System.TeamProject."""
        project = self._projects.get(str(native_id))
        if project:
            return project
        with self._calling("get_project", native_id):
            wi = self._wit.get_work_item(_int_id(native_id), fields=["System.TeamProject"])
        project = (wi.fields or {}).get("System.TeamProject") or self.tracker.project
        if not project:
            raise PermanentTrackerError(f"azure-devops {native_id}: no project on the item")
        self._remember(str(native_id), project)
        return project

    def _remember(self, native_id: str, project: str) -> None:
        if len(self._projects) > 10_000:  # bounded: a long-running worker sees many items
            self._projects.clear()
        self._projects[native_id] = project

    def _wiql_ids(self, query: str) -> list[int]:
        """Every id the query finds, in pages of 19,999 ordered by id (`wiql.paged_query`:
        the service refuses an answer of over 20,000); a query that cannot be paged is
        sent as written."""
        after, ids = 0, []
        while True:
            paged = paged_query(query, after)
            if paged is None:
                return self._wiql_page(query, None)
            page = self._wiql_page(paged, WIQL_PAGE)
            ids.extend(page)
            if len(page) < WIQL_PAGE or max(page) <= after:
                return ids
            after = max(page)

    def _wiql_page(self, query: str, top: int | None) -> list[int]:
        """POST {org}/{project}/_apis/wit/wiql[?$top=N] as the library's `query_by_wiql`
        sends it (same route, version, parameters and body), only the ids read from the
        answer: turning tens of thousands of work item references into the library's
        models would take seconds before the first batch could start."""
        project = self.tracker.project
        route = {"project": self._wit._serialize.url("project", project, "string")}
        parameters = {"$top": self._wit._serialize.query("top", top, "int")} if top else {}
        response = self._wit._send(
            http_method="POST",
            location_id=WIQL,
            version="7.1-preview.2",
            route_values=route if project else {},
            query_parameters=parameters,
            content=self._wit._serialize.body(Wiql(query=query), "Wiql"),
        )
        answer = response.json()
        if not isinstance(answer, Mapping):
            raise ValueError("the WIQL answer is not an object")
        refs = answer.get("workItems") or []
        return [int(ref["id"]) for ref in refs if isinstance(ref, Mapping) and "id" in ref]

    def _batch(self, request: WorkItemBatchGetRequest) -> list[Any]:
        """POST workitemsbatch as the library's `get_work_items_batch` sends it (same
        route, version and body), the answer kept as JSON: turning 200 work items into
        the library's models and back costs more CPU than the call's wait."""
        project = self.tracker.project
        route = {"project": self._wit._serialize.url("project", project, "str")} if project else {}
        response = self._wit._send(
            http_method="POST",
            location_id=WORK_ITEMS_BATCH,
            version="7.1-preview.1",
            route_values=route,
            content=self._wit._serialize.body(request, "WorkItemBatchGetRequest"),
        )
        # {"count": n, "value": [...]}, read as JSON: the library's wrapper deserializes
        # every work item as an `object`, walking each one
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:  # what orjson refuses, the standard library reads
            answer = response.json()
        found = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(found, list):
            raise ValueError("the workitemsbatch answer has no list of work items")
        return found

    def _raw_item(self, raw: Mapping[str, Any]) -> WorkItem:
        project = (raw.get("fields") or {}).get("System.TeamProject")
        if project:
            self._remember(str(raw.get("id")), project)
        return item_from_work_item(raw, self.tracker)

    def _item(self, wi: Any) -> WorkItem:
        raw = wi.serialize(keep_readonly=True)
        project = (raw.get("fields") or {}).get("System.TeamProject")
        if project:
            self._remember(str(raw.get("id")), project)
        return item_from_work_item(raw, self.tracker)

    def _record_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.response = response
        if self._gate is not None and response.status_code == 429:
            wait = retry_after_seconds(response.headers)
            self._gate.rate_limited(DEFAULT_RETRY_AFTER if wait is None else wait)
        if self._on_call is not None:
            op = getattr(self._local, "op", "unknown")
            self._on_call(self.name, op, response.status_code, response.elapsed.total_seconds())

    @contextmanager
    def _calling(self, op: str, native_id: str | None = None):
        """Run one tracker call: name it for metrics and translate every failure."""
        self._local.op = op
        self._local.response = None
        started = time.monotonic()
        what = f"azure-devops {op}" + (f" {native_id}" if native_id else "")
        try:
            yield
        except TrackerError:
            raise
        except (ClientException, requests.RequestException, ValueError) as exc:
            response = self._local.response
            inner = getattr(exc, "inner_exception", None)
            no_answer = isinstance(exc, requests.RequestException) or (
                isinstance(exc, ClientRequestError) and isinstance(inner, requests.RequestException)
            )
            if no_answer or response is None:
                if no_answer:
                    if self._on_call is not None:
                        self._on_call(self.name, op, None, time.monotonic() - started)
                    raise unavailable(inner or exc, what) from None
                raise PermanentTrackerError(f"{what}: {short_message(exc)}") from None
            raise self._translate(exc, response, what) from None

    def _translate(self, exc: Exception, response: requests.Response, what: str) -> TrackerError:
        status = response.status_code
        detail = short_message(getattr(exc, "message", None) or exc)
        message = f"{what}: HTTP {status} {detail}".rstrip()
        if 200 <= status < 300:  # an answer the library could not read
            return error_for_status(502, {}, message)
        if status == 400 and any(m.lower() in _error_text(exc).lower() for m in _STALE_MARKERS):
            return Conflict(message, status=status)
        return error_for_status(status, response.headers, message)


def _error_text(exc: Exception) -> str:
    parts = [str(getattr(exc, "message", "") or exc), str(getattr(exc, "type_key", "") or "")]
    return " ".join(parts)


def type_names(tracker: TrackerConfig, types: Iterable[str] | None) -> list[str]:
    """Work item type names for common-model types (all when None): the configured
    `type_map` first, then the stock processes' names."""
    wanted = None if types is None else {str(t) for t in types}
    names = [*tracker.type_map.items(), *DEFAULT_TYPES.items()]
    found: dict[str, None] = {}
    for name, kind in names:
        if wanted is None or str(getattr(kind, "value", kind)).casefold() in wanted:
            found.setdefault(name if name != name.casefold() else name.title(), None)
    return list(found)


def action_field(tracker: TrackerConfig, name: str) -> str:
    """The work item field a rule's action names: configured, else the stock field."""
    return tracker.fields.get(name) or ACTION_FIELDS.get(name) or field_id(tracker, name)


def _action_value(name: str, value: Any) -> Any:
    if name == "priority" and isinstance(value, str) and value.strip().isdigit():
        return int(value)  # Microsoft.VSTS.Common.Priority is an integer field
    return value


def _int_id(native_id: str | int) -> int:
    try:
        return int(str(native_id).strip())
    except ValueError:
        raise PermanentTrackerError(f"azure-devops: {native_id!r} is not a work item id") from None


def _person(identity: Any) -> Person | None:
    if identity is None:
        return None
    display = getattr(identity, "display_name", None) or getattr(identity, "unique_name", None)
    if not display:
        return None
    account = getattr(identity, "unique_name", None) or getattr(identity, "id", None)
    return Person(str(display), str(account) if account else None)


__all__ = ["AzureDevOpsClient", "merge_tags", "split_tags"]


def comment_form(tracker: TrackerConfig) -> str:
    """Azure DevOps comments are HTML."""
    return "html"

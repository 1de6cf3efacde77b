"""Jira write-back client over the `jira` library (Cloud: REST v3 + ADF; Server/DC: v2 +
wiki markup).

The library is built with `get_server_info=False` (no discovery call: the deployment is
configuration) and `max_retries=0` (its ResilientSession would otherwise sleep and retry
429/503 itself; the worker owns retries). Endpoints that the library wraps with extra
calls (a reload after every update, a `GET field` before searches) are called through
the library's own session instead, so each method makes exactly the requests listed in
its docstring. Errors are translated once, in `_calling`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import requests
from jira import JIRA, JIRAError

from config.settings import TrackerConfig
from connector.bulk import chunked, fetch_all
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
from connector.errors import ItemNotFound, PermanentTrackerError, TrackerError
from connector.jira.item import issue_fields, item_from_issue
from connector.labels import refuse_invalid_labels
from connector.model import Comment, Person, WorkItem

log = logging.getLogger(__name__)

# Jira Cloud answers a 429 with this reason when one issue is written too often; only
# writes to that issue must wait, not the whole tracker.
PER_ISSUE_REASON = "jira-per-issue-on-write"
COMMENT_PAGE = 100
# search/jql gives its largest pages (up to 5,000) when only ids are asked for; Jira may
# give fewer, and the pages are followed by their token either way.
KEY_PAGE = 5000
BULK_FETCH = 100  # issues per issue/bulkfetch call (Atlassian: up to 100 by default)


def _gated(send: Any, gate: CallGate) -> Any:
    """`Session.send` asking the gate first, right before the request goes out."""

    def gated_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        gate.check()
        return send(request, **kwargs)

    return gated_send


class JiraClient:
    def __init__(
        self,
        tracker: TrackerConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_call: OnCall | None = None,
        environ: Mapping[str, str] | None = None,
        gate: CallGate | None = None,
    ) -> None:
        self.name = tracker.name
        self.tracker = tracker
        self.cloud = tracker.deployment != "server"
        self.api_version = "3" if self.cloud else "2"
        self._on_call = on_call
        self._gate = gate  # asked before each request is sent, told of a 429 at once
        self._local = threading.local()
        user, token = tracker.credentials(environ)
        auth: dict[str, Any] = {}
        if user and token:
            auth["basic_auth"] = (user, token)
        elif token:
            auth["token_auth"] = token  # Server/DC personal access token (bearer)
        self._jira = JIRA(
            server=tracker.url,
            options={"rest_api_version": self.api_version, "check_update": False},
            get_server_info=False,
            max_retries=0,
            timeout=timeout,
            **auth,
        )
        # Known from configuration: lets the library pick Cloud-only code paths without
        # the serverInfo call it would otherwise make.
        self._jira.deploymentType = "Cloud" if self.cloud else "Server"
        self._jira._session.hooks["response"].append(self._record_response)
        if gate is not None:
            self._jira._session.send = _gated(self._jira._session.send, gate)  # type: ignore[method-assign]
        # `quiet_edits` asks for notifyUsers=false; once Jira refuses it, never again.
        self._quiet = tracker.quiet_edits
        self._priorities: dict[str, str] | None = None  # id -> name, asked once
        self._users: dict[str, Person | None] = {}  # rule value -> user found, bounded
        # A comment rides along a label edit until the site's edit screen refuses it.
        self._comment_on_edit = True

    # -- reading -------------------------------------------------------------------------

    def get_item(self, native_id: str) -> WorkItem:
        """GET /rest/api/{v}/issue/{key}"""
        with self._calling("get_item", native_id):
            raw = self._jira.issue(_segment(native_id)).raw
        return self._item(raw)

    def search(
        self, query: str, *, page_size: int = 100, links: bool = True
    ) -> tuple[int, Iterator[WorkItem]]:
        """Cloud: POST /rest/api/3/search/approximate-count, then POST
        /rest/api/3/search/jql for ids only, in the largest pages Jira gives
        (nextPageToken), and the issues by
        POST /rest/api/3/issue/bulkfetch, 100 ids a call, `read_concurrency` calls in
        flight, with only the fields the mapping reads; the total is 0 (unknown) where
        the count endpoint is missing. Server/DC: POST /rest/api/2/search per page
        (startAt) with those fields. The first page is read now, so a bad query fails
        here rather than mid-iteration. `links` is unused: Jira's links are a field
        (`issuelinks`), always asked for."""
        page_size = max(1, min(page_size, 100))
        if self.cloud:
            return self._search_cloud(query)
        return self._search_server(query, page_size)

    def _search_cloud(self, jql: str) -> tuple[int, Iterator[WorkItem]]:
        try:
            with self._calling("search"):
                count = self._post("search/approximate-count", {"jql": jql})
            total = int(count.get("count") or 0)
        except (ItemNotFound, PermanentTrackerError) as exc:
            if exc.status not in (404, 405):
                raise
            # A deployment without the count endpoint: the total is unknown (0).
            log.info("jira.client.no_count", extra={"tracker": self.name})
            total = 0
        # No `fields`: the enhanced search then returns ids only, in its largest pages.
        body: dict[str, Any] = {"jql": jql, "maxResults": KEY_PAGE}
        with self._calling("search"):
            first = self._post("search/jql", body)

        def ids() -> Iterator[str]:
            page = first
            while True:
                for issue in page.get("issues") or []:
                    if isinstance(issue, Mapping) and issue.get("id") is not None:
                        yield str(issue["id"])
                token = page.get("nextPageToken")
                if page.get("isLast", not token) or not token:
                    return
                with self._calling("search"):
                    page = self._post("search/jql", {**body, "nextPageToken": token})

        batches = chunked(ids(), BULK_FETCH)
        concurrency = self.tracker.read_concurrency
        return total, fetch_all(batches, self._bulk_fetch, concurrency=concurrency)

    def _bulk_fetch(self, ids: list[str]) -> list[WorkItem]:
        """POST /rest/api/3/issue/bulkfetch: up to 100 issues, the mapped fields only.
        Issues deleted since the search are left out by Jira; issues it could not read
        for the moment (`issueErrors`) are logged and left out of the audit."""
        body = {"issueIdsOrKeys": ids, "fields": issue_fields(self.tracker)}
        with self._calling("search"):
            answer = self._post("issue/bulkfetch", body)
        errors = answer.get("issueErrors") or []
        if errors:
            extra = {"tracker": self.name, "issues": len(errors)}
            log.warning("jira.client.bulk_fetch_errors", extra=extra)
        return [self._item(issue) for issue in answer.get("issues") or []]

    def _search_server(self, jql: str, page_size: int) -> tuple[int, Iterator[WorkItem]]:
        body: dict[str, Any] = {
            "jql": jql,
            "startAt": 0,
            "maxResults": page_size,
            "fields": issue_fields(self.tracker),
        }
        with self._calling("search"):
            first = self._post("search", body)
        total = int(first.get("total") or 0)

        def pages() -> Iterator[WorkItem]:
            page, start = first, 0
            while True:
                issues = page.get("issues") or []
                for issue in issues:
                    yield self._item(issue)
                start += len(issues)
                if not issues or start >= int(page.get("total") or 0):
                    return
                with self._calling("search"):
                    page = self._post("search", {**body, "startAt": start})

        return total, pages()

    def find_managed_comment(self, native_id: str, marker: str = MARKER) -> Comment | None:
        """GET /rest/api/{v}/issue/{key}/comment?startAt=..&maxResults=100, page by page.
        The bot's own comment wins when several carry the marker, else the oldest."""
        found: list[Comment] = []
        start = 0
        while True:
            with self._calling("find_managed_comment", native_id):
                page = self._jira._get_json(
                    f"issue/{_segment(native_id)}/comment",
                    params={"startAt": start, "maxResults": COMMENT_PAGE},
                )
            comments = page.get("comments") or []
            for raw in comments:
                if contains_marker(raw.get("body"), marker):
                    text = body_text(raw.get("body"))
                    found.append(Comment(str(raw.get("id")), text, _person(raw.get("author"))))
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                break
        return pick_managed_comment(found, self.tracker.bot_account)

    def get_comment(self, native_id: str, comment_id: str) -> Comment | None:
        """GET /rest/api/{v}/issue/{key}/comment/{id}: the comment as the site has it now,
        or None when it is gone (404)."""
        try:
            with self._calling("get_comment", native_id):
                raw = self._jira._get_json(
                    f"issue/{_segment(native_id)}/comment/{_segment(comment_id)}"
                )
        except ItemNotFound:
            return None
        if not isinstance(raw, Mapping):
            raise error_for_status(502, {}, "jira get_comment: answer is not an object")
        return Comment(str(raw.get("id") or comment_id), body_text(raw.get("body")),
                       _person(raw.get("author")))  # fmt: skip

    def list_fields(self) -> list[dict[str, Any]]:
        """GET /rest/api/{v}/field"""
        with self._calling("list_fields"):
            fields = self._jira._get_json("field")
        if not isinstance(fields, list):
            raise error_for_status(502, {}, "jira list_fields: answer is not a list")
        return [f for f in fields if isinstance(f, dict)]

    def list_priorities(self) -> list[str]:
        """GET /rest/api/{v}/priority: the names of the site's priorities (asked once per
        client; their ids are kept for `set_fields`)."""
        return list(self._priority_ids().values())

    def _priority_ids(self) -> dict[str, str]:
        """id -> name of the site's priorities, asked once per client."""
        if self._priorities is None:
            with self._calling("list_priorities"):
                found = self._jira._get_json("priority")
            if not isinstance(found, list):
                raise error_for_status(502, {}, "jira list_priorities: answer is not a list")
            self._priorities = {
                str(p.get("id")): p["name"]
                for p in found
                if isinstance(p, dict) and isinstance(p.get("name"), str)
            }
        return self._priorities

    def whoami(self) -> Person:
        """GET /rest/api/{v}/myself"""
        with self._calling("whoami"):
            me = self._jira.myself()
        person = _person(me)
        return person or Person("unknown")

    def find_user(self, query: str) -> Person | None:
        """GET /rest/api/3/user/search?query= (Cloud: matches name or e-mail, answers
        accountIds) or /rest/api/2/user/search?username= (Server/Data Center: answers
        user names, which `[~name]` mentions take). The first active match, or None."""
        param = "query" if self.cloud else "username"
        with self._calling("find_user"):
            found = self._jira._get_json(
                "user/search", params={param: query[:255], "maxResults": 5}
            )
        for raw in found if isinstance(found, list) else ():
            if isinstance(raw, Mapping) and raw.get("active", True):
                return _person(raw)
        return None

    # -- writing -------------------------------------------------------------------------

    def add_comment(self, native_id: str, doc: Document) -> str:
        """POST /rest/api/{v}/issue/{key}/comment  {"body": ADF (v3) | wiki markup (v2)}"""
        with self._calling("add_comment", native_id, write=True):
            created = self._jira.add_comment(_segment(native_id), self._body(doc))
        return str(created.raw.get("id") if created.raw else created.id)

    def update_comment(self, native_id: str, comment_id: str, doc: Document) -> None:
        """PUT /rest/api/{v}/issue/{key}/comment/{id}  {"body": ...}
        (?notifyUsers=false only under `quiet_edits`)."""
        with self._calling("update_comment", native_id, write=True):
            self._put(
                f"issue/{_segment(native_id)}/comment/{_segment(comment_id)}",
                {"body": self._body(doc)},
                quiet=True,
            )

    def update_labels(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        *,
        revision: int | None = None,
    ) -> int | None:
        """PUT /rest/api/{v}/issue/{key}  {"update": {"labels": [{"add": ..}, {"remove": ..}]}}
        The update form adds and removes single labels, so labels people set meanwhile
        survive; Jira has no revision check, so `revision` is not used. Returns the time of
        the write in epoch ms: Jira items' revision is their `updated` time, so any payload
        with a lower revision was sent before this write."""
        refuse_invalid_labels("jira", native_id, add)
        ops = _label_ops(add, remove)
        if not ops:
            return None
        written_at = int(time.time() * 1000)
        with self._calling("update_labels", native_id, write=True):
            self._put(f"issue/{_segment(native_id)}", {"update": {"labels": ops}}, quiet=True)
        return written_at

    def update_labels_with_comment(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        doc: Document,
        *,
        revision: int | None = None,
    ) -> tuple[int | None, str | None] | None:
        """The labels and a new managed comment in one edit: PUT /rest/api/{v}/issue/{key}
        {"update": {"labels": [...], "comment": [{"add": {"body": ...}}]}} (Atlassian,
        "JIRA REST API Example - Add Comment": a comment may be added "as part of editing
        an issue"). The edit answers 204 without the comment, so its id is read next:
        GET .../comment?orderBy=-created&maxResults=1 (or every page, should the newest
        not be ours). Returns (write time in epoch ms, comment id or None when it could not
        be read: the next edit of the comment finds it by its marker).

        None, with nothing written, where the edit screen has no comment field: Jira
        refuses the whole edit (400, "Field 'comment' cannot be set"). The refusal is
        remembered; the caller writes labels and comment with a call each."""
        if not self._comment_on_edit:
            return None
        refuse_invalid_labels("jira", native_id, add)
        update: dict[str, Any] = {"comment": [{"add": {"body": self._body(doc)}}]}
        ops = _label_ops(add, remove)
        if ops:
            update["labels"] = ops
        written_at = int(time.time() * 1000)
        refused: JIRAError | None = None
        with self._calling("update_labels_with_comment", native_id, write=True):
            try:
                self._put(f"issue/{_segment(native_id)}", {"update": update}, quiet=True)
            except JIRAError as exc:
                if not _comment_not_editable(exc):
                    raise
                refused = exc
        if refused is not None:
            self._comment_on_edit = False
            log.warning(
                "jira.client.comment_on_edit_refused",
                extra={"tracker": self.name, "reason": short_message(refused.text)},
            )
            return None
        return written_at, self._new_comment_id(native_id)

    def _new_comment_id(self, native_id: str) -> str | None:
        """The id of the managed comment just added: the newest comment when it is ours,
        else the marker search. A failure here is logged, not raised: the comment is
        written, and retrying the write would add it twice."""
        try:
            with self._calling("find_managed_comment", native_id):
                page = self._jira._get_json(
                    f"issue/{_segment(native_id)}/comment",
                    params={"orderBy": "-created", "maxResults": 1},
                )
            for raw in page.get("comments") or []:
                author = _person(raw.get("author"))
                mine = not self.tracker.bot_account or (
                    author is not None and author.matches(self.tracker.bot_account)
                )
                if mine and contains_marker(raw.get("body"), MARKER):
                    return str(raw.get("id"))
            found = self.find_managed_comment(native_id)
            return found.id if found is not None else None
        except TrackerError as exc:
            log.warning(
                "jira.client.comment_id_unknown",
                extra={"tracker": self.name, "item": native_id, "reason": str(exc)},
            )
            return None

    def set_fields(self, native_id: str, values: Mapping[str, Any]) -> None:
        """PUT /rest/api/{v}/issue/{key}  {"fields": {...}}; names are mapped through the
        tracker's field map (estimate -> customfield_10016), ids pass through. A
        `priority` is sent as the site's priority object (`{"id": ...}`, found by name
        through GET priority, once), an `assignee` as the user the user search finds
        (Cloud `{"accountId": ...}`, Data Center `{"name": ...}`): a value the site has
        no priority or active user for is refused here, before any write."""
        if not values:
            return
        fields = {
            field_id(self.tracker, name): self._field_value(native_id, name, value)
            for name, value in values.items()
        }
        with self._calling("set_fields", native_id, write=True):
            self._put(f"issue/{_segment(native_id)}", {"fields": fields}, quiet=True)

    def field_value_problem(
        self, name: str, value: Any, types: Iterable[str] | None = None
    ) -> str | None:
        """Why the site would refuse a rule's action setting `name` to `value` (None: it
        would take it): a priority it does not have (GET priority), a user its user
        search does not find. `types` is unused: Jira's priorities are site-wide."""
        if name == "priority":
            known = self.list_priorities()
            if str(value).casefold() not in {p.casefold() for p in known}:
                return f"has no such priority (it has: {', '.join(known)})"
        elif name == "assignee" and self.user_for(str(value)) is None:
            return "finds no active user of that name (user search)"
        return None

    def user_for(self, query: str) -> Person | None:
        """`find_user`, remembered per value (misses too) for the client's life."""
        if query not in self._users:
            if len(self._users) >= 1_000:
                self._users.clear()
            self._users[query] = self.find_user(query)
        return self._users[query]

    def _field_value(self, native_id: str, name: str, value: Any) -> Any:
        if name == "priority":
            wanted = str(value).casefold()
            for ident, known in self._priority_ids().items():
                if known.casefold() == wanted:
                    return {"id": ident}
            raise PermanentTrackerError(
                f"jira set_fields {native_id}: the site has no priority {value!r}", status=400
            )
        if name == "assignee":
            person = self.user_for(str(value))
            if person is None or not person.account_id:
                raise PermanentTrackerError(
                    f"jira set_fields {native_id}: no active user matches {value!r}", status=400
                )
            key = "accountId" if self.cloud else "name"
            return {key: person.account_id}
        return value

    # -- plumbing ------------------------------------------------------------------------

    def _body(self, doc: Document) -> Any:
        return doc.to_adf() if self.cloud else doc.to_wiki()

    def _item(self, raw: Mapping[str, Any]) -> WorkItem:
        return item_from_issue(raw, self.tracker)

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._jira._get_json(path, params=dict(body), use_post=True)

    def _put(self, path: str, body: Mapping[str, Any], *, quiet: bool = False) -> None:
        # notifyUsers=false needs Administer Jira or Administer Projects. The docs say a
        # caller without them is "ignored"; live sites refuse the whole edit with a 403
        # and write nothing. So it is sent only under `quiet_edits`, and a 403 to it is
        # retried once without it and remembered: the edit matters, the quiet does not.
        url, data = self._jira._get_url(path), json.dumps(body)
        if not (quiet and self._quiet):
            self._jira._session.put(url, data=data)
            return
        try:
            self._jira._session.put(url, params={"notifyUsers": "false"}, data=data)
        except JIRAError as exc:
            if exc.status_code != 403:
                raise
            self._jira._session.put(url, data=data)
            self._quiet = False
            log.warning(
                "jira.client.quiet_edits_refused",
                extra={"tracker": self.name, "reason": short_message(exc.text)},
            )

    def _record_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if self._gate is not None and response.status_code == 429:
            method = (response.request.method or "GET").upper() if response.request else "GET"
            reason = response.headers.get("RateLimit-Reason", "")
            if method in ("GET", "HEAD") or PER_ISSUE_REASON not in reason:  # the whole site
                wait = retry_after_seconds(response.headers)
                self._gate.rate_limited(DEFAULT_RETRY_AFTER if wait is None else wait)
        if self._on_call is not None:
            op = getattr(self._local, "op", "unknown")
            self._on_call(self.name, op, response.status_code, response.elapsed.total_seconds())

    @contextmanager
    def _calling(self, op: str, native_id: str | None = None, *, write: bool = False):
        """Run one tracker call: name it for metrics and translate every failure."""
        self._local.op = op
        started = time.monotonic()
        what = f"jira {op}" + (f" {native_id}" if native_id else "")
        try:
            yield
        except TrackerError:
            raise
        except JIRAError as exc:
            raise self._translate(exc, what, write=write) from None
        except requests.RequestException as exc:
            if self._on_call is not None:
                self._on_call(self.name, op, None, time.monotonic() - started)
            raise unavailable(exc, what) from None
        except ValueError as exc:  # a 2xx answer that is not the JSON we asked for
            raise error_for_status(502, {}, f"{what}: unreadable answer ({exc})") from None

    def _translate(self, exc: JIRAError, what: str, *, write: bool) -> TrackerError:
        response = exc.response
        status = exc.status_code or (response.status_code if response is not None else 0)
        headers = response.headers if response is not None else {}
        message = f"{what}: HTTP {status} {short_message(exc.text)}".rstrip()
        if not status:
            return unavailable(exc, what)
        reason = headers.get("RateLimit-Reason", "") if headers else ""
        error = error_for_status(
            status, headers, message, item_scoped=write and PER_ISSUE_REASON in reason
        )
        if isinstance(error, ItemNotFound):
            log.info("jira.client.not_found", extra={"tracker": self.name, "call": what})
        return error


def _comment_not_editable(exc: JIRAError) -> bool:
    """Jira's 400 for an edit whose screen has no comment field: {"errors": {"comment":
    "Field 'comment' cannot be set. It is not on the appropriate screen, or unknown."}}.
    Other comment errors (too long, invalid ADF) are the comment's, not the form's."""
    if exc.status_code != 400 or exc.response is None:
        return False
    try:
        errors = exc.response.json().get("errors") or {}
    except (ValueError, AttributeError):
        return False
    message = str(errors.get("comment", "")).lower() if isinstance(errors, dict) else ""
    return "cannot be set" in message or "not on the appropriate screen" in message


def _person(raw: Any) -> Person | None:
    if not isinstance(raw, Mapping):
        return None
    account = raw.get("accountId") or raw.get("name") or raw.get("key")
    display = raw.get("displayName") or account
    if not display:
        return None
    return Person(str(display), str(account) if account else None)


def _label_ops(add: set[str], remove: set[str]) -> list[dict[str, str]]:
    """The `update.labels` verbs: each label added or removed on its own."""
    ops = [{"add": label} for label in sorted(add - remove)]
    return ops + [{"remove": label} for label in sorted(remove - add)]


def _segment(value: str) -> str:
    """One URL path segment: `/`, `?`, `#`, `..` and the rest percent-encoded, so a key or
    id can only ever name itself (intake checks formats too; this holds for any caller)."""
    return quote(str(value), safe="")


def comment_form(tracker: TrackerConfig) -> str:
    """Comments are ADF on Jira Cloud (REST v3), wiki markup on Server/Data Center (v2)."""
    return "wiki" if tracker.deployment == "server" else "adf"

"""Write-back: turn the rules' plan into the smallest set of tracker writes.

The ledger remembers what the service last wrote on each item (comment id and content
hash, managed labels, field values). A write happens only when the wanted state differs
from both the ledger and what the item shows, so repeated, duplicate and echoed events
write nothing."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from connector.clients import TrackerClient
from connector.document import Document, body_text
from connector.errors import Conflict, ItemNotFound, PermanentTrackerError
from connector.model import WorkItem
from connector.trackers import comment_form
from rules import Finding, RuleSet, plan_actions
from rules.rollup import RAG_LABELS, Rollup, RollupSpec, field_values, rag_label, spec_for
from webhooks.governance.comment_guard import managed_comment_change, text_hash
from webhooks.governance.comments import MARKER, compliance_document
from webhooks.governance.evaluation import evaluate_stored
from webhooks.governance.hierarchy import with_portfolio_parent
from webhooks.resources import Resources
from webhooks.store import Ledger
from webhooks.store.findings import finding_values
from webhooks.telemetry.metrics import WRITES

log = logging.getLogger(__name__)


def refused_actions(actions: list[Any], findings: list[Any], reason: str) -> list[Any]:
    """An error finding per rule whose field action the tracker refused, for the comment."""
    by_rule = {f.rule: f for f in findings}
    wanted: dict[str, list[str]] = {}
    for action in actions:
        if action.type == "set_field" and action.payload.get("rule") in by_rule:
            wanted.setdefault(action.payload["rule"], []).append(f"{action.field}={action.value}")
    refused = []
    for rule, sets in wanted.items():
        failed = by_rule[rule]
        message = f"the tracker refused the rule's field action ({', '.join(sets)}): {reason}"
        refused.append(replace(failed, message=message[:500], status="error", waiver=None))
    return refused


def rendered(doc: Document, form: str) -> Any:
    """The body as the tracker is sent it: ADF, wiki markup or HTML."""
    if form == "adf":
        return doc.to_adf()
    return doc.to_wiki() if form == "wiki" else doc.to_html()


def doc_hash(doc: Document) -> str:
    return hashlib.sha256(doc.to_text().encode("utf-8")).hexdigest()[:32]


def plan_digest(ruleset: RuleSet, findings: list[Finding]) -> str:
    """What a write-back plan follows from: each finding (the first per rule) and what its
    rule writes (labels, field actions). Equal digests, equal plans on the same labels."""
    parts: dict[str, tuple[Any, ...]] = {}
    for finding in findings:
        rule = ruleset.rule(finding.rule)
        writes = (rule.labels, sorted(rule.set_fields.items())) if rule is not None else ()
        parts.setdefault(finding.rule, (*finding_values(finding.to_dict()).values(), writes))
    text = json.dumps(sorted(parts.items()), default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _judges_by_others(ruleset: RuleSet) -> bool:
    """Portfolio rules (`across`, `count`) judge an item by other items too."""
    return any(rule.across or rule.count for rule in ruleset.rules)


class WriteBack:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.store = resources.store
        self.prefix = resources.settings.label_prefix
        # (part, reason) of each write the tracker refused for good in this run
        self.refused: list[tuple[str, str]] = []
        self._refusals: list[PermanentTrackerError] = []  # those of the current apply()
        # (item, rule set, findings) of the last `settled` evaluation, reused by `govern`
        self._evaluated: tuple[WorkItem, RuleSet, list[Finding]] | None = None

    def govern(
        self,
        item: WorkItem,
        *,
        rollup: Rollup | None = None,
        rollup_spec: RollupSpec | None = None,
        verify_comment: bool = False,
    ) -> str:
        """Evaluate `item` and apply the difference. Returns a short outcome string.
        `verify_comment`: read the managed comment even when the plan did not change it,
        and restore it if a person changed it (`comment_guard`)."""
        ruleset = self.resources.rules.current()
        if rollup is None:
            rollup = self.store.get_rollup(item.key)
            rollup_spec = rollup_spec or (spec_for(ruleset.rollups, item) if rollup else None)
        findings = self._evaluate(ruleset, item, rollup)

        client = self.resources.client(item.tracker)
        if client is None:
            return f"evaluated ({len(findings)} findings; tracker has no write-back URL)"
        try:
            writes = self.apply(
                client, ruleset, item, findings, rollup, rollup_spec, verify_comment=verify_comment
            )
        except Conflict:
            # The item changed under us (Azure DevOps `test /rev`): re-read, re-plan once.
            # keep the cross-tracker owner (tag or field), as the worker does on intake
            fresh = with_portfolio_parent(client.get_item(item.native_id), self.resources.settings)
            self.store.upsert_item(fresh)
            # The stored item is now the fresh one, so older deliveries will be skipped as
            # stale: what is written must follow from its findings, not the payload's.
            findings = self._evaluate(ruleset, fresh, rollup)
            writes = self.apply(
                client, ruleset, fresh, findings, rollup, rollup_spec, verify_comment=verify_comment
            )
        return f"{len(findings)} findings, {writes} writes"

    def settled(
        self, item: WorkItem, ledger: Ledger, *, known: dict[str, WorkItem] | None = None
    ) -> bool:
        """True when the last write-back on the item finished with every write taken, for
        the same plan as now and the managed labels the item shows: governing it again
        would write nothing. Reads at most the parent (not when `known` holds it). Never
        for rollup parents or rules judging an item by others (their plans depend on more
        than the item). A payload older than the last label write shows the labels as
        they were before it; for those, the ledger is the truth, as in `apply`."""
        ruleset = self.resources.rules.current()
        if ledger.findings_hash is None or spec_for(ruleset.rollups, item) is not None:
            return False
        if _judges_by_others(ruleset):
            return False
        watermark = ledger.item_revision
        if not (watermark is not None and item.revision < watermark) and (
            {lb for lb in item.labels if lb.startswith(self.prefix)} != ledger.labels
        ):
            return False
        findings = evaluate_stored(self.resources, item, ruleset=ruleset, known=known)
        self._evaluated = (item, ruleset, findings)
        return plan_digest(ruleset, findings) == ledger.findings_hash

    def _evaluate(
        self, ruleset: RuleSet, item: WorkItem, rollup: Rollup | None = None
    ) -> list[Finding]:
        """The item's findings (its own rules, portfolio rules, its rollup's), saved to
        the store."""
        now = self.resources.clock()
        evaluated, self._evaluated = self._evaluated, None
        if (
            evaluated is not None
            and rollup is None  # `settled` never judges rollup parents
            and evaluated[0] is item
            and evaluated[1] is ruleset
        ):
            findings = evaluated[2]  # `settled` evaluated this very item a moment ago
        else:
            findings = evaluate_stored(
                self.resources, item, ruleset=ruleset, now=now, rollup=rollup
            )
        self.store.save_findings(item.key, [f.to_dict() for f in findings], now)
        return findings

    def apply(
        self,
        client: TrackerClient,
        ruleset: RuleSet,
        item: WorkItem,
        findings: list[Finding],
        rollup: Rollup | None = None,
        rollup_spec: RollupSpec | None = None,
        *,
        verify_comment: bool = False,
    ) -> int:
        ledger = self.store.get_ledger(item.key)
        current = set(item.labels)
        if ledger.item_revision is not None and item.revision < ledger.item_revision:
            # This payload was sent before our last label write (the ledger keeps the
            # revision that write gave the item), so it cannot show it: for the labels
            # we manage, the ledger is the truth. Later payloads show the item as it is,
            # including a managed label a person removed since.
            current = {lb for lb in current if not lb.startswith(self.prefix)} | ledger.labels
        actions = plan_actions(
            ruleset,
            item.with_changes(labels=tuple(sorted(current))),
            findings,
            prefix=self.prefix,
            # a comment written whose id is not known yet is still ours to update
            has_managed_comment=ledger.comment_id is not None or ledger.comment_hash is not None,
        )
        writes = 0
        new_ledger = ledger
        self._refusals = []

        # -- labels: only prefixed labels are ever removed ------------------------------
        add = {a.label for a in actions if a.type == "add_label"}
        remove = {a.label for a in actions if a.type == "remove_label"}
        if rollup is not None and rollup_spec is not None and rollup_spec.write_back.labels:
            wanted_rag = rag_label(self.prefix, rollup.rag)
            add.add(wanted_rag)
            remove |= RAG_LABELS(self.prefix) - {wanted_rag}
        add -= current
        remove = {label for label in remove & current if label.startswith(self.prefix)}
        managed = frozenset(
            label for label in (current | add) - remove if label.startswith(self.prefix)
        )
        new_ledger = replace(new_ledger, labels=managed)
        values: dict[str, Any] = {a.field: a.value for a in actions if a.type == "set_field"}
        if rollup is not None and rollup_spec is not None and rollup_spec.write_back.fields:
            values.update(field_values(rollup_spec, rollup))
        changed = {k: v for k, v in values.items() if ledger.fields.get(k) != v}
        show_rollup = rollup is not None and (rollup_spec is None or rollup_spec.write_back.comment)
        wants_comment = any(a.type == "comment" for a in actions) or show_rollup

        # -- labels and a first comment in one call, where the tracker takes both -------
        # (no field write between them, so the comment cannot need to say it was refused)
        comment_done = False
        known_comment: str | None = ledger.comment_id
        searched = known_comment is not None
        doc: Document | None = None
        if (add or remove) and wants_comment and not changed and known_comment is None:
            doc = self._document(item, findings, rollup if show_rollup else None)
            digest = doc_hash(doc)
            if digest != ledger.comment_hash:
                searched, known_comment = self._find_comment(client, item)
                if searched and known_comment is None:
                    one = self._labels_with_comment(client, item, add, remove, doc)
                    if one is not None:
                        written, comment_id = one
                        WRITES.labels(item.tracker, "labels_and_comment").inc()
                        writes += 1
                        watermark = written if written is not None else item.revision + 1
                        new_ledger = replace(
                            new_ledger,
                            item_revision=watermark,
                            comment_id=comment_id,
                            comment_hash=digest,
                            comment_text_hash=self._text_hash(item, doc),
                        )
                        self.store.save_ledger(item.key, new_ledger)
                        add, remove, comment_done = set(), set(), True
                        for part in ("labels", "comment"):  # both went through
                            self.resources.refusals.clear(item.tracker, part)

        # -- labels: only prefixed labels are ever removed ------------------------------
        if add or remove:
            with self._part(item, "labels") as done:
                written = client.update_labels(item.native_id, add, remove, revision=item.revision)
                done.append(True)
            if done:
                WRITES.labels(item.tracker, "labels").inc()
                writes += 1
                watermark = written if written is not None else item.revision + 1
                new_ledger = replace(new_ledger, item_revision=watermark)
                # Recorded at once: if a later write fails, the retry does not send it again.
                self.store.save_ledger(item.key, new_ledger)
            else:  # refused: the ledger keeps what the item really carries
                new_ledger = replace(new_ledger, labels=ledger.labels)

        # -- fields: configured rollup fields and rule field actions ---------------------
        if changed:
            with self._part(item, "fields") as done:
                client.set_fields(item.native_id, changed)
                done.append(True)
            if done:
                WRITES.labels(item.tracker, "fields").inc()
                writes += 1
                new_ledger = replace(new_ledger, fields={**ledger.fields, **changed})
                self.store.save_ledger(item.key, new_ledger)
            else:  # labels and comment still go out; the comment says what was refused
                findings = [*findings, *refused_actions(actions, findings, self.refused[-1][1])]

        # -- the one managed comment, edited in place ------------------------------------
        if wants_comment and not comment_done:
            if doc is None:  # else built above, with no field write since to change findings
                doc = self._document(item, findings, rollup if show_rollup else None)
            digest = doc_hash(doc)
            edited = None
            if digest == ledger.comment_hash and verify_comment and ledger.comment_id:
                # unchanged plan: the comment is what the ledger says only if nobody
                # changed it since; one read of it by id tells
                written = self._text_hash(item, doc)
                try:
                    edited = managed_comment_change(
                        client, item.key, item.native_id, ledger.comment_id,
                        written_hash=written,
                    )  # fmt: skip
                except PermanentTrackerError as exc:  # cannot read it: nothing to restore
                    log.warning(
                        "writeback.comment_unread", extra={"item": item.key, "error": str(exc)}
                    )
                else:
                    if not edited:  # read as written: a ledger from before keeps its hash now
                        new_ledger = replace(new_ledger, comment_text_hash=written)
            if digest != ledger.comment_hash or edited:
                known_id = None if edited == "deleted" else known_comment
                with self._part(item, "comment") as done:
                    comment_id = self._write_comment(client, item, known_id, doc, searched=searched)
                    done.append(True)
                if done:
                    WRITES.labels(item.tracker, "comment").inc()
                    writes += 1
                    new_ledger = replace(
                        new_ledger,
                        comment_id=comment_id,
                        comment_hash=digest,
                        comment_text_hash=self._text_hash(item, doc),
                    )

        if rollup is not None:
            new_ledger = replace(new_ledger, rollup_hash=rollup.content_hash())
        # Finished with every write taken: an equal plan later needs nothing (`settled`).
        digest = None if self._refusals else plan_digest(ruleset, findings)
        new_ledger = replace(new_ledger, findings_hash=digest)
        if new_ledger != ledger:
            self.store.save_ledger(item.key, new_ledger)
        if writes:
            log.info("writeback.applied", extra={"item": item.key, "writes": writes})
        elif self._refusals:
            # Every write was refused (a revoked token, a bot without any permission):
            # nothing went through, so the delivery goes to the dead letters, to be
            # replayed once the tracker's side is fixed.
            raise self._refusals[0]
        return writes

    @contextmanager
    def _part(self, item: WorkItem, part: str) -> Iterator[list[bool]]:
        """One part of the write-back (labels, fields, comment). A permanent refusal of it
        is recorded and swallowed, so the other parts are still written; everything else
        (rate limits, outages, conflicts, the item gone) propagates to the retry policy.
        The body appends to the yielded list once its write went through."""
        done: list[bool] = []
        try:
            yield done
        except PermanentTrackerError as exc:
            if isinstance(exc, ItemNotFound):
                raise
            text = str(exc)
            # "jira update_labels PAY-1: HTTP 403 ..." -> the tracker's reason, not the item's
            reason = text.partition(": ")[2] or text
            self.refused.append((part, text))
            self._refusals.append(exc)
            # logged once per tracker and part there, not once per event here
            self.resources.refusals.note(item.tracker, part, reason)
            return
        self.resources.refusals.clear(item.tracker, part)

    def _document(self, item: WorkItem, findings: list[Finding], rollup: Rollup | None) -> Document:
        return compliance_document(
            item,
            findings,
            rollup,
            dashboard_url=self.resources.settings.public_url,
            form=comment_form(self.resources.settings.tracker(item.tracker)),
            escalations=self.store.open_escalations(item.key) if findings else (),
        )

    def _text_hash(self, item: WorkItem, doc: Document) -> str:
        """The hash of the comment's plain text as the tracker is sent it (`comment_guard`),
        what a read of the comment by id is compared with."""
        form = comment_form(self.resources.settings.tracker(item.tracker))
        return text_hash(body_text(rendered(doc, form)))

    def _find_comment(self, client: TrackerClient, item: WorkItem) -> tuple[bool, str | None]:
        """(searched, the id of a managed comment already on the item). A lost ledger
        (new store) must not make a second comment. A refused read is left to the
        comment part, which records it."""
        try:
            existing = client.find_managed_comment(item.native_id, MARKER)
        except PermanentTrackerError as exc:
            if isinstance(exc, ItemNotFound):
                raise
            return False, None
        return True, existing.id if existing is not None else None

    def _labels_with_comment(
        self, client: TrackerClient, item: WorkItem, add: set[str], remove: set[str], doc: Document
    ) -> tuple[int | None, str | None] | None:
        """Labels and the first managed comment in one tracker call; None when the tracker
        takes them only apart (or refused the one call for good: the parts are then
        written, and refused, one by one, so each refusal is told apart)."""
        one_call = getattr(client, "update_labels_with_comment", None)
        if one_call is None:
            return None
        try:
            return one_call(item.native_id, add, remove, doc, revision=item.revision)
        except PermanentTrackerError as exc:
            if isinstance(exc, ItemNotFound):
                raise
            log.info("writeback.one_call_refused", extra={"item": item.key, "reason": str(exc)})
            return None

    def _write_comment(
        self,
        client: TrackerClient,
        item: WorkItem,
        comment_id: str | None,
        doc: Document,
        *,
        searched: bool = False,
    ) -> str:
        if comment_id is None and not searched:
            # The ledger may have been lost (new store): adopt the comment already there.
            existing = client.find_managed_comment(item.native_id, MARKER)
            comment_id = existing.id if existing is not None else None
        if comment_id is not None:
            try:
                client.update_comment(item.native_id, comment_id, doc)
                return comment_id
            except ItemNotFound:
                log.info("writeback.comment_gone", extra={"item": item.key})
        return client.add_comment(item.native_id, doc)

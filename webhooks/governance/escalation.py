"""Escalation: for each open finding of a rule with an `escalate:` chain, fire the steps
whose time has come, once per failing episode, and queue what they say to send.

A run (`Escalator.run(rules, now)`) is idempotent: a step is claimed in the store before
anything is sent (`record_escalation` is unique per episode and step, and saves the
step's messages in the same commit, each under a key naming the episode, step, channel
and person), so two workers, a retried run or a restart never send a step twice.
Waived findings (status `waived`) and rule errors do not escalate; quiet hours hold
every step until they end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from config.notify import Notify
from config.people import Directory
from connector.document import Document, Mention, Paragraph
from connector.model import WorkItem
from rules.escalate import EscalationStep, due_steps
from webhooks.governance.escalation_people import Target, UserDirectory, resolve_target
from webhooks.store.escalation import Episode, Escalation, NewNotification

log = logging.getLogger(__name__)

ESCALATION_MARKER = "PMO escalation (pmo-bridge)"
TRACKER_COMMENT = "tracker-comment"  # the outbox channel of separate tracker comments


@dataclass(frozen=True)
class Chain:
    rule: str
    title: str
    severity: str
    steps: tuple[EscalationStep, ...]


def chains_of(ruleset: Any) -> dict[str, Chain]:
    """Rule id -> its chain, for every rule of the ruleset that has one."""
    return {
        rule.id: Chain(rule.id, rule.title or rule.id, rule.severity, rule.escalate)
        for pack in ruleset.packs
        for rule in pack.rules
        if rule.escalate
    }


def unknown_channels(chains: Iterable[Chain], notify: Notify) -> list[str]:
    """`via:` names that are neither mention, comment nor a configured channel."""
    return sorted(
        {
            f"{chain.rule}: escalate[{step.index}].via: unknown channel {name!r}"
            for chain in chains
            for step in chain.steps
            for name in step.channels
            if name not in notify.channels
        }
    )


def escalation_comment(target: Target, account: str | None, text: str) -> Document:
    """The separate tracker comment of a `comment` step: the person mentioned first."""
    return Document(
        title="PMO escalation",
        blocks=(Paragraph(Mention(target.name, account), text),),
        marker=ESCALATION_MARKER,
    )


class Escalator:
    def __init__(
        self,
        store: Any,
        notify: Notify,
        directory: UserDirectory,
        *,
        regovern: Callable[[str], Any] | None = None,
        identity_trackers: frozenset[str] = frozenset(),
        people: Directory | None = None,
    ) -> None:
        self.store = store
        self.notify = notify
        self.directory = directory
        self.regovern = regovern  # re-renders the managed comment after a mention
        # trackers whose mentions need an identity id the items do not carry (Azure DevOps)
        self.identity_trackers = identity_trackers
        self.people = people  # one person across trackers (the people file)

    def run(self, chains: dict[str, Chain], now: Any) -> list[Escalation]:
        """Fire the due steps at `now`; returns the steps fired by this run."""
        if not chains or self.notify.quiet_hours.quiet(now):
            return []
        fired: list[Escalation] = []
        # waived findings and rule errors: nobody is chased
        episodes = [e for e in self.store.open_episodes(chains) if e.status == "fail"]
        already = self.store.fired_steps_of(e.finding_id for e in episodes)
        for episode in episodes:
            due = due_steps(
                chains[episode.rule].steps,
                episode.first_seen,
                already.get(episode.finding_id, set()),
                now,
            )
            if not due:
                continue
            item = self.store.get_item(episode.item_key)
            if item is None:
                continue
            now_fired = [
                done
                for step in due
                if (done := self._fire(chains[episode.rule], episode, item, step, now))
            ]
            fired += now_fired
            if self.regovern and any("mention" in f.via for f in now_fired):
                self.regovern(item.key)
        return fired

    def _fire(
        self, chain: Chain, episode: Episode, item: WorkItem, step: EscalationStep, now: Any
    ) -> Escalation | None:
        target = resolve_target(step.to, item, self.notify, self.people)
        account, unfilled = None, target is None
        if target is None:  # recorded all the same: the report shows the gap
            target = Target(f"nobody ({step.to} not set)")
        else:
            account = self.directory.account(
                item.tracker, target,
                item_account_mentions=item.tracker not in self.identity_trackers,
            )  # fmt: skip
        record = Escalation(
            episode.finding_id, item.key, chain.rule, step.index, target.name, target.role,
            account, step.via, now,
        )  # fmt: skip
        messages = () if unfilled else self._messages(chain, episode, item, step, target, account)
        # the step's claim and its messages in one commit: a crash cannot keep one without
        # the other, and a second claim (another worker, a retried run) saves nothing
        if not self.store.record_escalation(record, messages):
            return None
        log.info(
            "escalation.fired",
            extra={"item": item.key, "rule": chain.rule, "step": step.index, "via": step.via},
        )
        return record

    def _messages(
        self, chain: Chain, episode: Episode, item: WorkItem, step: EscalationStep,
        target: Target, account: str | None,
    ) -> list[NewNotification]:  # fmt: skip
        since = f"{episode.first_seen:%d %b %Y}"
        text = (
            f"{item.key} ({item.title}) has failed the PMO rule {chain.title} "
            f"({chain.severity}) since {since}: {episode.message}"
        )
        subject = f"PMO escalation: {item.key} {chain.title}"
        key = f"{episode.finding_id}:{step.index}"
        messages = []
        if "comment" in step.via:
            body = json.dumps({"name": target.name, "account": account, "text": text})
            messages.append(
                NewNotification(
                    f"{key}:{TRACKER_COMMENT}", TRACKER_COMMENT, item.key, subject, body, item.url
                )
            )
        for name in step.channels:
            channel = self.notify.channels.get(name)
            if channel is None:
                log.error("escalation.unknown_channel", extra={"channel": name})
                continue
            recipient = target.email if channel.kind == "smtp" else target.name
            if channel.kind == "smtp" and not recipient and not channel.to:
                log.warning("escalation.no_email", extra={"item": item.key, "step": step.index})
                continue
            messages.append(
                NewNotification(
                    f"{key}:{name}:{recipient or ''}",
                    name,
                    recipient or "",
                    subject,
                    f"Escalated to {target.label}. {text}",
                    item.url,
                )
            )
        return messages

"""Cross-tracker portfolio links: `portfolio:<tracker>:<id>` always names one item; a bare
id is refused, logged and reported once two trackers of the other kind could hold it."""

from __future__ import annotations

import logging

from config.settings import TrackerConfig
from connector.model import ItemType, StatusCategory, WorkItem
from tests.support.service import make_settings
from webhooks.governance.comments import compliance_document
from webhooks.governance.hierarchy import LINK_RULE, link_findings, with_portfolio_parent


def feature(*labels: str, **custom: str) -> WorkItem:
    return WorkItem(
        key="azure-devops:7", tracker="azure-devops", native_id="7", project="Fabrikam",
        type=ItemType.FEATURE, title="Card vault", status="Active",
        status_category=StatusCategory.IN_PROGRESS, labels=labels, custom=custom,
    )  # fmt: skip


def two_jiras(tmp_path):
    jira = {
        name: TrackerConfig(name=name, kind="jira", webhook_secret_env="S", bot_account="bot")
        for name in ("jira", "jira-eu")
    }
    ado = TrackerConfig(
        name="azure-devops", kind="azure-devops", webhook_secret_env="S", bot_account="bot"
    )
    return make_settings(tmp_path, trackers={**jira, "azure-devops": ado})


def test_a_bare_id_links_to_the_only_tracker_of_the_other_kind(tmp_path) -> None:
    settings = make_settings(tmp_path)
    assert with_portfolio_parent(feature("portfolio:PAY-1"), settings).parent == "jira:PAY-1"
    assert link_findings(feature("portfolio:PAY-1"), settings) == []


def test_a_bare_id_with_two_trackers_of_a_kind_is_refused_with_a_log_and_a_finding(
    tmp_path, caplog
) -> None:
    settings = two_jiras(tmp_path)
    item = feature("portfolio:PAY-1")
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.hierarchy"):
        linked = with_portfolio_parent(item, settings)
    assert linked.parent is None  # never silently the first Jira
    (record,) = [r for r in caplog.records if r.msg == "hierarchy.ambiguous_link"]
    assert "trackers jira, jira-eu could hold it" in record.reason
    (finding,) = link_findings(linked, settings)
    assert (finding.rule, finding.status) == (LINK_RULE, "error")
    assert "write portfolio:<tracker>:PAY-1, e.g. portfolio:jira:PAY-1" in finding.message
    assert "portfolio:<tracker>:PAY-1" in compliance_document(linked, [finding]).to_text()
    # the same through the link field
    assert with_portfolio_parent(feature(portfolio_link="PAY-1"), settings).parent is None


def test_a_tracker_qualified_link_names_one_item(tmp_path) -> None:
    settings = two_jiras(tmp_path)
    for label, parent in (
        ("portfolio:jira-eu:PAY-1", "jira-eu:PAY-1"),
        ("portfolio:jira:PAY-1", "jira:PAY-1"),
    ):
        linked = with_portfolio_parent(feature(label), settings)
        assert linked.parent == parent
        assert link_findings(linked, settings) == []
    # an ambiguous label next to a qualified one: the qualified one wins, nothing to report
    both = with_portfolio_parent(feature("portfolio:PAY-1", "portfolio:jira-eu:PAY-2"), settings)
    assert both.parent == "jira-eu:PAY-2"
    assert link_findings(both, settings) == []

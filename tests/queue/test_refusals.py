"""Refused writes are kept per tracker and part in the queue's key-value store: logged
once, shown on /readyz, forgotten once the part is written again."""

from __future__ import annotations

from huey import MemoryHuey

from webhooks.queue.refusals import Refusals


def test_logged_once_per_tracker_and_kind_of_refusal(caplog):
    huey = MemoryHuey("refusals-test", immediate=False)
    refusals = Refusals(huey)
    with caplog.at_level("INFO", logger="webhooks.queue.refusals"):
        refusals.note("jira", "labels", "HTTP 403 Issue PAY-1: no permission")
        refusals.note("jira", "labels", "HTTP 403 Issue PAY-2: no permission")
        refusals.note("jira", "labels", "HTTP 400 labels: a label may not contain spaces")
        refusals.note("azure-devops", "comment", "HTTP 403 TF401027")
    logged = [(r.message, r.tracker, r.part) for r in caplog.records]
    assert logged == [
        ("writeback.refused", "jira", "labels"),
        ("writeback.refused", "jira", "labels"),
        ("writeback.refused", "azure-devops", "comment"),
    ]
    # another process (a web process) reads the same store
    seen = Refusals(huey).current({"jira": None, "azure-devops": None, "other": None})
    assert seen == {
        "jira": {"labels": "HTTP 400 labels: a label may not contain spaces"},
        "azure-devops": {"comment": "HTTP 403 TF401027"},
    }
    caplog.clear()
    with caplog.at_level("INFO", logger="webhooks.queue.refusals"):
        refusals.clear("jira", "labels")
        refusals.clear("jira", "comment")  # none known: nothing read, nothing logged
    assert [r.message for r in caplog.records] == ["writeback.refusal_cleared"]
    assert Refusals(huey).current({"jira": None}) == {}

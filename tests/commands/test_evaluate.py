"""`pmo-bridge evaluate`: one payload in, the contract's JSON out; exit 2 with one line for
input it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.helpers import FIXTURES, ROOT
from webhooks.commands.main import main

STANDARD = str(ROOT / "config" / "packs" / "pmo-standard.yaml")
EXAMPLE = str(ROOT / "config" / "examples" / "jira-epic-in-progress.json")
NOW = "2026-11-23T09:00:00Z"


def run(capsys, *args):
    code = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_payload_gives_findings_and_a_comment_action(capsys):
    code, out, err = run(
        capsys, "--rules", STANDARD, "--tracker", "jira", "--payload", EXAMPLE, "--now", NOW
    )
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"item", "findings", "actions"}
    assert result["item"]["key"] == "jira:PAY-100"
    assert result["item"]["status_category"] == "in_progress"
    rules = {f["rule"] for f in result["findings"]}
    assert rules == {"epic-has-owner", "epic-template"}
    for finding in result["findings"]:
        assert set(finding) >= {"rule", "severity", "enforcement", "message"}
    assert [a["type"] for a in result["actions"]] == ["comment"]
    assert result["actions"][0]["item"] == "jira:PAY-100"


def test_azure_devops_payload(capsys):
    payload = str(FIXTURES / "azure-devops" / "workitem.updated__tags_and_points.json")
    code, out, err = run(
        capsys, "--rules", STANDARD, "--tracker", "azure-devops", "--payload", payload, "--now", NOW
    )
    assert code == 0, err
    assert json.loads(out)["item"]["key"].startswith("azure-devops:")


def test_enforce_rule_plans_a_prefixed_label(tmp_path, capsys):
    pack = tmp_path / "enforce.yaml"
    pack.write_text(
        "version: 1\nname: t\nenforcement: enforce\nrules:\n"
        "  - id: owner\n    when: {status_category: [in_progress]}\n"
        "    require:\n      - {field: assignee, present: true}\n"
    )
    code, out, _ = run(
        capsys, "--rules", str(pack), "--tracker", "jira", "--payload", EXAMPLE, "--now", NOW
    )
    assert code == 0
    actions = json.loads(out)["actions"]
    assert {"type": "add_label", "item": "jira:PAY-100", "label": "pmo-owner"} in actions


@pytest.mark.parametrize(
    "content, tracker, fragment",
    [
        (b"{not json", "jira", "not valid JSON"),
        (b"", "jira", "is empty"),
        (b"[1, 2]", "jira", "not a usable jira event"),
        (json.dumps({"webhookEvent": "worklog_created"}).encode(), "jira", "not a work-item event"),
        (
            json.dumps({"eventType": "git.push", "resource": {}}).encode(),
            "azure-devops",
            "not a work-item event",
        ),
        (
            json.dumps(
                {
                    "webhookEvent": "issuelink_created",
                    "issueLink": {
                        "id": 1,
                        "sourceIssueId": 10,
                        "destinationIssueId": 11,
                        "issueLinkType": {"name": "Blocks"},
                    },
                }
            ).encode(),
            "jira",
            "carries no item",
        ),
    ],
    ids=["malformed", "empty", "array", "ignored-jira", "ignored-azure", "no-item"],
)
def test_unusable_input_exits_2_with_one_line(tmp_path, capsys, content, tracker, fragment):
    payload = tmp_path / "payload.json"
    payload.write_bytes(content)
    code, out, err = run(
        capsys, "--rules", STANDARD, "--tracker", tracker, "--payload", str(payload)
    )
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert fragment in err and "Traceback" not in err


def test_missing_file_and_broken_rules_exit_2(tmp_path, capsys):
    code, _, err = run(
        capsys, "--rules", STANDARD, "--tracker", "jira", "--payload", str(tmp_path / "nope.json")
    )
    assert code == 2 and "cannot read" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules:\n  - id: a\n    bogus: 1\n")
    code, _, err = run(capsys, "--rules", str(broken), "--tracker", "jira", "--payload", EXAMPLE)
    assert code == 2 and f"{broken}:4:5" in err


def test_bad_now_exits_2(capsys):
    code, _, err = run(
        capsys, "--rules", STANDARD, "--tracker", "jira", "--payload", EXAMPLE, "--now", "yesterday"
    )
    assert code == 2 and "--now" in err


def _strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in the output is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"[" * 10_000 + b"]" * 10_000, "nests deeper than"),
        (
            json.dumps({"webhookEvent": "jira:issue_updated"})[:-1].encode() + b', "x": NaN}',
            "NaN is not a JSON value",
        ),
        (
            json.dumps({"webhookEvent": "jira:issue_updated"})[:-1].encode() + b', "x": -Infinity}',
            "-Infinity is not a JSON value",
        ),
    ],
    ids=["deep", "nan", "infinity"],
)
def test_hostile_payloads_exit_2_with_one_line(tmp_path, capsys, content, fragment):
    payload = tmp_path / "payload.json"
    payload.write_bytes(content)
    code, out, err = run(
        capsys, "--rules", STANDARD, "--tracker", "jira", "--payload", str(payload)
    )
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert fragment in err and "Traceback" not in err


def test_a_nan_estimate_is_read_as_missing_and_the_output_stays_json(tmp_path, capsys):
    example = json.loads(Path(EXAMPLE).read_text())
    example["issue"]["fields"]["customfield_10016"] = "NaN"
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(example))
    code, out, err = run(
        capsys, "--rules", STANDARD, "--tracker", "jira", "--payload", str(payload), "--now", NOW
    )
    assert code == 0, err
    assert _strict_json(out)["item"]["estimate"] is None

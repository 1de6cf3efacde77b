"""Per-scope overrides of an extended pack, owners, and `rules explain`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connector.model import WorkItem
from rules import Context, evaluate, load_ruleset, plan_actions, validate_paths
from rules.overrides import effective_rule
from webhooks.commands.main import main
from webhooks.governance.comments import compliance_document

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "packs" / "examples"
NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BASE = """version: 1
name: Base
rules:
  - id: small-stories
    title: Stories are small
    when: {type: [story]}
    require: [{field: estimate, max: 13}]
    owner: {name: Estimation guild, contact: guild@example.com}
  - id: titled
    require: [{field: title, min_length: 10}]
"""
PROGRAMME = """version: 1
name: Payments
extend: base.yaml
scope: {jira: [PAY]}
owner: {name: Payments PMO, contact: pay@example.com}
overrides:
  - rule: small-stories
    require: [{field: estimate, max: 8}]
    enforcement: enforce
  - rule: titled
    disabled: true
  - rule: titled
    scope: {azure-devops: ['*']}
    severity: critical
"""


def item(project: str = "PAY", tracker: str = "jira", **changes: object) -> WorkItem:
    data = {
        "key": f"{tracker}:{project}-1", "tracker": tracker, "native_id": f"{project}-1",
        "project": project, "type": "story", "title": "short", "status": "To Do",
        "status_category": "todo", "created": "2026-10-01T09:00:00Z",
        "updated": "2026-10-30T09:00:00Z", "estimate": 10, **changes,
    }  # fmt: skip
    return WorkItem.from_dict(data)


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "payments.yaml").write_text(PROGRAMME)
    return tmp_path


def found(ruleset, work_item) -> dict[str, tuple[str, str, str]]:
    return {
        f.rule: (f.status, f.severity, f.enforcement)
        for f in evaluate(ruleset, work_item, Context(NOW))
    }


def test_overrides_apply_in_their_scope_only_and_the_base_is_untouched(packs: Path) -> None:
    ruleset = load_ruleset([packs / "payments.yaml"])  # the base is loaded through extend
    assert found(ruleset, item("PAY")) == {"small-stories": ("fail", "medium", "enforce")}
    assert found(ruleset, item("WEB")) == {"titled": ("fail", "medium", "advise")}
    assert found(ruleset, item("Fabrikam", "azure-devops", estimate=3)) == {
        "titled": ("fail", "critical", "advise")
    }
    base_only = load_ruleset([packs / "base.yaml"])
    assert found(base_only, item("PAY")) == {"titled": ("fail", "medium", "advise")}


def test_the_effective_rule_for_a_scope(packs: Path) -> None:
    ruleset = load_ruleset([packs])
    base = ruleset.rule("small-stories")
    rule, override = effective_rule(ruleset.overrides, base, "jira", "PAY")
    assert override is not None and rule is not None
    assert [c.describe for c in rule.checks] != [c.describe for c in base.checks]
    assert rule.owner is not None and str(rule.owner) == "Estimation guild, guild@example.com"
    assert effective_rule(ruleset.overrides, base, "jira", "WEB") == (base, None)
    titled = ruleset.rule("titled")
    assert effective_rule(ruleset.overrides, titled, "jira", "PAY")[0] is None  # disabled


def test_an_override_enforcing_a_rule_labels_and_names_the_owner(packs: Path) -> None:
    ruleset = load_ruleset([packs])
    work_item = item("PAY")
    findings = evaluate(ruleset, work_item, Context(NOW))
    actions = plan_actions(ruleset, work_item, findings)
    assert ("add_label", "pmo-small-stories") in [(a.type, a.label) for a in actions]
    text = compliance_document(work_item, findings).to_text()
    assert "Questions: Estimation guild, guild@example.com" in text


def test_a_pack_owner_is_the_owner_of_its_rules_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        BASE.replace("    owner: {name: Estimation guild, contact: guild@example.com}\n", "")
    )
    (tmp_path / "payments.yaml").write_text(PROGRAMME)
    ruleset = load_ruleset([tmp_path])
    (finding,) = evaluate(ruleset, item("PAY"), Context(NOW))
    assert finding.owner == "Payments PMO, pay@example.com"
    assert ruleset.rule("small-stories").owner is None  # the base rule has none


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("rule: titled\n    disabled", "rule: titeld\n    disabled"),
         "payments.yaml:10:11: unknown rule 'titeld': base.yaml has no such rule"),
        (("extend: base.yaml", "extend: bsae.yaml"),
         "payments.yaml:3:9: extend: no such rules file 'bsae.yaml' (relative to this file)"),
        (("    disabled: true\n", ""),
         "payments.yaml:10:5: override changes nothing: set one of severity, enforcement, when, "
         "require, message, hint, owner or disabled"),
        (("extend: base.yaml\n", ""),
         "payments.yaml:5:1: overrides need `extend:`, the rules file whose rules they change"),
        (("max: 8", "maxx: 8"),
         "payments.yaml:8:33: unknown operator 'maxx'"),
    ],
)  # fmt: skip
def test_broken_overrides_point_at_the_line(
    packs: Path, change: tuple[str, str], expected: str
) -> None:
    (packs / "payments.yaml").write_text(PROGRAMME.replace(*change))
    errors = [str(e).replace(str(packs) + "/", "") for e in validate_paths([packs])]
    assert any(e.startswith(expected) for e in errors), errors


def test_rules_explain_shows_the_rule_in_force(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rules", "explain", "story-estimated", "--rules", str(EXAMPLES)]
    assert main([*args, "--project", "PAY"]) == 0
    out = capsys.readouterr().out
    assert "overridden by" in out and "(scope jira: PAY)" in out
    assert "- {field: estimate, max: 8}" in out
    assert "owner:       Payments PMO, payments-pmo@example.com" in out
    assert "waived until 2030-03-31" in out
    assert main([*args, "--project", "WEB"]) == 0
    out = capsys.readouterr().out
    assert "as defined in" in out and "- {field: estimate, max: 13}" in out
    assert main(["rules", "explain", "title-meaningful", "--project", "PAY", "--rules",
                 str(EXAMPLES)]) == 0  # fmt: skip
    assert "disabled in this scope" in capsys.readouterr().out
    assert main(["rules", "explain", "no-such-rule", "--rules", str(EXAMPLES)]) == 1

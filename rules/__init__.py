"""The PMO rule and rollup engine. Pure: no HTTP, database or Flask imports here.

Public API (re-exported here):
- `load_pack(path) -> Pack`, `load_ruleset(paths) -> RuleSet` (files and folders),
  `validate_paths(paths) -> list[RuleError]`; loaders raise `RulesFileError(errors)`.
- `evaluate(pack_or_ruleset, item, context) -> list[Finding]` with `Context(now, parent)`.
- `plan_actions(pack_or_ruleset, item, findings, *, prefix="pmo-",
  has_managed_comment=False) -> list[Action]`.
Rule ids are unique across the packs of a RuleSet (no namespacing by pack name).
Waivers (`rules.waivers`, e.g. `expiring_within(ruleset.waivers, today, 14)`) and
per-scope overrides (`rules.overrides`) load with the packs (`rules.ruleset`).
Rollup computation lives in `rules.rollup` and `rules.forecast`.
"""

from rules.engine import Context, Finding, evaluate
from rules.errors import RuleError, RulesFileError
from rules.pack import Pack, Rule, RuleSet, load_pack, reads_field
from rules.plan import Action, plan_actions
from rules.ruleset import load_ruleset, validate_paths

__all__ = [
    "Action",
    "Context",
    "Finding",
    "Pack",
    "Rule",
    "RuleError",
    "RuleSet",
    "RulesFileError",
    "evaluate",
    "load_pack",
    "load_ruleset",
    "plan_actions",
    "reads_field",
    "validate_paths",
]

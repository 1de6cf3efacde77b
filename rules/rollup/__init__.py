"""Portfolio rollups: what a rules file asks for (`spec`), the figures computed from a
parent's direct children (`figures`, `compute`, with the forecast in `rules.forecast`),
and what a rollup becomes on the tracker (`output`). Other packages import from here,
but for the findings a rollup raises (`rules.rollup.findings`: it needs `rules.engine`,
which needs this package)."""

from rules.rollup.compute import compute_rollup
from rules.rollup.facts import FACT_FIELDS, ChildFacts
from rules.rollup.figures import CATEGORIES, ChildView, Rollup
from rules.rollup.output import (
    RAG_LABELS,
    field_values,
    metric_value,
    rag_label,
    rollup_document_rows,
)
from rules.rollup.schedule import Schedule, plural, schedule_of
from rules.rollup.spec import (
    AMBER,
    DEFAULT_AMBER,
    DEFAULT_RED,
    GREEN,
    METRICS,
    RAG_VALUES,
    RED,
    SPEC_KEYS,
    THRESHOLD_NAMES,
    THRESHOLDS,
    RagThresholds,
    RollupSpec,
    WriteBackSpec,
    rollup_spec_from_dict,
    spec_for,
)

__all__ = [
    "AMBER",
    "CATEGORIES",
    "DEFAULT_AMBER",
    "DEFAULT_RED",
    "FACT_FIELDS",
    "GREEN",
    "METRICS",
    "RAG_LABELS",
    "RAG_VALUES",
    "RED",
    "SPEC_KEYS",
    "THRESHOLDS",
    "THRESHOLD_NAMES",
    "ChildFacts",
    "ChildView",
    "RagThresholds",
    "Rollup",
    "RollupSpec",
    "Schedule",
    "WriteBackSpec",
    "compute_rollup",
    "field_values",
    "metric_value",
    "plural",
    "rag_label",
    "rollup_document_rows",
    "rollup_spec_from_dict",
    "schedule_of",
    "spec_for",
]

"""YAML with positions: every key and value keeps the line and column it came from.

The document is composed into nodes with PyYAML's safe loader (no arbitrary objects, no
aliases: see `config.yamlsafe`),
then turned into plain dicts, lists and scalars plus a `Positions` index keyed by the
path of each value, e.g. ("rules", 2, "require", 0, "max").
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.yamlsafe import SafeNoAliasLoader
from rules.errors import RuleError

Path = tuple[Hashable, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


@dataclass
class Positions:
    """1-based (line, col) of every value and of every mapping key, by path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value(self, path: Path) -> tuple[int, int]:
        """Where the value at `path` starts; the nearest known ancestor when it is absent."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: Path) -> tuple[int, int]:
        """Where the key naming `path` starts (falls back to its value)."""
        return self.keys.get(path) or self.value(path)

    def error(self, path: Path, message: str, *, at_key: bool = False) -> RuleError:
        line, col = self.key(path) if at_key else self.value(path)
        return RuleError(self.file, line, col, message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str, file: str) -> tuple[Any, Positions, list[RuleError]]:
    """Parse one YAML document. Returns (data, positions, errors); data is None on a
    syntax error. Duplicate keys and merge keys are errors rather than silent choices."""
    positions = Positions(file)
    errors: list[RuleError] = []
    loader = SafeNoAliasLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, positions, errors
        data = _convert(loader, node, (), positions, errors)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "unreadable"
        if exc.problem and exc.context and exc.context_mark is not None:
            started = exc.context_mark
            problem += f" ({exc.context} from line {started.line + 1}, column {started.column + 1})"
        return None, positions, [RuleError(file, line, col, f"invalid YAML: {problem}")]
    except yaml.YAMLError as exc:
        return None, positions, [RuleError(file, 1, 1, f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    return data, positions, errors


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    positions: Positions,
    errors: list[RuleError],
) -> Any:
    positions.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        # scalars with unknown tags are refused by the safe constructor; collections are
        # composed by us, so refuse their tags here rather than silently dropping them
        line, col = _mark(node)
        errors.append(RuleError(positions.file, line, col, f"unsupported YAML tag {node.tag!r}"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line, col = _mark(key_node)
            if key_node.tag == _MERGE_TAG:
                errors.append(
                    RuleError(positions.file, line, col, "merge keys (<<) are not supported")
                )
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                errors.append(
                    RuleError(positions.file, line, col, f"keys must be text, got {key!r}")
                )
                continue
            if key in out:
                errors.append(RuleError(positions.file, line, col, f"duplicate key {key!r}"))
                continue
            positions.keys[(*path, key)] = (line, col)
            out[key] = _convert(loader, value_node, (*path, key), positions, errors)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, child, (*path, index), positions, errors)
            for index, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)

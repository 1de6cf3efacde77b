"""The YAML loader for every file a person writes (config, rules, rules tests): PyYAML's
safe loader, refusing aliases.

An alias (`*name`) repeats a node already built: nine nested levels of them make a
300-byte file expand to gigabytes, and an alias inside its own anchor makes a cycle that
recursive readers never leave. Configuration and rules gain little from them, so they
are refused at the alias, with its line and column. Files are also capped in size and
nesting depth.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent

MAX_YAML_BYTES = 1 << 20  # a rules or config file; the bundled pack is under 10 KB
# The composer recurses once per level; real files nest fewer than ten levels.
MAX_YAML_DEPTH = 64
ALIASES_REFUSED = "aliases (*name) are not supported: write the value out"


class SafeNoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that raises a `MarkedYAMLError` at the first alias and at the
    first node nested deeper than MAX_YAML_DEPTH."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(AliasEvent):
            raise ComposerError(None, None, ALIASES_REFUSED, self.peek_event().start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            problem = f"nested deeper than {MAX_YAML_DEPTH} levels"
            raise ComposerError(None, None, problem, self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class TooLarge(ValueError):
    """A YAML file over MAX_YAML_BYTES."""


def read_yaml_text(path: str | Path) -> str:
    """The file's text, refusing files over MAX_YAML_BYTES before reading them whole.
    Raises OSError, UnicodeDecodeError or TooLarge."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise TooLarge(f"file is larger than {MAX_YAML_BYTES // 1024} KB")
    return data.decode("utf-8")

"""Rule regexes (`matches:`) run on RE2, which matches in time linear in the text: no
pattern a PMO writes can stall a worker, whatever the title or description it meets.

RE2 has no backreferences and no lookaround (the constructs that need backtracking);
such patterns are refused when the rules file is validated, with the line they are on.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

# Patterns whose compiled program would need more than this are refused ("pattern too
# large"), so one rules file cannot take the worker's memory either.
MAX_PROGRAM_BYTES = 8 << 20


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors are reported once, as the rules file's error
    options.max_mem = MAX_PROGRAM_BYTES
    options.never_capture = True  # a check asks "is there a match", never for groups
    return options


def pattern_error(pattern: str) -> str | None:
    """Why RE2 cannot run `pattern`, or None when it can."""
    try:
        re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return f"{reason} (rules use RE2: no backreferences or lookaround)"
    return None


def compile_search(pattern: str) -> Callable[[str], bool]:
    """`found(text)`: does `pattern` (one `pattern_error` accepted) match anywhere in it?

    The module's `search` builds a match object and maps byte offsets back to characters
    on every hit, five times the cost of the match itself; a check needs only yes or no,
    so it asks the compiled RE2 object directly when the module exposes it as it does
    today, and otherwise uses `search`."""
    compiled = re2.compile(pattern, _options())
    regexp = getattr(compiled, "_regexp", None)
    unanchored = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if regexp is None or unanchored is None or not hasattr(regexp, "Match"):
        return lambda text: compiled.search(text) is not None

    def found(text: str) -> bool:
        data = text.encode("utf-8")
        return regexp.Match(unanchored, data, 0, len(data))[0][0] != -1

    return found

"""Find the line of a dotted key in TOML source, for error messages.

tomllib gives no positions for values, so we scan headers and `key =` lines ourselves. It is
deliberately forgiving: a best guess of the line beats no line at all.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")


def _split(dotted: str) -> tuple[str, ...]:
    parts = []
    for m in _PART.finditer(dotted):
        parts.append(m.group(1) if m.group(1) is not None else m.group(2) or m.group(0))
    return tuple(parts)


def key_lines(source: str) -> dict[tuple[str, ...], int]:
    """Map every table and key path to the first line (1-based) that defines it."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_multiline = False
    for lineno, line in enumerate(source.splitlines(), start=1):
        if in_multiline:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = False
            continue
        if m := _HEADER.match(line):
            table = _split(m.group(1))
            for i in range(1, len(table) + 1):
                found.setdefault(table[:i], lineno)
            continue
        if m := _KEY.match(line):
            path = table + _split(m.group(1))
            for i in range(len(table) + 1, len(path) + 1):
                found.setdefault(path[:i], lineno)
            rest = line[m.end() :]
            if rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1:
                in_multiline = True
    return found


def locate(source: str, path: tuple[str, ...]) -> int | None:
    """The line of `path`, or of its nearest defined ancestor."""
    lines = key_lines(source)
    for i in range(len(path), 0, -1):
        if path[:i] in lines:
            return lines[path[:i]]
    return None

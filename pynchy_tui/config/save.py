"""Write settings back with tomlkit so the user's comments and layout survive.

Writes are atomic (temp file + os.replace) and the file is 0600: it may hold keys.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynchy_tui.config.load import parse_config

DELETE = object()  # sentinel: remove the key


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def update_config(path: Path, updates: Mapping[tuple[str, ...], Any]) -> None:
    """Set (or with DELETE remove) dotted keys, validate the result, then write it."""
    import tomlkit  # lazy: only settings changes need it, not the first frame

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = tomlkit.document()
    for keys, value in updates.items():
        node: Any = doc
        for k in keys[:-1]:
            if k not in node:
                if value is DELETE:
                    break
                node[k] = tomlkit.table(is_super_table=len(keys) > 2 and node is doc)
            node = node[k]
        else:
            if value is DELETE:
                if keys[-1] in node:
                    del node[keys[-1]]
            elif isinstance(value, Mapping):
                table = tomlkit.table()
                for k, v in value.items():
                    if v is not None:
                        table[k] = v
                node[keys[-1]] = table
            else:
                node[keys[-1]] = value
    text = tomlkit.dumps(doc)
    parse_config(text, path)  # never write a config we would refuse to load
    atomic_write(path, text)


def rename_table(path: Path, section: str, old: str, new: str) -> None:
    """Rename `[section.old]` to `[section.new]`, keeping its comments."""
    import tomlkit
    from tomlkit.items import Table

    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    parent = doc.get(section)
    if not isinstance(parent, Table | dict) or old not in parent:
        return
    item = parent[old]
    del parent[old]
    parent[new] = item
    text = tomlkit.dumps(doc)
    parse_config(text, path)
    atomic_write(path, text)

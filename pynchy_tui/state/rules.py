"""Always-allow rules: (workspace or all, tool, glob pattern over the call's key argument)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleRow:
    id: int
    workspace: str | None
    tool: str
    pattern: str


def add(
    conn: sqlite3.Connection, workspace: str | None, tool: str, pattern: str, created_by: str
) -> int:
    cur = conn.execute(
        "INSERT INTO policy_rules (workspace, tool, pattern, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace, tool, pattern, created_by, time.time()),
    )
    return int(cur.lastrowid or 0)


def for_workspace(conn: sqlite3.Connection, workspace: str) -> list[RuleRow]:
    rows = conn.execute(
        "SELECT id, workspace, tool, pattern FROM policy_rules"
        " WHERE workspace IS NULL OR workspace = ? ORDER BY id",
        (workspace,),
    )
    return [RuleRow(*r) for r in rows]


def remove(conn: sqlite3.Connection, rule_id: int) -> None:
    conn.execute("DELETE FROM policy_rules WHERE id = ?", (rule_id,))

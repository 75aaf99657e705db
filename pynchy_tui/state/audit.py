"""The audit log: every policy decision, automatic or human."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any


def record(
    conn: sqlite3.Connection,
    workspace_id: int | None,
    tool: str,
    args: dict[str, Any],
    decision: str,
    *,
    actor: str,
    turn_id: int | None = None,
    rule_id: str | None = None,
    reason: str | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO audit_events (workspace_id, turn_id, tool, args, decision, rule_id, reason,"
        " actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            turn_id,
            tool,
            json.dumps(args),
            decision,
            rule_id,
            reason,
            actor,
            time.time(),
        ),
    )
    return int(cur.lastrowid or 0)


def query(
    conn: sqlite3.Connection,
    workspace_id: int | None = None,
    decision: str | None = None,
    limit: int = 500,
) -> list[dict]:
    sql, params = "SELECT * FROM audit_events WHERE 1=1", []
    if workspace_id is not None:
        sql += " AND workspace_id = ?"
        params.append(workspace_id)
    if decision is not None:
        sql += " AND decision = ?"
        params.append(decision)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [dict(r) for r in conn.execute(sql, params)]

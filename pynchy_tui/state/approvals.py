"""Approvals: pending -> approved / denied / expired. The first decision wins, atomically."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any


def create(
    conn: sqlite3.Connection,
    workspace_id: int,
    tool: str,
    args: dict[str, Any],
    *,
    turn_id: int | None = None,
    call_id: str | None = None,
    reason: str | None = None,
    rule_id: str | None = None,
) -> str:
    approval_id = uuid.uuid4().hex[:12]
    conn.execute(
        "INSERT INTO approvals (id, workspace_id, turn_id, call_id, tool, args, reason, rule_id,"
        " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        (
            approval_id,
            workspace_id,
            turn_id,
            call_id,
            tool,
            json.dumps(args),
            reason,
            rule_id,
            time.time(),
        ),
    )
    return approval_id


def decide(
    conn: sqlite3.Connection,
    approval_id: str,
    approved: bool,
    *,
    by: str,
    via: str,
    reason: str | None = None,
) -> bool:
    """True if this decision won; False if the approval was already decided (too late)."""
    cur = conn.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_via = ?, decision_reason = ?,"
        " decided_at = ? WHERE id = ? AND status = 'pending'",
        ("approved" if approved else "denied", by, via, reason, time.time(), approval_id),
    )
    return cur.rowcount == 1


def get(conn: sqlite3.Connection, approval_id: str) -> dict | None:
    r = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
    return dict(r) if r else None


def pending(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("SELECT * FROM approvals WHERE status = 'pending' ORDER BY created_at")
    return [dict(r) for r in rows]

"""Approvals: pending -> approved / denied / expired. The first decision wins, atomically,
whichever process (the TUI, `pynchy approvals`, a channel) makes it."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

_SELECT = (
    "SELECT a.*, w.name AS workspace FROM approvals a JOIN workspaces w ON w.id = a.workspace_id"
)


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
    details: dict[str, Any] | None = None,
) -> str:
    approval_id = uuid.uuid4().hex[:8]
    conn.execute(
        "INSERT INTO approvals (id, workspace_id, turn_id, call_id, tool, args, reason, rule_id,"
        " status, created_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
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
            json.dumps(details or {}),
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


def expire(conn: sqlite3.Connection, approval_id: str, reason: str) -> bool:
    cur = conn.execute(
        "UPDATE approvals SET status = 'expired', decided_by = 'pynchy', decided_via = 'host',"
        " decision_reason = ?, decided_at = ? WHERE id = ? AND status = 'pending'",
        (reason, time.time(), approval_id),
    )
    return cur.rowcount == 1


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["args"] = json.loads(d["args"])
    d["details"] = json.loads(d.get("details") or "{}")
    return d


def get(conn: sqlite3.Connection, approval_id: str) -> dict[str, Any] | None:
    r = conn.execute(f"{_SELECT} WHERE a.id = ?", (approval_id,)).fetchone()
    return _row(r) if r else None


def pending(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"{_SELECT} WHERE a.status = 'pending' ORDER BY a.created_at")
    return [_row(r) for r in rows]


def decided_among(conn: sqlite3.Connection, ids: list[str]) -> list[dict[str, Any]]:
    """Which of these awaited approvals were decided, possibly by another process."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"{_SELECT} WHERE a.id IN ({marks}) AND a.status != 'pending'", ids)
    return [_row(r) for r in rows]

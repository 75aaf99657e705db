"""The last known state of each workspace's sandbox (the UI and `pynchy status` read it)."""

from __future__ import annotations

import sqlite3
import time


def upsert(
    conn: sqlite3.Connection,
    workspace_id: int,
    runtime: str,
    state: str,
    sandbox_id: str | None = None,
    detail: str | None = None,
    last_tool: str | None = None,
) -> None:
    now = time.time()
    conn.execute(
        "INSERT INTO containers (workspace_id, runtime, sandbox_id, state, detail, last_tool,"
        " started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (workspace_id) DO UPDATE SET runtime = excluded.runtime,"
        " sandbox_id = COALESCE(excluded.sandbox_id, sandbox_id), state = excluded.state,"
        " detail = excluded.detail, last_tool = COALESCE(excluded.last_tool, last_tool),"
        " started_at = CASE WHEN excluded.state = 'starting' THEN excluded.started_at"
        " ELSE started_at END, updated_at = excluded.updated_at",
        (workspace_id, runtime, sandbox_id, state, detail, last_tool, now, now),
    )


def all_states(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT w.name AS workspace, c.* FROM containers c JOIN workspaces w"
        " ON w.id = c.workspace_id ORDER BY w.name"
    )
    return [dict(r) for r in rows]

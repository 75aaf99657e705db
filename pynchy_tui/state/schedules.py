"""Scheduled tasks: prompts a workspace runs on a schedule."""

from __future__ import annotations

import sqlite3
import time


def upsert(
    conn: sqlite3.Connection,
    workspace_id: int,
    name: str,
    schedule: str,
    prompt: str,
    next_run_at: float | None,
) -> None:
    conn.execute(
        "INSERT INTO scheduled_tasks (workspace_id, name, schedule, prompt, next_run_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, name) DO UPDATE SET"
        " schedule = excluded.schedule, prompt = excluded.prompt,"
        " next_run_at = excluded.next_run_at",
        (workspace_id, name, schedule, prompt, next_run_at, time.time()),
    )


def due(conn: sqlite3.Connection, now: float) -> list[dict]:
    rows = conn.execute(
        "SELECT * FROM scheduled_tasks WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at",
        (now,),
    )
    return [dict(r) for r in rows]


def mark_run(
    conn: sqlite3.Connection, task_id: int, ran_at: float, next_run_at: float | None
) -> None:
    conn.execute(
        "UPDATE scheduled_tasks SET last_run_at = ?, next_run_at = ? WHERE id = ?",
        (ran_at, next_run_at, task_id),
    )

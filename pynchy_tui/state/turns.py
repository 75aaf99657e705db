"""Turns: one agent run over one or more inbound messages, with usage and cost."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnRow:
    id: int
    workspace_id: int
    status: str
    account: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    steps: int
    error: str | None
    started_at: float
    finished_at: float | None


def _row(r: sqlite3.Row) -> TurnRow:
    return TurnRow(*(r[k] for k in TurnRow.__dataclass_fields__))


def start(
    conn: sqlite3.Connection, workspace_id: int, account: str | None, model: str | None
) -> int:
    cur = conn.execute(
        "INSERT INTO turns (workspace_id, status, account, model, started_at)"
        " VALUES (?, 'running', ?, ?, ?)",
        (workspace_id, account, model, time.time()),
    )
    return int(cur.lastrowid or 0)


def add_usage(
    conn: sqlite3.Connection, turn_id: int, input_tokens: int, output_tokens: int, cost: float
) -> None:
    conn.execute(
        "UPDATE turns SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
        " cost_usd = cost_usd + ?, steps = steps + 1 WHERE id = ?",
        (input_tokens, output_tokens, cost, turn_id),
    )


def finish(conn: sqlite3.Connection, turn_id: int, status: str, error: str | None = None) -> None:
    conn.execute(
        "UPDATE turns SET status = ?, error = ?, finished_at = ? WHERE id = ?",
        (status, error, time.time(), turn_id),
    )


def get(conn: sqlite3.Connection, turn_id: int) -> TurnRow | None:
    r = conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
    return _row(r) if r else None


def running(conn: sqlite3.Connection) -> list[TurnRow]:
    return [_row(r) for r in conn.execute("SELECT * FROM turns WHERE status = 'running'")]


def for_workspace(conn: sqlite3.Connection, workspace_id: int) -> list[TurnRow]:
    rows = conn.execute("SELECT * FROM turns WHERE workspace_id = ? ORDER BY id", (workspace_id,))
    return [_row(r) for r in rows]


def spend_since(conn: sqlite3.Connection, workspace_id: int | None, since: float) -> float:
    if workspace_id is None:
        q = conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM turns WHERE started_at >= ?", (since,)
        )
    else:
        q = conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM turns"
            " WHERE workspace_id = ? AND started_at >= ?",
            (workspace_id, since),
        )
    return float(q.fetchone()[0])


def totals_since(conn: sqlite3.Connection, since: float) -> tuple[int, int, float]:
    r = conn.execute(
        "SELECT COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),"
        " COALESCE(SUM(cost_usd),0) FROM turns WHERE started_at >= ?",
        (since,),
    ).fetchone()
    return int(r[0]), int(r[1]), float(r[2])

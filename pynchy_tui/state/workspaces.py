"""Workspaces: the named homes of agents."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkspaceRow:
    id: int
    name: str
    account: str | None
    created_at: float


def _row(r: sqlite3.Row) -> WorkspaceRow:
    return WorkspaceRow(r["id"], r["name"], r["account"], r["created_at"])


def create(conn: sqlite3.Connection, name: str, account: str | None = None) -> WorkspaceRow:
    now = time.time()
    cur = conn.execute(
        "INSERT INTO workspaces (name, account, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (name, account, now, now),
    )
    return WorkspaceRow(int(cur.lastrowid or 0), name, account, now)


def ensure(conn: sqlite3.Connection, name: str, account: str | None = None) -> WorkspaceRow:
    found = get(conn, name)
    return found if found else create(conn, name, account)


def get(conn: sqlite3.Connection, name: str) -> WorkspaceRow | None:
    r = conn.execute("SELECT * FROM workspaces WHERE name = ?", (name,)).fetchone()
    return _row(r) if r else None


def get_by_id(conn: sqlite3.Connection, ws_id: int) -> WorkspaceRow | None:
    r = conn.execute("SELECT * FROM workspaces WHERE id = ?", (ws_id,)).fetchone()
    return _row(r) if r else None


def list_all(conn: sqlite3.Connection) -> list[WorkspaceRow]:
    return [_row(r) for r in conn.execute("SELECT * FROM workspaces ORDER BY name")]


def rename(conn: sqlite3.Connection, old: str, new: str) -> None:
    conn.execute(
        "UPDATE workspaces SET name = ?, updated_at = ? WHERE name = ?", (new, time.time(), old)
    )


def set_account(conn: sqlite3.Connection, name: str, account: str | None) -> None:
    conn.execute(
        "UPDATE workspaces SET account = ?, updated_at = ? WHERE name = ?",
        (account, time.time(), name),
    )


def delete(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM workspaces WHERE name = ?", (name,))

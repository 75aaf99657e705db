"""Messages in and out of a workspace's chat.

Inbound messages are committed as `pending` before anything acts on them; a turn marks them
`consumed` in the same transaction that adds them to its transcript, so a crash can never
lose one or feed it twice.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class MessageRow:
    id: int
    workspace_id: int
    direction: str
    source: str
    chat: str | None
    sender: str | None
    role: str
    text: str
    status: str
    trusted: bool
    external_id: str | None
    turn_id: int | None
    created_at: float


def _row(r: sqlite3.Row) -> MessageRow:
    return MessageRow(
        r["id"],
        r["workspace_id"],
        r["direction"],
        r["source"],
        r["chat"],
        r["sender"],
        r["role"],
        r["text"],
        r["status"],
        bool(r["trusted"]),
        r["external_id"],
        r["turn_id"],
        r["created_at"],
    )


def add_inbound(
    conn: sqlite3.Connection,
    workspace_id: int,
    text: str,
    *,
    source: str,
    chat: str | None = None,
    sender: str | None = None,
    role: str = "user",
    trusted: bool = True,
    external_id: str | None = None,
) -> tuple[MessageRow, bool]:
    """Commit an inbound message; returns (row, created). A repeated external id is a no-op."""
    now = time.time()
    cur = conn.execute(
        "INSERT INTO messages (workspace_id, direction, source, chat, sender, role, text, status,"
        " trusted, external_id, created_at, updated_at)"
        " VALUES (?, 'in', ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (workspace_id, source, chat, sender, role, text, int(trusted), external_id, now, now),
    )
    if cur.rowcount == 0:
        existing = conn.execute(
            "SELECT * FROM messages WHERE source = ? AND COALESCE(chat, '') = COALESCE(?, '')"
            " AND external_id = ?",
            (source, chat, external_id),
        ).fetchone()
        return _row(existing), False
    return get(conn, int(cur.lastrowid or 0)), True  # type: ignore[return-value]


def add_outbound(
    conn: sqlite3.Connection,
    workspace_id: int,
    text: str,
    *,
    role: str = "assistant",
    source: str = "agent",
    turn_id: int | None = None,
    chat: str | None = None,
) -> MessageRow:
    now = time.time()
    cur = conn.execute(
        "INSERT INTO messages (workspace_id, direction, source, chat, sender, role, text, status,"
        " trusted, turn_id, created_at, updated_at)"
        " VALUES (?, 'out', ?, ?, NULL, ?, ?, 'done', 1, ?, ?, ?)",
        (workspace_id, source, chat, role, text, turn_id, now, now),
    )
    return get(conn, int(cur.lastrowid or 0))  # type: ignore[return-value]


def get(conn: sqlite3.Connection, message_id: int) -> MessageRow | None:
    r = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    return _row(r) if r else None


def pending(conn: sqlite3.Connection, workspace_id: int | None = None) -> list[MessageRow]:
    if workspace_id is None:
        rows = conn.execute("SELECT * FROM messages WHERE status = 'pending' ORDER BY id")
    else:
        rows = conn.execute(
            "SELECT * FROM messages WHERE status = 'pending' AND workspace_id = ? ORDER BY id",
            (workspace_id,),
        )
    return [_row(r) for r in rows]


def mark_consumed(conn: sqlite3.Connection, ids: list[int], turn_id: int) -> None:
    conn.executemany(
        "UPDATE messages SET status = 'consumed', turn_id = ?, updated_at = ? WHERE id = ?",
        [(turn_id, time.time(), i) for i in ids],
    )


def history(
    conn: sqlite3.Connection, workspace_id: int, limit: int = 200, before_id: int | None = None
) -> list[MessageRow]:
    """The chat as a person sees it, oldest first; `before_id` pages backwards."""
    rows = conn.execute(
        "SELECT * FROM messages WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (workspace_id, before_id if before_id is not None else 2**62, limit),
    ).fetchall()
    return [_row(r) for r in reversed(rows)]


def count(conn: sqlite3.Connection, workspace_id: int) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM messages WHERE workspace_id = ?", (workspace_id,)
    ).fetchone()[0]

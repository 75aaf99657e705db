"""The outbound ledger and per-chat cursors for channel delivery.

Every message leaving through a channel is a ledger row first; a bridge sends pending rows in
order and marks them sent together with the chat's outbound cursor, in one transaction.
"""

from __future__ import annotations

import sqlite3
import time

from pynchy_tui.state.db import transaction


def enqueue(
    conn: sqlite3.Connection,
    workspace_id: int,
    channel: str,
    chat: str,
    text: str,
    message_id: int | None = None,
) -> int:
    now = time.time()
    cur = conn.execute(
        "INSERT INTO outbound (workspace_id, message_id, channel, chat, text, status, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
        (workspace_id, message_id, channel, chat, text, now, now),
    )
    return int(cur.lastrowid or 0)


def pending(conn: sqlite3.Connection, channel: str, chat: str | None = None) -> list[dict]:
    if chat is None:
        rows = conn.execute(
            "SELECT * FROM outbound WHERE status = 'pending' AND channel = ? ORDER BY id",
            (channel,),
        )
    else:
        rows = conn.execute(
            "SELECT * FROM outbound WHERE status = 'pending' AND channel = ? AND chat = ?"
            " ORDER BY id",
            (channel, chat),
        )
    return [dict(r) for r in rows]


def mark_sent(conn: sqlite3.Connection, entry_id: int, external_id: str | None) -> None:
    with transaction(conn):
        row = conn.execute(
            "SELECT channel, chat FROM outbound WHERE id = ?", (entry_id,)
        ).fetchone()
        now = time.time()
        conn.execute(
            "UPDATE outbound SET status = 'sent', external_id = ?, sent_at = ?, updated_at = ?,"
            " attempts = attempts + 1 WHERE id = ?",
            (external_id, now, now, entry_id),
        )
        if row:
            _set_cursor(conn, row["channel"], row["chat"], outbound=str(entry_id))


def mark_attempt_failed(
    conn: sqlite3.Connection, entry_id: int, error: str, give_up: bool = False
) -> None:
    conn.execute(
        "UPDATE outbound SET attempts = attempts + 1, last_error = ?, updated_at = ?,"
        " status = CASE WHEN ? THEN 'failed' ELSE status END WHERE id = ?",
        (error, time.time(), int(give_up), entry_id),
    )


SENT_KEPT_S = 7 * 86400  # longer than any look-back (reconciling replies reads one day)
FAILED_KEPT_S = 30 * 86400  # a give-up stays visible for a month


def prune(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Drop ledger rows that are done with: sent a week ago, given up a month ago. Pending
    rows are never dropped. Returns how many went."""
    now = time.time() if now is None else now
    cur = conn.execute(
        "DELETE FROM outbound WHERE (status = 'sent' AND updated_at < ?)"
        " OR (status = 'failed' AND updated_at < ?)",
        (now - SENT_KEPT_S, now - FAILED_KEPT_S),
    )
    return cur.rowcount


def get_cursor(conn: sqlite3.Connection, channel: str, chat: str) -> tuple[str | None, str | None]:
    r = conn.execute(
        "SELECT inbound_cursor, outbound_cursor FROM channel_cursors"
        " WHERE channel = ? AND chat = ?",
        (channel, chat),
    ).fetchone()
    return (r[0], r[1]) if r else (None, None)


def set_inbound_cursor(conn: sqlite3.Connection, channel: str, chat: str, cursor: str) -> None:
    _set_cursor(conn, channel, chat, inbound=cursor)


def _set_cursor(
    conn: sqlite3.Connection,
    channel: str,
    chat: str,
    inbound: str | None = None,
    outbound: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO channel_cursors (channel, chat, inbound_cursor, outbound_cursor, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, chat) DO UPDATE SET"
        " inbound_cursor = COALESCE(excluded.inbound_cursor, inbound_cursor),"
        " outbound_cursor = COALESCE(excluded.outbound_cursor, outbound_cursor),"
        " updated_at = excluded.updated_at",
        (channel, chat, inbound, outbound, time.time()),
    )

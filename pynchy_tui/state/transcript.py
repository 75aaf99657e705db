"""Transcript items: every user, assistant, tool-call and tool-result item of every turn.

Stored as canonical JSON so a workspace resumes exactly after a restart, whatever the provider.
Compaction marks old items and stores a summary item in their place.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ItemRow:
    id: int
    turn_id: int | None
    kind: str
    data: dict[str, Any]


def add(
    conn: sqlite3.Connection,
    workspace_id: int,
    turn_id: int | None,
    kind: str,
    data: dict[str, Any],
) -> int:
    cur = conn.execute(
        "INSERT INTO transcript_items (workspace_id, turn_id, kind, data, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace_id, turn_id, kind, json.dumps(data, ensure_ascii=False), time.time()),
    )
    return int(cur.lastrowid or 0)


def active(conn: sqlite3.Connection, workspace_id: int) -> list[ItemRow]:
    """Items the next model call sees: the latest summary and everything after it."""
    rows = conn.execute(
        "SELECT id, turn_id, kind, data FROM transcript_items"
        " WHERE workspace_id = ? AND compacted = 0 ORDER BY kind = 'summary' DESC, id",
        (workspace_id,),
    )
    return [ItemRow(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def compact(conn: sqlite3.Connection, workspace_id: int, upto_id: int, summary: str) -> int:
    """Mark items up to `upto_id` compacted and insert the summary before the rest."""
    conn.execute(
        "UPDATE transcript_items SET compacted = 1"
        " WHERE workspace_id = ? AND (id <= ? OR kind = 'summary')",
        (workspace_id, upto_id),
    )
    # The summary's id is newer than the kept items; `active()` orders summaries first.
    return add(conn, workspace_id, None, "summary", {"text": summary, "covers_upto": upto_id})


def clear(conn: sqlite3.Connection, workspace_id: int) -> None:
    conn.execute(
        "UPDATE transcript_items SET compacted = 1 WHERE workspace_id = ?", (workspace_id,)
    )

"""What a person sees of a workspace's past: chat messages interleaved with tool calls.

Paged backwards from the newest, so opening a workspace with 10,000 messages reads one page.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HistoryItem:
    kind: str  # user | assistant | system | tool
    created_at: float
    text: str = ""
    message_id: int | None = None
    source: str = "tui"
    sender: str | None = None
    trusted: bool = True
    tool: str = ""
    call_id: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    result: str | None = None
    is_error: bool = False


def page(
    conn: sqlite3.Connection, workspace_id: int, limit: int = 100, before_id: int | None = None
) -> tuple[list[HistoryItem], bool]:
    """Up to `limit` messages before `before_id` with their tool calls; (items, more_before)."""
    rows = conn.execute(
        "SELECT * FROM messages WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (workspace_id, before_id if before_id is not None else 2**62, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    if not rows:
        return [], False
    start = rows[0]["created_at"] if more or before_id is not None else 0.0
    end = float("inf")
    if before_id is not None:
        nxt = conn.execute(
            "SELECT created_at FROM messages WHERE workspace_id = ? AND id >= ?"
            " ORDER BY id LIMIT 1",
            (workspace_id, before_id),
        ).fetchone()
        end = nxt[0] if nxt else end
    items = [
        HistoryItem(
            kind=r["role"] if r["direction"] == "out" or r["role"] != "user" else "user",
            created_at=r["created_at"],
            text=r["text"],
            message_id=r["id"],
            source=r["source"],
            sender=r["sender"],
            trusted=bool(r["trusted"]),
        )
        for r in rows
    ]
    calls: dict[str, HistoryItem] = {}
    for kind, data, created in conn.execute(
        "SELECT kind, data, created_at FROM transcript_items WHERE workspace_id = ?"
        " AND kind IN ('assistant', 'tool_result') AND created_at >= ? AND created_at < ?"
        " ORDER BY id",
        (workspace_id, start, end if end != float("inf") else 1e18),
    ):
        d = json.loads(data)
        if kind == "assistant":
            for c in d.get("tool_calls", []):
                item = HistoryItem("tool", created, tool=c["name"], call_id=c["id"], args=c["args"])
                calls[c["id"]] = item
                items.append(item)
        elif d.get("id") in calls:
            calls[d["id"]].result = d.get("content", "")
            calls[d["id"]].is_error = bool(d.get("is_error"))
    items.sort(key=lambda i: (i.created_at, 0 if i.kind == "user" else 1))
    return items, more

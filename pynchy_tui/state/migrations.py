"""Numbered forward migrations, tracked in PRAGMA user_version. Never edit a shipped step."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE workspaces (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        account TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        source TEXT NOT NULL,
        chat TEXT,
        sender TEXT,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
        text TEXT NOT NULL,
        status TEXT NOT NULL,
        trusted INTEGER NOT NULL DEFAULT 1,
        external_id TEXT,
        turn_id INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX messages_external ON messages(source, COALESCE(chat, ''), external_id)
        WHERE external_id IS NOT NULL;
    CREATE INDEX messages_ws ON messages(workspace_id, id);
    CREATE INDEX messages_pending ON messages(status) WHERE status = 'pending';
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        account TEXT,
        model TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        steps INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        started_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX turns_ws ON turns(workspace_id, id);
    CREATE TABLE transcript_items (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        turn_id INTEGER REFERENCES turns(id) ON DELETE SET NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        compacted INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX transcript_ws ON transcript_items(workspace_id, compacted, id);
    CREATE TABLE containers (
        workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        runtime TEXT NOT NULL,
        sandbox_id TEXT,
        state TEXT NOT NULL,
        detail TEXT,
        last_tool TEXT,
        started_at REAL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        turn_id INTEGER,
        call_id TEXT,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        reason TEXT,
        rule_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        decided_by TEXT,
        decided_via TEXT,
        decision_reason TEXT,
        created_at REAL NOT NULL,
        decided_at REAL,
        expires_at REAL
    );
    CREATE INDEX approvals_pending ON approvals(status) WHERE status = 'pending';
    CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER,
        turn_id INTEGER,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        decision TEXT NOT NULL,
        rule_id TEXT,
        reason TEXT,
        actor TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX audit_ws ON audit_events(workspace_id, id);
    CREATE TABLE scheduled_tasks (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        schedule TEXT NOT NULL,
        prompt TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        next_run_at REAL,
        last_run_at REAL,
        created_at REAL NOT NULL,
        UNIQUE (workspace_id, name)
    );
    CREATE TABLE outbound (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        text TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        external_id TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL
    );
    CREATE INDEX outbound_pending ON outbound(channel, chat, id) WHERE status = 'pending';
    CREATE TABLE channel_cursors (
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        inbound_cursor TEXT,
        outbound_cursor TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (channel, chat)
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: "always allow" rules a person saved from an approval
    """
    CREATE TABLE policy_rules (
        id INTEGER PRIMARY KEY,
        workspace TEXT,
        tool TEXT NOT NULL,
        pattern TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    ALTER TABLE approvals ADD COLUMN details TEXT;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in order, each in its own transaction; returns the version."""
    for number, script in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")  # read the version under the write lock: no races
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema v{version} is newer than this pynchy "
                    f"(v{len(MIGRATIONS)}); upgrade pynchy"
                )
            if version >= number:
                conn.execute("COMMIT")
                continue
            for stmt in _statements(script):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]

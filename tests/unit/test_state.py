"""The SQLite store: schema, WAL, dedup, atomic consumption, first-decision-wins approvals."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.state import approvals, audit, kv, messages, outbound, transcript, turns, workspaces
from pynchy_tui.state.db import Store, connect, transaction
from pynchy_tui.state.migrations import MIGRATIONS, migrate


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "pynchy.db")
    yield s
    s.close()


def test_schema_is_migrated_in_wal_mode(store: Store) -> None:
    conn = store.call_sync(lambda c: c)
    assert store.call_sync(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert store.call_sync(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(
        MIGRATIONS
    )
    tables = {
        r[0]
        for r in store.call_sync(
            lambda c: c.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        )
    }
    for t in (
        "workspaces",
        "messages",
        "turns",
        "transcript_items",
        "containers",
        "approvals",
        "audit_events",
        "scheduled_tasks",
        "outbound",
        "channel_cursors",
    ):
        assert t in tables
    assert conn is not None


def test_migrate_is_idempotent_and_refuses_newer_schemas(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    assert migrate(conn) == len(MIGRATIONS)
    assert migrate(conn) == len(MIGRATIONS)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store(tmp_path / "race.db").close()
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_inbound_is_deduplicated_by_external_id(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    m1, created1 = store.call_sync(
        messages.add_inbound, ws.id, "hi", source="slack", chat="C1", external_id="42"
    )
    m2, created2 = store.call_sync(
        messages.add_inbound, ws.id, "hi again", source="slack", chat="C1", external_id="42"
    )
    assert created1 and not created2 and m1.id == m2.id and m2.text == "hi"
    _, created3 = store.call_sync(
        messages.add_inbound, ws.id, "x", source="slack", chat="C2", external_id="42"
    )
    assert created3
    # without a chat id too (the unique index must not treat NULL chats as distinct)
    _, first = store.call_sync(messages.add_inbound, ws.id, "x", source="email", external_id="m-1")
    again, second = store.call_sync(
        messages.add_inbound, ws.id, "x", source="email", external_id="m-1"
    )
    assert first and not second and again.text == "x"
    # messages without an external id never collide
    for _ in range(3):
        assert store.call_sync(messages.add_inbound, ws.id, "tui", source="tui")[1]


def test_consuming_is_atomic_with_the_transcript(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    store.call_sync(messages.add_inbound, ws.id, "one", source="tui")
    tid = store.call_sync(turns.start, ws.id, "acc", "m")

    def consume_then_fail(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            rows = messages.pending(conn, ws.id)
            transcript.add(conn, ws.id, tid, "user", {"role": "user", "text": rows[0].text})
            messages.mark_consumed(conn, [rows[0].id], tid)
            raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        store.call_sync(consume_then_fail)
    assert len(store.call_sync(messages.pending, ws.id)) == 1
    assert store.call_sync(transcript.active, ws.id) == []


def test_compaction_keeps_summary_first(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    ids = [
        store.call_sync(transcript.add, ws.id, None, "user", {"role": "user", "text": str(i)})
        for i in range(5)
    ]
    store.call_sync(transcript.compact, ws.id, ids[2], "summary one")
    active = store.call_sync(transcript.active, ws.id)
    assert [i.kind for i in active] == ["summary", "user", "user"]
    assert [i.data.get("text") for i in active[1:]] == ["3", "4"]
    store.call_sync(transcript.compact, ws.id, ids[3], "summary two")
    active = store.call_sync(transcript.active, ws.id)
    assert [i.data["text"] for i in active] == ["summary two", "4"]


def test_first_approval_decision_wins_across_threads(store: Store, tmp_path: Path) -> None:
    ws = store.call_sync(workspaces.create, "a")
    aid = store.call_sync(approvals.create, ws.id, "bash", {"command": "rm -rf build"})
    results: list[bool] = []

    # Two separate connections, like the TUI and `pynchy approvals` in another process.
    def decide(approved: bool) -> None:
        conn = connect(tmp_path / "pynchy.db")
        results.append(
            approvals.decide(conn, aid, approved, by="me", via="cli" if approved else "tui")
        )
        conn.close()

    threads = [threading.Thread(target=decide, args=(v,)) for v in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    row = store.call_sync(approvals.get, aid)
    assert row["status"] in ("approved", "denied") and row["decided_by"] == "me"
    assert store.call_sync(approvals.pending) == []


def test_outbound_prune_keeps_pending_and_recent_rows(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "w")
    ids = {
        name: store.call_sync(outbound.enqueue, ws.id, "slack", "C1", name)
        for name in ("old-sent", "new-sent", "old-failed", "month-failed", "old-pending")
    }
    for name in ("old-sent", "new-sent"):
        store.call_sync(outbound.mark_sent, ids[name], "ts")
    for name in ("old-failed", "month-failed"):
        store.call_sync(outbound.mark_attempt_failed, ids[name], "boom", True)
    day = 86400
    now = time.time()

    def age(conn: Any, name: str, days: float) -> None:
        conn.execute(
            "UPDATE outbound SET updated_at = ? WHERE id = ?", (now - days * day, ids[name])
        )

    for name, days in (
        ("old-sent", 8),
        ("new-sent", 6),
        ("old-failed", 31),
        ("month-failed", 29),
        ("old-pending", 90),
    ):
        store.call_sync(age, name, days)
    assert store.call_sync(outbound.prune, now) == 2
    left = store.call_sync(
        lambda c: [r[0] for r in c.execute("SELECT text FROM outbound ORDER BY id")]
    )
    assert left == ["new-sent", "month-failed", "old-pending"]


def test_outbound_ledger_advances_cursor_with_the_send(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    e1 = store.call_sync(outbound.enqueue, ws.id, "slack", "C1", "first")
    e2 = store.call_sync(outbound.enqueue, ws.id, "slack", "C1", "second")
    assert [r["id"] for r in store.call_sync(outbound.pending, "slack", "C1")] == [e1, e2]
    store.call_sync(outbound.mark_sent, e1, "ts-1")
    assert store.call_sync(outbound.get_cursor, "slack", "C1") == (None, str(e1))
    store.call_sync(outbound.mark_attempt_failed, e2, "timeout")
    assert [r["attempts"] for r in store.call_sync(outbound.pending, "slack", "C1")] == [1]
    store.call_sync(outbound.mark_attempt_failed, e2, "gone", True)
    assert store.call_sync(outbound.pending, "slack", "C1") == []
    store.call_sync(outbound.set_inbound_cursor, "slack", "C1", "1700000000.1")
    assert store.call_sync(outbound.get_cursor, "slack", "C1") == ("1700000000.1", str(e1))


def test_audit_and_kv(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    store.call_sync(audit.record, ws.id, "bash", {"command": "ls"}, "allow", actor="policy")
    store.call_sync(audit.record, ws.id, "bash", {"command": "rm x"}, "deny", actor="policy")
    assert [r["decision"] for r in store.call_sync(audit.query, ws.id, "deny")] == ["deny"]
    store.call_sync(kv.put, "tips.seen", ["a", "b"])
    assert store.call_sync(kv.get, "tips.seen") == ["a", "b"]


def test_deleting_a_workspace_cascades(store: Store) -> None:
    ws = store.call_sync(workspaces.create, "a")
    store.call_sync(messages.add_inbound, ws.id, "hi", source="tui")
    store.call_sync(workspaces.delete, "a")
    assert store.call_sync(lambda c: c.execute("SELECT COUNT(*) FROM messages").fetchone()[0]) == 0

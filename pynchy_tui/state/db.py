"""The SQLite store: WAL mode, forward migrations, and exactly one writer thread.

Every call runs on one dedicated thread, so writes are serialised without locks and the event
loop never blocks on disk. Table modules hold plain functions over a `sqlite3.Connection`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pynchy_tui.state.migrations import migrate

P = ParamSpec("P")
T = TypeVar("T")


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class Store:
    """Owns the connection and the writer thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pynchy-db")
        self._conn = self._pool.submit(self._open).result()
        self._thread_id = self._pool.submit(threading.get_ident).result()

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path)
        migrate(conn)
        return conn

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(conn, *args)` on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._conn, *args, **kwargs))

    def call_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """The same from synchronous code (CLI, tests)."""
        if threading.get_ident() == self._thread_id:
            return fn(self._conn, *args, **kwargs)
        return self._pool.submit(lambda: fn(self._conn, *args, **kwargs)).result()

    def close(self) -> None:
        try:
            self._pool.submit(self._conn.close).result()
        finally:
            self._pool.shutdown(wait=True)


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

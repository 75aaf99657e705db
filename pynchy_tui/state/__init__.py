"""SQLite state: the source of truth. One module per table group."""

from pynchy_tui.state.db import Store, connect, transaction

__all__ = ["Store", "connect", "transaction"]

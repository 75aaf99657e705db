"""Beginner tips: a catalogue, plugin additions, and a rotation that never repeats a tip until
all were seen. Shown only in the UI, never in the agent's prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynchy_tui.state import kv

BUILTIN_TIPS: list[str] = [
    "Press Ctrl+P for the command palette: switch workspaces, create one, open settings.",
    "Send with Ctrl+S (or Enter on a single line); Shift+Enter or Ctrl+J adds a new line.",
    "Type / in the composer to see slash commands: /new, /rename, /clear, /model, /stop, /help.",
    "/stop cancels the running turn; the agent's files stay as they are.",
    "Send a message while the agent works: it joins the running turn at the next model call.",
    "Each workspace has its own sandbox; its files live in the data dir under workspaces/.",
    "Press End to jump back to the latest message after scrolling up.",
    "Press F2 for settings (theme, tips, default account, runtime); they are saved to config.toml.",
    "Two workspaces can use two accounts of the same provider: set account in [workspaces.NAME].",
    "pynchy doctor checks your config, accounts and sandbox runtimes from the shell.",
    "pynchy send -w WORKSPACE TEXT talks to an agent from scripts; it reuses a running pynchy.",
    "Long tool output is shortened here: open the tool block, then press o to see all of it.",
    "Turn these tips off in settings (F2) or with tips = false under [ui] in config.toml.",
]

EVERY_N_MESSAGES = 3
_SEEN, _COUNT = "tips.seen", "tips.messages"


class TipRotation:
    """Decides after each sent message whether to show a tip, and which."""

    def __init__(self, conn_call: Any, extra: Sequence[str] = ()) -> None:
        self._call = conn_call  # Store.call_sync-like: fn(conn, *args)
        self.catalogue = list(dict.fromkeys([*BUILTIN_TIPS, *extra]))

    def after_message(self) -> str | None:
        """Every Nth message (the first included) shows the next unseen tip."""
        count = self._call(kv.get, _COUNT, 0) + 1
        self._call(kv.put, _COUNT, count)
        if (count - 1) % EVERY_N_MESSAGES:
            return None
        seen = set(self._call(kv.get, _SEEN, []))
        unseen = [t for t in self.catalogue if t not in seen]
        if not unseen:
            seen, unseen = set(), list(self.catalogue)
        tip = unseen[0]
        seen.add(tip)
        self._call(kv.put, _SEEN, sorted(seen))
        return tip

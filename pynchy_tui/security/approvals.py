"""The approval broker: a tool call the policy says to ask about waits here, durably.

The request is an SQLite row first, then an `ApprovalRequested` event. Whoever decides first
(the TUI, `pynchy approvals` in another process, a channel) wins by a conditional UPDATE; the
waiting turn wakes from an in-process future, or from a short poll when another process wrote
the decision. Nothing times out: a scheduled or channel-triggered turn simply parks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pynchy_tui.bus import Bus
from pynchy_tui.events import ApprovalDecided, ApprovalRequested
from pynchy_tui.state import approvals
from pynchy_tui.state.db import Store

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Decided:
    approved: bool
    by: str
    via: str
    reason: str | None = None
    status: str = "approved"  # approved | denied | expired


def _decided(row: dict[str, Any]) -> Decided:
    return Decided(
        approved=row["status"] == "approved",
        by=row.get("decided_by") or "?",
        via=row.get("decided_via") or "?",
        reason=row.get("decision_reason"),
        status=row["status"],
    )


class ApprovalBroker:
    def __init__(self, store: Store, bus: Bus) -> None:
        self.store = store
        self.bus = bus
        self._waiters: dict[str, asyncio.Future[Decided]] = {}
        self._orphans: set[str] = set()  # pending approvals whose turn died in a restart
        self._poller: asyncio.Task[None] | None = None
        # Called for a decision on an approval nobody waits for (its turn died in a restart).
        self.on_orphan_decided: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def request(
        self,
        workspace: str,
        workspace_id: int,
        turn_id: int,
        call_id: str,
        tool: str,
        args: dict[str, Any],
        reason: str,
        rule_id: str,
        details: dict[str, Any] | None = None,
    ) -> Decided:
        approval_id = await self.store.call(
            approvals.create,
            workspace_id,
            tool,
            args,
            turn_id=turn_id,
            call_id=call_id,
            reason=reason,
            rule_id=rule_id,
            details=details,
        )
        fut: asyncio.Future[Decided] = asyncio.get_running_loop().create_future()
        self._waiters[approval_id] = fut
        self._ensure_poller()
        self.bus.publish(
            ApprovalRequested(workspace, approval_id, tool, args, reason, rule_id, details or {})
        )
        try:
            return await fut
        finally:
            self._waiters.pop(approval_id, None)

    async def decide(
        self, approval_id: str, approved: bool, *, by: str, via: str, reason: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        """(won, row). A decision that comes too late loses and changes nothing."""
        won = await self.store.call(
            approvals.decide, approval_id, approved, by=by, via=via, reason=reason
        )
        row = await self.store.call(approvals.get, approval_id)
        if won and row is not None:
            await self._resolve(row)
        return won, row

    async def _resolve(self, row: dict[str, Any]) -> None:
        decided = _decided(row)
        self.bus.publish(
            ApprovalDecided(
                row["workspace"], row["id"], decided.approved, decided.by, decided.status
            )
        )
        self._orphans.discard(row["id"])
        fut = self._waiters.get(row["id"])
        if fut is not None:
            if not fut.done():
                fut.set_result(decided)
        elif self.on_orphan_decided is not None and row["status"] != "expired":
            await self.on_orphan_decided(row)

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="approval-poller")

    async def _poll(self) -> None:
        """Notice decisions another process wrote straight into SQLite."""
        while self._waiters or self._orphans:
            await asyncio.sleep(POLL_SECONDS)
            try:
                watched = list(self._waiters) + list(self._orphans)
                rows = await self.store.call(approvals.decided_among, watched)
            except Exception:
                log.exception("approval poll failed")
                continue
            for row in rows:
                await self._resolve(row)

    async def adopt_pending(self) -> list[dict[str, Any]]:
        """At start: watch approvals left pending by an earlier run (their turns died)."""
        rows = await self.store.call(approvals.pending)
        self._orphans.update(r["id"] for r in rows)
        if rows:
            self._ensure_poller()
        return rows

    def is_awaited(self, approval_id: str) -> bool:
        return approval_id in self._waiters

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
        for fut in self._waiters.values():
            if not fut.done():
                fut.cancel()

"""`pynchy approvals [allow|deny ID]`: decide from a shell, with or without a running host.

With a host running, the decision goes through its control socket and the waiting turn wakes
at once. Without one, it is written to SQLite; the parked turn resumes when pynchy starts. Either
way the first decision wins and a later one is reported as too late.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from typing import Any

from pynchy_tui.config import Paths
from pynchy_tui.host import control

EXIT_TOO_LATE = 3


async def _ask_host(paths: Paths, req: dict[str, Any]) -> dict[str, Any] | None:
    if not paths.socket_path.exists():
        return None
    try:
        reader, writer = await control.request(paths.socket_path, req)
    except (ConnectionError, FileNotFoundError):
        return None
    with contextlib.closing(writer):
        return json.loads(await reader.readline())


def _direct(paths: Paths, fn: Any, *args: Any, **kw: Any) -> Any:
    from pynchy_tui.state.db import Store

    store = Store(paths.db_path)
    try:
        return store.call_sync(fn, *args, **kw)
    finally:
        store.close()


def _describe(a: dict[str, Any]) -> str:
    subject = a["args"].get("command") or a["args"].get("path") or json.dumps(a["args"])
    return f"{a['id']}  {a['workspace']}  {a['tool']}: {subject}\n      why: {a.get('reason')}"


async def run_approvals(
    paths: Paths, decision: str | None, approval_id: str | None, reason: str | None
) -> int:
    from pynchy_tui.state import approvals

    if not paths.db_path.exists():
        print("pynchy: no pynchy data here yet", file=sys.stderr)
        return 1
    if decision is None:
        reply = await _ask_host(paths, {"op": "approvals"})
        pending = reply["approvals"] if reply else _direct(paths, approvals.pending)
        if not pending:
            print("no pending approvals")
        for a in pending:
            print(_describe(a))
        return 0
    if not approval_id:
        print("pynchy: usage: pynchy approvals allow|deny ID [--reason TEXT]", file=sys.stderr)
        return 2
    approved = decision == "allow"
    by = getpass.getuser()
    req = {
        "op": "decide",
        "id": approval_id,
        "approved": approved,
        "reason": reason,
        "by": by,
        "via": "cli",
    }
    reply = await _ask_host(paths, req)
    if reply is not None:
        won, row = reply["won"], reply["approval"]
    else:
        won = _direct(
            paths, approvals.decide, approval_id, approved, by=by, via="cli", reason=reason
        )
        row = _direct(paths, approvals.get, approval_id)
    if row is None:
        print(f"pynchy: no approval {approval_id}", file=sys.stderr)
        return 1
    if not won:
        print(
            f"too late: {approval_id} was already {row['status']} by {row['decided_by']} "
            f"({row['decided_via']})",
            file=sys.stderr,
        )
        return EXIT_TOO_LATE
    where = "" if reply is not None else " (the turn resumes when pynchy starts)"
    print(f"{row['status']} {approval_id}{where}")
    return 0

"""The git commands pynchy runs *inside* a workspace's sandbox, and what their output means.

Whatever changes a clone runs in its sandbox, as the agent's own commands would: taking a new
main (a bundle made by the host, passed on the command's stdin), rebasing or merging onto it,
fast-forwarding. So what the sandbox did to its clone's config or hooks can only ever hurt
the sandbox. Output from the sandbox is untrusted text: it is parsed defensively and shown,
never executed.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Exec = Callable[[str, str | None], Awaitable[dict[str, Any]]]  # (command, stdin) -> result

CHUNK = 4 << 20  # base64 characters per request (the toolbox takes lines up to 8 MiB)
CONFLICT_MARK = "@@pynchy-conflicts@@"
STATE_MARK = "@@pynchy-state@@"
_SAFE_NAME = re.compile(r"[^\x20-\x7e\u00a0-\uffff]")


class SandboxGitError(Exception):
    """A git command in the sandbox failed in a way that is not a conflict."""


@dataclass(frozen=True)
class FollowResult:
    ok: bool
    conflicts: tuple[str, ...] = ()
    in_progress: bool = False  # a rebase/merge is left for the agent to finish
    output: str = ""


def _clean(name: str) -> str:
    return _SAFE_NAME.sub("?", name)[:300]


async def deliver(run: Exec, bundle: bytes, main: str) -> None:
    """Fetch `refs/pynchy/deliver` of the bundle into the clone's `origin/<main>`."""
    data = base64.b64encode(bundle).decode("ascii")
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [""]
    r = await run('f=$(mktemp /tmp/pynchy-main.XXXXXX) && printf %s "$f"', None)
    path = (r.get("stdout") or "").strip()
    if r.get("exit_code") != 0 or not path.startswith("/tmp/pynchy-main."):
        raise SandboxGitError(f"could not make a temporary file: {r.get('stderr', '')}")
    qp = shlex.quote(path)
    try:
        for chunk in chunks:
            r = await run(f"cat >> {qp}.b64", chunk)
            if r.get("exit_code") != 0:
                raise SandboxGitError(f"could not pass main on: {r.get('stderr', '')}")
        ref = shlex.quote(f"+refs/pynchy/deliver:refs/remotes/origin/{main}")
        r = await run(
            f"base64 -d < {qp}.b64 > {qp} && git fetch --quiet --no-tags {qp} {ref}", None
        )
        if r.get("exit_code") != 0:
            raise SandboxGitError((r.get("stderr") or r.get("stdout") or "").strip()[-2000:])
    finally:
        await run(f"rm -f {qp} {qp}.b64", None)


def _follow_command(policy: str, main: str) -> str:
    upstream = shlex.quote(f"refs/remotes/origin/{main}")
    if policy == "merge":
        step = f"git merge --no-edit --quiet {upstream}"
    elif policy == "ff":
        step = f"git merge --ff-only --quiet {upstream}"
    else:
        step = f"git rebase --quiet {upstream}"
    return (
        f"{step}; rc=$?; if [ $rc -ne 0 ]; then echo {CONFLICT_MARK}; "
        "git diff --name-only --diff-filter=U; "
        f"echo {STATE_MARK}; "
        "if [ -d .git/rebase-merge ] || [ -d .git/rebase-apply ] || [ -f .git/MERGE_HEAD ]; "
        "then echo in-progress; fi; fi; exit $rc"
    )


def parse_follow(result: dict[str, Any]) -> FollowResult:
    stdout = result.get("stdout") or ""
    text = (stdout + "\n" + (result.get("stderr") or "")).strip()
    if result.get("exit_code") == 0:
        return FollowResult(True, output=text[-2000:])
    conflicts: list[str] = []
    in_progress = False
    if CONFLICT_MARK in stdout:
        tail = stdout.split(CONFLICT_MARK, 1)[1]
        names, _, state = tail.partition(STATE_MARK)
        conflicts = [_clean(n) for n in names.splitlines() if n.strip()][:500]
        in_progress = "in-progress" in state
    return FollowResult(False, tuple(conflicts), in_progress, text[-2000:])


async def follow(run: Exec, policy: str, main: str) -> FollowResult:
    """Rebase the checked-out branch onto `origin/<main>` (policy "rebase"), merge it in
    ("merge") or fast-forward to it ("ff"). A conflict leaves the operation in progress."""
    return parse_follow(await run(_follow_command(policy, main), None))

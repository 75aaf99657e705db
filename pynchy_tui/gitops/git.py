"""Running git on the host: GitPython's command runner, called in a thread by the async code.

Two kinds of repository meet here, and they are treated differently:

- *trusted*: the person's repository and pynchy's own shadow repositories (data dir). Commands
  run in them as usual.
- *a workspace clone*: the sandbox can write every file of it, `.git/config` and hooks
  included, so running git in it on the host could run whatever the sandbox wrote there
  (`core.fsmonitor`, hooks, filter drivers, `remote.*.uploadpack`, ...). The host never does.
  It reads a clone only by fetching from it (the other side is `git upload-pack`, which git
  keeps safe to serve from an untrusted repository) and by indexing its files through a
  shadow GIT_DIR of its own. Everything that changes a clone runs inside its sandbox.

`HARDENED` goes in front of every command that reads a clone, as a second fence.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HARDENED = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "safe.directory=*",  # a clone the docker runtime handed to uid 1000 is still readable
    "-c",
    "protocol.file.allow=always",
    "-c",
    "core.pager=cat",
)
BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": "true",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    "LANGUAGE": "C",
}


class GitError(Exception):
    """A git command failed; the message carries its stderr."""

    def __init__(self, args: Sequence[str], code: int, stderr: str, stdout: str = "") -> None:
        self.args_ = list(args)
        self.code = code
        self.stderr = stderr.strip()
        self.stdout = stdout
        shown = " ".join(a for a in args if not a.startswith("core.") and a != "-c")
        super().__init__(f"git {shown} failed ({code}): {self.stderr or stdout.strip()}")


@dataclass(frozen=True)
class GitResult:
    code: int
    out: str
    err: str
    raw: bytes | None = None


def git(
    *args: str,
    cwd: Path | str | None = None,
    git_dir: Path | str | None = None,
    work_tree: Path | str | None = None,
    index: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    hardened: bool = False,
    binary: bool = False,
    stdin: bytes | None = None,
    timeout: float | None = 600.0,
) -> GitResult:
    """Run git (blocking: the async code calls it through `asyncio.to_thread`).

    The git CLI rather than GitPython's runner here, because these calls need an exact
    environment (GitPython's runner can add variables but not remove the host's GIT_DIR & co).
    """
    full = ["git", *(HARDENED if hardened else ()), *args]
    e = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    e.update(BASE_ENV)
    if git_dir is not None:
        e["GIT_DIR"] = str(git_dir)
    if work_tree is not None:
        e["GIT_WORK_TREE"] = str(work_tree)
    if index is not None:
        e["GIT_INDEX_FILE"] = str(index)
    if env:
        e.update(env)
    try:
        proc = subprocess.run(
            full,
            cwd=str(cwd) if cwd is not None else None,
            env=e,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(full[1:], -1, f"timed out after {timeout} s") from exc
    except FileNotFoundError as exc:
        raise GitError(full[1:], -1, f"cannot run git: {exc}") from exc
    err = proc.stderr.decode("utf-8", "replace")
    text = "" if binary else proc.stdout.decode("utf-8", "replace")
    result = GitResult(proc.returncode, text, err, proc.stdout if binary else None)
    if check and result.code != 0:
        raise GitError(full[1:], result.code, result.err, result.out)
    return result


# Variables of the host's own git environment that must never steer what pynchy runs.
_SCRUBBED = {
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_EXTERNAL_DIFF",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_EXEC_PATH",
    "GIT_TRACE",
    "GIT_QUARANTINE_PATH",
}


def out(*args: str, **kw: object) -> str:
    """stdout of a git command, stripped."""
    return git(*args, **kw).out.strip()  # type: ignore[arg-type]


def valid_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)

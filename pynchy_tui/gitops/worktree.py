"""A workspace bound to a git repository: its clone (the workspace), its shadow, its state.

Layout, under the data dir, for workspace NAME bound to the person's repository R:

- `worktrees/NAME/`: **the workspace**, mounted at /workspace. A clone of R's main branch
  (`git clone --no-local`: objects are copied, never hard-linked, so nothing the sandbox does
  to them can reach R), checked out on branch `pynchy/NAME` whose upstream is `origin/main`.
  git works in it inside the sandbox like in any repository. R itself is never mounted.
- `git/NAME.git/`: the **shadow**, a bare repository only the host touches. It borrows R's
  objects (alternates), fetches the agent's commits from the clone, indexes the clone's files
  for the diff pane (its own index, its own config), prepares what goes to main and carries
  main back into the clone as a bundle. `pynchy.json` in it holds the binding's state.

Refs of the shadow: `refs/pynchy/main` (R's main as last fetched), `refs/pynchy/delivered`
(the main commit the clone has as `origin/main`), `refs/pynchy/head` (the clone's HEAD as last
fetched), `refs/pynchy/candidate` (what a sync is about to put on main).

Everything here blocks; the async side calls it in a thread.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pynchy_tui.gitops.git import GitError, git, out, valid_sha

STATE_FILE = "pynchy.json"
PANE_INDEX = "pane.index"
EXCLUDES = ".pynchy/\n"  # the toolbox's spill files are not the agent's work
AGENT_NAME = "pynchy agent ({workspace})"
AGENT_EMAIL = "{workspace}@agents.pynchy.invalid"


class WorktreeError(Exception):
    """The binding cannot be set up or used; the message is for the person."""


@dataclass
class RepoInfo:
    root: Path  # the working tree, or the repository itself when it is bare
    common_dir: Path  # where objects and refs live
    bare: bool
    main: str


@dataclass
class WorktreeState:
    repo: str
    main: str
    branch: str
    conflict: dict[str, Any] | None = None  # {"main": sha, "files": [...], "op": "rebase"}
    woken: list[str] = field(default_factory=list)  # main shas a conflict wake was sent for
    notice_key: str | None = None  # what the last idle notice said, to say it once


def inspect_repo(path: str | Path, main_branch: str | None = None) -> RepoInfo:
    """The person's repository at `path` (GitPython), with its main branch; raises
    WorktreeError with what is wrong."""
    import git as gitpython  # GitPython, lazily: it is not needed for the first frame

    p = Path(path).expanduser()
    if not p.exists():
        raise WorktreeError(f"{p} does not exist")
    try:
        repo = gitpython.Repo(p, search_parent_directories=False)
    except gitpython.InvalidGitRepositoryError:
        raise WorktreeError(f"{p} is not a git repository (run `git init` there first)") from None
    except gitpython.NoSuchPathError:
        raise WorktreeError(f"{p} does not exist") from None
    try:
        bare = repo.bare
        root = Path(repo.git_dir if bare else repo.working_tree_dir or p).resolve()
        common = Path(repo.common_dir).resolve()
        heads = {h.name for h in repo.heads}
        if main_branch:
            if main_branch not in heads:
                raise WorktreeError(f"{p} has no branch {main_branch!r}")
            main = main_branch
        elif "main" in heads:
            main = "main"
        elif "master" in heads:
            main = "master"
        elif not repo.head.is_detached and repo.head.is_valid():
            main = repo.active_branch.name
        else:
            raise WorktreeError(f"{p} has no commits yet: commit something first")
    finally:
        repo.close()
    return RepoInfo(root, common, bare, main)


def load_state(shadow: Path) -> WorktreeState | None:
    try:
        data = json.loads((shadow / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    known = set(WorktreeState.__dataclass_fields__)
    return WorktreeState(**{k: v for k, v in data.items() if k in known})


def save_state(shadow: Path, state: WorktreeState) -> None:
    from pynchy_tui.config.save import atomic_write

    atomic_write(shadow / STATE_FILE, json.dumps(asdict(state), indent=1), mode=0o644)


def _is_clone(work: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(work / ".git").st_mode)
    except OSError:
        return False


def create(workspace: str, info: RepoInfo, work: Path, shadow: Path) -> WorktreeState:
    """Set up (or find set up) the clone and the shadow of a workspace. Idempotent."""
    state = load_state(shadow)
    branch = state.branch if state else f"pynchy/{workspace}"
    if not _is_clone(work):
        if work.exists() and any(work.iterdir()):
            raise WorktreeError(f"{work} exists and is not empty; move it away first")
        work.parent.mkdir(parents=True, exist_ok=True)
        git(
            "clone",
            "--quiet",
            "--no-local",
            "--single-branch",
            "--branch",
            info.main,
            "--",
            str(info.root),
            str(work),
        )
        # The clone is fresh and no sandbox has seen it yet: configuring it here is safe.
        git("checkout", "--quiet", "-b", branch, cwd=work)
        for key, value in (
            ("user.name", AGENT_NAME.format(workspace=workspace)),
            ("user.email", AGENT_EMAIL.format(workspace=workspace)),
            (f"branch.{branch}.remote", "origin"),
            (f"branch.{branch}.merge", f"refs/heads/{info.main}"),
            ("advice.detachedHead", "false"),
        ):
            git("config", key, value, cwd=work)
        exclude = work / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as fh:
            fh.write(EXCLUDES)
        delivered = out("rev-parse", f"refs/remotes/origin/{info.main}", cwd=work)
    else:
        delivered = None
    if not (shadow / "HEAD").exists():
        shadow.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", str(shadow))
        git("config", "gc.auto", "0", git_dir=shadow)  # pruned on our own schedule instead
    alternates = shadow / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_text(str(info.common_dir / "objects") + "\n", encoding="utf-8")
    (shadow / "info").mkdir(exist_ok=True)
    (shadow / "info" / "exclude").write_text(EXCLUDES, encoding="utf-8")
    fetch_main(shadow, info)
    if delivered is not None:
        update_ref(shadow, "refs/pynchy/delivered", delivered)
    elif not has_ref(shadow, "refs/pynchy/delivered"):
        update_ref(shadow, "refs/pynchy/delivered", rev(shadow, "refs/pynchy/main"))
    if state is None or state.repo != str(info.root) or state.main != info.main:
        state = WorktreeState(str(info.root), info.main, branch)
        save_state(shadow, state)
    if not (shadow / PANE_INDEX).exists():
        head = read_head(work)
        if head and has_commit(shadow, head):
            git("read-tree", head, git_dir=shadow, index=shadow / PANE_INDEX)
    return state


# -- small helpers on the shadow (trusted) -------------------------------------------------


def fetch_main(shadow: Path, info: RepoInfo | str, main: str | None = None) -> str:
    """Fetch the person's main into `refs/pynchy/main`; returns its commit."""
    root = str(info.root) if isinstance(info, RepoInfo) else info
    branch = info.main if isinstance(info, RepoInfo) else main
    git(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        root,
        f"+refs/heads/{branch}:refs/pynchy/main",
        git_dir=shadow,
    )
    return rev(shadow, "refs/pynchy/main")


def rev(shadow: Path, name: str) -> str:
    return out("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", git_dir=shadow)


def has_ref(shadow: Path, name: str) -> bool:
    return git("rev-parse", "--verify", "--quiet", name, git_dir=shadow, check=False).code == 0


def has_commit(shadow: Path, sha: str) -> bool:
    r = git("cat-file", "-e", f"{sha}^{{commit}}", git_dir=shadow, check=False)
    return r.code == 0


def update_ref(shadow: Path, name: str, sha: str) -> None:
    git("update-ref", name, sha, git_dir=shadow)


def is_ancestor(shadow: Path, a: str, b: str) -> bool:
    r = git("merge-base", "--is-ancestor", a, b, git_dir=shadow, check=False)
    return r.code == 0


def count(shadow: Path, spec: str) -> int:
    try:
        return int(out("rev-list", "--count", spec, git_dir=shadow) or 0)
    except (GitError, ValueError):
        return 0


# -- reading a clone (untrusted) without running git in it ---------------------------------


def read_head(work: Path) -> str | None:
    """The commit the clone's HEAD points at, read from its files (no git runs in the clone).
    None when it cannot be read plainly (unborn, or something unusual: then fetch decides)."""
    gitdir = work / ".git"
    try:
        head = _read_small(gitdir / "HEAD")
        if head.startswith("ref: "):
            ref = head[5:].strip()
            if not ref.startswith("refs/") or ".." in ref.split("/"):
                return None
            try:
                sha = _read_small(gitdir / ref).strip()
            except FileNotFoundError:
                sha = _packed_ref(gitdir, ref) or ""
        else:
            sha = head.strip()
    except OSError:
        return None
    return sha if valid_sha(sha) else None


def _read_small(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)


def _packed_ref(gitdir: Path, ref: str) -> str | None:
    try:
        fd = os.open(gitdir / "packed-refs", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        for raw in fh:
            line = raw.decode("ascii", "replace").rstrip("\n")
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def fetch_head(shadow: Path, work: Path) -> str | None:
    """Fetch the clone's HEAD into `refs/pynchy/head` (git upload-pack serves it: safe against
    what the sandbox wrote into the clone). None when the clone has no commit."""
    gitdir = work / ".git"
    try:
        if not stat.S_ISDIR(os.lstat(gitdir).st_mode):
            raise WorktreeError(f"{gitdir} is not a directory any more")
    except FileNotFoundError:
        raise WorktreeError(f"{work} is not a git clone any more") from None
    r = git(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        # The local transport drops -c settings; a clone the docker runtime handed to uid
        # 1000 must still be readable by a host running as root.
        "--upload-pack=git -c safe.directory=* -c core.hooksPath=/dev/null upload-pack",
        str(gitdir),
        "+HEAD:refs/pynchy/head",
        git_dir=shadow,
        hardened=True,
        check=False,
    )
    if r.code != 0:
        if "couldn't find remote ref" in r.err or "unknown revision" in r.err:
            return None
        raise GitError(["fetch", str(gitdir), "HEAD"], r.code, r.err)
    return rev(shadow, "refs/pynchy/head")


def operation_in_progress(work: Path) -> str | None:
    """'rebase' or 'merge' when the clone is in the middle of one (a conflict to resolve)."""
    gitdir = work / ".git"
    if (gitdir / "rebase-merge").exists() or (gitdir / "rebase-apply").exists():
        return "rebase"
    if (gitdir / "MERGE_HEAD").exists():
        return "merge"
    return None


def branch_checked_out(work: Path) -> str | None:
    """The branch the clone has checked out, None when detached (or unreadable)."""
    try:
        head = _read_small(work / ".git" / "HEAD").strip()
    except OSError:
        return None
    return head[len("ref: refs/heads/") :] if head.startswith("ref: refs/heads/") else None

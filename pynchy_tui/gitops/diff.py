"""The diff of a bound workspace: its files against the main commit its branch forked from,
committed and uncommitted changes together, untracked files included (unless ignored).

How, without running git in the clone: the shadow indexes the clone's files with an index of
its own (`GIT_DIR=shadow GIT_WORK_TREE=clone GIT_INDEX_FILE=shadow/pane.index git add -A`).
That index keeps stat data, so a refresh hashes only the files that changed, and the filters
and drivers that could run are those of the shadow's config (none), not the clone's. Then
`git diff --cached BASE` against that index is the whole picture.

Blocking; the async side calls `compute` in a thread.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pynchy_tui.gitops import worktree as wt
from pynchy_tui.gitops.git import git, out, valid_sha

PATCH_LINE_LIMIT = 40_000  # above this, patches are read file by file, when shown
DIFF_OPTS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "--src-prefix=a/")


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str  # A added, M modified, D deleted, R renamed, T type changed
    added: int
    removed: int
    old_path: str | None = None
    binary: bool = False
    uncommitted: bool = False
    lines: tuple[str, ...] | None = (
        None  # the patch body ("@@ ...", "+x", "-y", " z"); None: not read yet
    )


@dataclass(frozen=True)
class DiffSnapshot:
    workspace: str
    branch: str
    main: str
    base: str  # the commit the diff is against
    head: str | None  # the clone's HEAD commit
    files: tuple[FileDiff, ...] = ()
    ahead: int = 0  # commits of the branch that main does not have
    behind: int = 0  # commits main gained since the branch forked (as last fetched)
    operation: str | None = None  # "rebase" / "merge" in progress in the clone
    conflicts: tuple[str, ...] = ()
    patches_loaded: bool = True
    computed_at: float = field(default_factory=time.time)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    @property
    def uncommitted(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.uncommitted)

    def file(self, path: str) -> FileDiff | None:
        return next((f for f in self.files if f.path == path), None)


def index_files(shadow: Path, work: Path) -> None:
    """Bring the shadow's index of the clone's files up to date (stat-cached)."""
    git(
        "add",
        "--all",
        "--ignore-errors",
        git_dir=shadow,
        work_tree=work,
        index=shadow / wt.PANE_INDEX,
        hardened=True,
        check=False,  # unreadable files are skipped (--ignore-errors), not fatal
        cwd=work,
    )


def _split_z(text: str) -> list[str]:
    parts = text.split("\0")
    return parts[:-1] if parts and parts[-1] == "" else parts


def _changes(
    shadow: Path, work: Path, base: str
) -> tuple[list[tuple[str, str, str | None]], dict[str, tuple[int, int, bool]]]:
    """(status, path, old path) of each changed file and its +/- counts, in one git call."""
    raw = git(
        "diff",
        "--cached",
        "-z",
        "--raw",
        "--numstat",
        "-M",
        base,
        git_dir=shadow,
        work_tree=work,
        index=shadow / wt.PANE_INDEX,
        hardened=True,
    ).out
    parts = _split_z(raw)
    rows: list[tuple[str, str, str | None]] = []
    stats: dict[str, tuple[int, int, bool]] = {}
    i = 0
    while i < len(parts):
        part = parts[i]
        if part.startswith(":"):  # ":100644 100644 <sha> <sha> M" then the path(s)
            code = part.rsplit(" ", 1)[-1]
            if code[:1] in ("R", "C"):
                rows.append((code[0], parts[i + 2], parts[i + 1]))
                i += 3
            else:
                rows.append((code[:1], parts[i + 1], None))
                i += 2
            continue
        added, removed, path = part.split("\t", 2)
        if path == "":  # a rename: old and new path follow
            path = parts[i + 2]
            i += 3
        else:
            i += 1
        binary = added == "-"
        stats[path] = (0 if binary else int(added), 0 if binary else int(removed), binary)
    return rows, stats


def _uncommitted(shadow: Path, work: Path, head: str | None) -> set[str] | None:
    """Paths whose content differs from the clone's HEAD (None: everything, no commit)."""
    if head is None:
        return None
    raw = git(
        "diff",
        "--cached",
        "-z",
        "--name-only",
        "--no-renames",
        head,
        git_dir=shadow,
        work_tree=work,
        index=shadow / wt.PANE_INDEX,
        hardened=True,
    ).out
    return set(_split_z(raw))


def split_patch(text: str) -> list[list[str]]:
    """`git diff` output as one list of body lines per file, in git's order."""
    files: list[list[str]] = []
    current: list[str] | None = None
    in_body = False
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            current, in_body = [], False
            files.append(current)
            continue
        if current is None:
            continue
        if not in_body:
            if line.startswith("@@"):
                in_body = True
            elif line.startswith("Binary files "):
                current.append(line)
                continue
            else:
                continue  # index, mode, ---/+++, rename from/to, similarity
        current.append(line)
    for f in files:
        while f and f[-1] == "":
            f.pop()
    return files


def patch(shadow: Path, work: Path, base: str, path: str | None = None) -> str:
    args = ["diff", "--cached", *DIFF_OPTS, "--dst-prefix=b/", base]
    if path is not None:
        args += ["--", path]
    return git(
        *args,
        git_dir=shadow,
        work_tree=work,
        index=shadow / wt.PANE_INDEX,
        hardened=True,
    ).out


def file_lines(shadow: Path, work: Path, base: str, f: FileDiff) -> tuple[str, ...]:
    """One file's patch body, read on demand (huge diffs)."""
    paths = [f.path] if f.old_path is None else [f.old_path, f.path]
    text = git(
        "diff",
        "--cached",
        *DIFF_OPTS,
        "--dst-prefix=b/",
        base,
        "--",
        *paths,
        git_dir=shadow,
        work_tree=work,
        index=shadow / wt.PANE_INDEX,
        hardened=True,
    ).out
    chunks = split_patch(text)
    return tuple(chunks[-1]) if chunks else ()


_KNOWN: set[tuple[str, str]] = set()


def _known(shadow: Path, sha: str) -> bool:
    """Whether the shadow has this commit (remembered: objects never leave it)."""
    key = (str(shadow), sha)
    if key in _KNOWN:
        return True
    if wt.has_commit(shadow, sha):
        _KNOWN.add(key)
        return True
    return False


def _ref(shadow: Path, name: str) -> str:
    """A ref of the shadow (trusted; pynchy writes them loose), read without a subprocess."""
    try:
        sha = (shadow / name).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        sha = ""
    return sha if valid_sha(sha) else wt.rev(shadow, name)


@functools.lru_cache(maxsize=256)
def _positions(shadow: str, head: str | None, delivered: str, main: str) -> tuple[str, int, int]:
    """(base, ahead, behind) for these commits; commits never change, so this is cached."""
    base = merge_base(Path(shadow), head, delivered)
    ahead = wt.count(Path(shadow), f"{delivered}..{head}") if head else 0
    behind = wt.count(Path(shadow), f"{base}..{main}") if main else 0
    return base, ahead, behind


def merge_base(shadow: Path, head: str | None, delivered: str) -> str:
    if head is None:
        return delivered
    r = git("merge-base", head, delivered, git_dir=shadow, check=False)
    return r.out.strip() or delivered


def compute(
    workspace: str,
    shadow: Path,
    work: Path,
    state: wt.WorktreeState,
    *,
    fetch: bool = True,
) -> DiffSnapshot:
    """The workspace's diff now. `fetch=False` trusts the last fetched HEAD when the clone's
    HEAD file still names it (the common case: only files changed)."""
    head = wt.read_head(work)
    if head is None or not _known(shadow, head):
        head = wt.fetch_head(shadow, work) if fetch else head
    delivered = _ref(shadow, "refs/pynchy/delivered")
    main = _ref(shadow, "refs/pynchy/main")
    base, ahead, behind = _positions(str(shadow), head, delivered, main)
    index_files(shadow, work)
    changes, stats = _changes(shadow, work, base)
    dirty = _uncommitted(shadow, work, head)
    files = []
    for status, path, old in changes:
        added, removed, binary = stats.get(path, (0, 0, False))
        files.append(
            FileDiff(
                path,
                status,
                added,
                removed,
                old_path=old,
                binary=binary,
                uncommitted=dirty is None or path in dirty or (old is not None and old in dirty),
            )
        )
    total = sum(f.added + f.removed for f in files)
    loaded = total <= PATCH_LINE_LIMIT
    if loaded and files:
        chunks = split_patch(patch(shadow, work, base))
        if len(chunks) == len(files):
            files = [replace(f, lines=tuple(c)) for f, c in zip(files, chunks, strict=True)]
        else:  # should not happen; read them one by one rather than mismatch them
            files = [replace(f, lines=file_lines(shadow, work, base, f)) for f in files]
    op = wt.operation_in_progress(work)
    conflicts: tuple[str, ...] = ()
    if op and state.conflict:
        conflicts = tuple(p for p in state.conflict.get("files", []) if _has_markers(work, p))
    return DiffSnapshot(
        workspace,
        state.branch,
        state.main,
        base,
        head,
        tuple(files),
        ahead,
        behind,
        op,
        conflicts,
        loaded,
    )


def _has_markers(work: Path, rel: str) -> bool:
    p = work / rel
    try:
        if p.is_symlink() or not p.is_file():
            return False
        with p.open("rb") as fh:
            data = fh.read(4 << 20)
    except OSError:
        return False
    return b"\n<<<<<<< " in b"\n" + data


def tree_of_index(shadow: Path, work: Path) -> str:
    """The tree the clone's files make now (after `index_files`)."""
    return out("write-tree", git_dir=shadow, work_tree=work, index=shadow / wt.PANE_INDEX)

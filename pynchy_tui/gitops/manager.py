"""GitOps: the host's side of workspaces bound to git repositories (docs/git.md).

- binding: `[workspaces.NAME] repo = "PATH"` (or `bind()` from the palette) gives the
  workspace a clone of the repository on branch `pynchy/NAME` under the data dir; that clone
  *is* the workspace directory the sandbox mounts at /workspace;
- the diff: a watcher per bound workspace (watchfiles, debounced) publishes `DiffChanged`;
  `diff()` computes the snapshot in a thread, cached until the next change;
- sync: `sync()` (the `sync_to_main` tool, or the TUI) rebases (or merges) the branch onto
  main inside the sandbox, has the deputy review it when the workspace asks for that, then
  fast-forwards the person's main (or adds a merge commit). Main only ever moves to a commit
  that was fully prepared and approved; a conflict or a rejection leaves it untouched;
- after main moves, every other workspace bound to the same repository follows it; one that
  conflicts is left mid-rebase and its agent is woken once per new main with what failed and
  how to fix it;
- when a workspace goes idle with uncommitted or unsynced work, the transcript says so.

Blocking git runs in threads. Nothing here imports the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pynchy_tui.bus import Bus
from pynchy_tui.config.models import Config, WorkspaceConfig
from pynchy_tui.events import DiffChanged, Notice, SyncFinished, TurnFinished
from pynchy_tui.gitops import diff as gdiff
from pynchy_tui.gitops import in_sandbox, review
from pynchy_tui.gitops import worktree as wt
from pynchy_tui.gitops.git import GitError, git, out

log = logging.getLogger(__name__)

DEBOUNCE_MS = 250  # the longest a burst of changes is held back before the pane refreshes
QUIET_MS = 30  # a burst ends after this long without changes
GIT_TIMEOUT = 300.0
MAX_LISTED = 10


@dataclass
class Binding:
    workspace: str
    info: wt.RepoInfo
    work: Path
    shadow: Path
    state: wt.WorktreeState

    @property
    def branch(self) -> str:
        return self.state.branch

    @property
    def main(self) -> str:
        return self.info.main


@dataclass(frozen=True)
class SyncResult:
    status: str  # synced | nothing | conflict | rejected | refused | error
    message: str
    conflicts: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    main_before: str | None = None
    main_after: str | None = None
    commits: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("synced", "nothing")


@dataclass
class _Watch:
    task: asyncio.Task[None]
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _listing(items: list[str] | tuple[str, ...], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class GitOps:
    def __init__(
        self,
        *,
        config: Config,
        data_dir: Path,
        config_dir: Path,
        bus: Bus,
        sandboxes: Callable[[], Any],
        provider_for: Callable[[str], Any],
        account_name: Callable[[str], str | None],
        post_system: Callable[[str, str], Awaitable[None]],
        submit_many: Callable[[str, list[tuple[str, str, str]]], Awaitable[None]],
        is_busy: Callable[[str], bool],
        audit: Callable[..., Awaitable[None]] | None = None,
        record_usage: Callable[[str, str, Any], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.config_dir = config_dir
        self.bus = bus
        self._sandboxes = sandboxes
        self.provider_for = provider_for
        self.account_name = account_name
        self.post_system = post_system
        self.submit_many = submit_many
        self.is_busy = is_busy
        self.audit = audit
        self.record_usage = record_usage  # (workspace, account, Usage): the reviewer's cost
        self.bindings: dict[str, Binding] = {}
        self.broken: dict[str, str] = {}  # workspace -> why its binding does not work
        self._watches: dict[str, _Watch] = {}
        self._revision: dict[str, int] = {}
        self._cache: dict[str, tuple[int, gdiff.DiffSnapshot]] = {}
        self._diff_locks: dict[str, asyncio.Lock] = {}
        self._op_locks: dict[str, asyncio.Lock] = {}
        self._repo_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle_task: asyncio.Task[None] | None = None
        self._followed: dict[str, str] = {}  # workspace -> main it was last told about

    # -- where things are -----------------------------------------------------------------

    def conf(self, workspace: str) -> WorkspaceConfig:
        return self.config.workspaces.get(workspace) or WorkspaceConfig()

    def is_bound(self, workspace: str) -> bool:
        return bool(self.conf(workspace).repo)

    def work_dir(self, workspace: str) -> Path:
        return self.data_dir / "worktrees" / workspace

    def shadow_dir(self, workspace: str) -> Path:
        return self.data_dir / "git" / f"{workspace}.git"

    def repo_path(self, repo: str) -> Path:
        p = Path(repo).expanduser()
        return p if p.is_absolute() else (self.config_dir / p)

    @property
    def sandboxes(self) -> Any:
        return self._sandboxes()

    @property
    def prompt_hook(self) -> Any:
        """An agent hook that tells the model, in a bound workspace, how git works there."""
        return _PromptHook(self)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, workspaces: list[str]) -> None:
        """Set up (or check) the clone of every bound workspace; start the watchers."""
        for name in workspaces:
            if self.is_bound(name):
                await self._setup(name)
        if self._idle_task is None:
            self._idle_task = asyncio.create_task(self._idle_loop(), name="git-idle-notices")

    async def _setup(self, name: str) -> Binding | None:
        conf = self.conf(name)
        assert conf.repo is not None
        try:
            info = await asyncio.to_thread(
                wt.inspect_repo, self.repo_path(conf.repo), conf.main_branch
            )
            state = await asyncio.to_thread(
                wt.create, name, info, self.work_dir(name), self.shadow_dir(name)
            )
        except (wt.WorktreeError, GitError, OSError) as exc:
            self.broken[name] = str(exc)
            self.bindings.pop(name, None)
            self.bus.publish(Notice("warning", f"{name}: git repository not usable: {exc}", name))
            return None
        self.broken.pop(name, None)
        b = Binding(name, info, self.work_dir(name), self.shadow_dir(name), state)
        self.bindings[name] = b
        self._start_watch(name)
        self._changed(name)
        return b

    async def stop(self) -> None:
        if self._idle_task is not None:
            self._idle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._idle_task
            self._idle_task = None
        for name in list(self._watches):
            await self._stop_watch(name)
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait for background work (following main, idle checks) to finish (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(0.01, deadline - time.monotonic()))

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task

    def _lock(self, table: dict[str, asyncio.Lock], key: str) -> asyncio.Lock:
        return table.setdefault(key, asyncio.Lock())

    # -- binding from the UI --------------------------------------------------------------

    async def bind(
        self, workspace: str, repo: str, persist: Callable[..., Awaitable[None]]
    ) -> Binding:
        """Bind a workspace to a repository: write `repo` to config.toml, set up the clone.
        The caller has checked the workspace exists and is not running a turn."""
        if self.is_bound(workspace):
            current = self.conf(workspace).repo
            raise wt.WorktreeError(f"{workspace} is already bound to {current}")
        path = self.repo_path(repo).resolve()
        info = await asyncio.to_thread(wt.inspect_repo, path, self.conf(workspace).main_branch)
        data = self.data_dir.resolve()
        if info.root == data or data in info.root.parents:
            raise wt.WorktreeError("that repository is inside pynchy's own data directory")
        work = self.work_dir(workspace)
        if work.exists() and any(work.iterdir()) and not (work / ".git").is_dir():
            raise wt.WorktreeError(f"{work} exists and is not empty; move it away first")
        await self.sandboxes.hibernate(workspace)  # the next start mounts the clone instead
        await persist(workspace, str(info.root))
        b = await self._setup(workspace)
        if b is None:
            raise wt.WorktreeError(self.broken.get(workspace, "the clone could not be made"))
        await self.post_system(
            workspace,
            f"Bound to the git repository {info.root}: the agent now works in its own clone "
            f"on branch {b.branch} (forked from {b.main}). Its changes show in the diff pane; "
            f"sync them to {b.main} with the sync_to_main tool or the palette.",
        )
        return b

    async def rename(self, old: str, new: str) -> None:
        """Move a bound workspace's clone and shadow along with its name (the branch keeps
        its name)."""
        await self._stop_watch(old)
        b = self.bindings.pop(old, None)
        self.broken.pop(old, None)
        for src, dst in (
            (self.work_dir(old), self.work_dir(new)),
            (self.shadow_dir(old), self.shadow_dir(new)),
        ):
            if src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(src.rename, dst)
        self._cache.pop(old, None)
        if b is not None:
            self.bindings[new] = replace(
                b, workspace=new, work=self.work_dir(new), shadow=self.shadow_dir(new)
            )
            self._start_watch(new)
            self._changed(new)

    async def forget(self, workspace: str, trash: Path | None) -> None:
        """The workspace is deleted: stop watching; its shadow goes to the trash with it (the
        clone itself is the workspace directory, which the host moves)."""
        await self._stop_watch(workspace)
        self.bindings.pop(workspace, None)
        self.broken.pop(workspace, None)
        self._cache.pop(workspace, None)
        shadow = self.shadow_dir(workspace)
        if shadow.exists():
            if trash is not None:
                trash.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(shutil.move, str(shadow), str(trash / ".pynchy-shadow.git"))
            else:
                await asyncio.to_thread(shutil.rmtree, shadow, True)

    # -- watching and the diff -------------------------------------------------------------

    def _changed(self, workspace: str) -> None:
        self._revision[workspace] = self._revision.get(workspace, 0) + 1
        self.bus.publish(DiffChanged(workspace))

    def _start_watch(self, workspace: str) -> None:
        if workspace in self._watches:
            return
        stop = asyncio.Event()
        task = asyncio.create_task(self._watch(workspace, stop), name=f"git-watch-{workspace}")
        self._watches[workspace] = _Watch(task, stop)

    async def _stop_watch(self, workspace: str) -> None:
        w = self._watches.pop(workspace, None)
        if w is None:
            return
        w.stop.set()
        w.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await w.task

    async def _watch(self, workspace: str, stop: asyncio.Event) -> None:
        from watchfiles import awatch

        work = self.work_dir(workspace)
        keep = _watch_filter(work)
        while not stop.is_set():
            try:
                async for _changes in awatch(
                    work,
                    watch_filter=keep,
                    debounce=DEBOUNCE_MS,
                    step=QUIET_MS,
                    stop_event=stop,
                ):
                    self._changed(workspace)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("watching %s failed; retrying", work, exc_info=True)
            if not stop.is_set():
                await asyncio.sleep(1.0)

    async def diff(self, workspace: str, *, force: bool = False) -> gdiff.DiffSnapshot | None:
        """The workspace's current diff (None: not bound). Computed in a thread, cached until
        the watcher (or a git operation) says something changed."""
        b = self.bindings.get(workspace)
        if b is None:
            return None
        async with self._lock(self._diff_locks, workspace):
            rev = self._revision.get(workspace, 0)
            cached = self._cache.get(workspace)
            if cached is not None and cached[0] == rev and not force:
                return cached[1]
            snap = await asyncio.to_thread(gdiff.compute, workspace, b.shadow, b.work, b.state)
            self._cache[workspace] = (rev, snap)
            return snap

    async def file_lines(self, workspace: str, path: str) -> tuple[str, ...]:
        """One file's patch when the snapshot did not load it (huge diffs)."""
        b = self.bindings.get(workspace)
        snap = self._cache.get(workspace)
        if b is None or snap is None:
            return ()
        f = snap[1].file(path)
        if f is None:
            return ()
        if f.lines is not None:
            return f.lines
        async with self._lock(self._diff_locks, workspace):
            return await asyncio.to_thread(gdiff.file_lines, b.shadow, b.work, snap[1].base, f)

    # -- inside the sandbox ---------------------------------------------------------------

    def _runner(self, workspace: str) -> in_sandbox.Exec:
        async def run(command: str, stdin: str | None) -> dict[str, Any]:
            args: dict[str, Any] = {
                "command": command,
                "timeout": GIT_TIMEOUT,
                "env": {"GIT_EDITOR": "true", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            }
            if stdin is not None:
                args["stdin"] = stdin
            return await self.sandboxes.call(workspace, "exec", args, None, "git")

        return run

    async def _deliver(self, b: Binding, sha: str) -> None:
        """Make `sha` the clone's `origin/<main>`: a bundle of what it lacks, fetched inside."""
        run = self._runner(b.workspace)
        delivered = await asyncio.to_thread(wt.rev, b.shadow, "refs/pynchy/delivered")
        await asyncio.to_thread(wt.update_ref, b.shadow, "refs/pynchy/deliver", sha)

        async def full() -> None:
            data = await asyncio.to_thread(_bundle, b.shadow, None)
            await in_sandbox.deliver(run, data, b.main)

        if delivered == sha:
            ref = f"refs/remotes/origin/{b.main}"
            r = await run(f"git update-ref {ref} {sha}", None)
            if r.get("exit_code") != 0:
                await full()
        else:
            try:
                data = await asyncio.to_thread(_bundle, b.shadow, delivered or None)
                await in_sandbox.deliver(run, data, b.main)
            except (in_sandbox.SandboxGitError, GitError) as exc:
                log.info("incremental bundle for %s failed (%s); sending all", b.workspace, exc)
                await full()
        await asyncio.to_thread(wt.update_ref, b.shadow, "refs/pynchy/delivered", sha)

    # -- sync -----------------------------------------------------------------------------

    async def sync(self, workspace: str, *, by: str = "agent", review_: bool = True) -> SyncResult:
        """Put the workspace's commits on main (see the module docstring). Never raises for
        git trouble: the result says what happened, and main only moves on success."""
        b = self.bindings.get(workspace)
        if b is None:
            why = self.broken.get(workspace)
            msg = (
                f"{workspace}'s repository is not usable: {why}"
                if why
                else f"{workspace} is not bound to a git repository (set repo in "
                f"[workspaces.{workspace}] or bind it from the palette)"
            )
            return SyncResult("refused", msg)
        repo_lock = self._lock(self._repo_locks, str(b.info.root))
        async with repo_lock, self._lock(self._op_locks, workspace):
            try:
                result = await self._sync(b, by, review_)
            except (GitError, wt.WorktreeError, in_sandbox.SandboxGitError) as exc:
                log.warning("sync of %s failed", workspace, exc_info=True)
                result = SyncResult("error", f"sync failed, main was not changed: {exc}")
            except Exception as exc:  # a runtime refusal, a dead sandbox, ...
                log.exception("sync of %s failed", workspace)
                result = SyncResult("error", f"sync failed, main was not changed: {exc}")
        self._changed(workspace)
        self.bus.publish(
            SyncFinished(
                workspace,
                result.status,
                result.message,
                list(result.conflicts),
                result.main_after or "",
                by,
            )
        )
        if self.audit is not None:
            decision = "allow" if result.ok else "deny"
            await self.audit(
                workspace,
                "sync_to_main",
                {"by": by, "status": result.status, "main": result.main_after or ""},
                decision,
                actor="person" if by == "person" else "pynchy",
                reason=result.message[:500],
            )
        if by == "person" or result.status in ("synced", "rejected", "conflict"):
            await self.post_system(workspace, result.message)
        if result.status == "conflict" and by == "person":
            await self.submit_many(
                workspace,
                [
                    (
                        "user",
                        f"The person synced {b.branch} to {b.main}, and it conflicts: "
                        + result.message,
                        f"git-conflict:{workspace}:{result.main_before}:sync",
                    )
                ],
            )
        if result.status == "rejected" and by == "person":
            await self.submit_many(
                workspace,
                [
                    (
                        "user",
                        "The deputy review rejected your changes, so they were not put on "
                        f"{b.main}:\n" + "\n".join(f"- {r}" for r in result.reasons) + "\n"
                        "Address the review, commit, and call sync_to_main again.",
                        f"git-review:{workspace}:{time.time_ns()}",
                    )
                ],
            )
        if result.status == "synced" and result.main_after:
            self._spawn(self._follow_others(b, result.main_after), f"git-follow-{workspace}")
        return result

    async def _sync(self, b: Binding, by: str, review_: bool) -> SyncResult:
        ws, conf = b.workspace, self.conf(b.workspace)
        op = wt.operation_in_progress(b.work)
        if op is not None:
            files = (b.state.conflict or {}).get("files", [])
            where = f" (conflicts in {_listing(files)})" if files else ""
            return SyncResult(
                "refused",
                f"a {op} is in progress in {b.branch}{where}: resolve the conflicts, "
                f"`git add` the files and run `git {op} --continue`, then sync again. "
                f"{b.main} was not changed.",
                tuple(files),
            )
        snap = await self.diff(ws, force=True)
        assert snap is not None
        if snap.uncommitted:
            return SyncResult(
                "refused",
                f"{b.branch} has uncommitted changes in {_listing(snap.uncommitted)}: commit "
                f"them first (`git add -A && git commit -m ...`), then sync. {b.main} was "
                "not changed.",
            )
        if wt.branch_checked_out(b.work) is None:
            return SyncResult(
                "refused", f"HEAD is detached in the clone: `git checkout {b.branch}` first"
            )
        head = snap.head
        main = await asyncio.to_thread(wt.fetch_main, b.shadow, b.info)
        if head is None or await asyncio.to_thread(wt.count, b.shadow, f"{main}..{head}") == 0:
            return SyncResult(
                "nothing", f"nothing to sync: {b.main} already has everything on {b.branch}"
            )
        commits = await asyncio.to_thread(wt.count, b.shadow, f"{main}..{head}")
        if conf.sync == "merge":
            prepared = await self._prepare_merge(b, main, head)
        else:
            prepared = await self._prepare_rebase(b, main, head)
        if isinstance(prepared, SyncResult):
            return prepared
        candidate = prepared
        await asyncio.to_thread(wt.update_ref, b.shadow, "refs/pynchy/candidate", candidate)
        if conf.deputy_review and review_:
            verdict = await self._review(b, main, candidate)
            if self.audit is not None:
                await self.audit(
                    ws,
                    "deputy_review",
                    {"main": main, "candidate": candidate, "branch": b.branch},
                    "allow" if verdict.approved else "deny",
                    actor="deputy",
                    reason=verdict.summary[:500],
                )
            if not verdict.approved:
                return SyncResult(
                    "rejected",
                    f"The deputy review rejected {b.branch}, so {b.main} was not changed:\n"
                    + "\n".join(f"- {r}" for r in verdict.reasons),
                    reasons=verdict.reasons,
                    main_before=main,
                    main_after=None,
                )
        await asyncio.to_thread(_publish_main, b, main, candidate)
        # main moved: the clone takes it (and, under the merge policy, moves onto the merge).
        note = ""
        try:
            await self._deliver(b, candidate)
            if conf.sync == "merge":
                fr = await in_sandbox.follow(self._runner(ws), "ff", b.main)
                if not fr.ok:
                    note = f" The clone could not fast-forward to the merge: {fr.output}"
        except Exception as exc:
            log.warning("%s: passing the new main to the clone failed", ws, exc_info=True)
            note = f" The clone could not take the new {b.main} yet: {exc}"
        b.state.conflict = None
        await asyncio.to_thread(wt.save_state, b.shadow, b.state)
        self._followed[ws] = candidate
        how = "merged into" if conf.sync == "merge" else "put on"
        return SyncResult(
            "synced",
            f"Synced: {commits} commit(s) of {b.branch} {how} {b.main} "
            f"({main[:8]}..{candidate[:8]}).{note}",
            main_before=main,
            main_after=candidate,
            commits=commits,
        )

    async def _prepare_rebase(self, b: Binding, main: str, head: str) -> str | SyncResult:
        if await asyncio.to_thread(wt.is_ancestor, b.shadow, main, head):
            return head
        await self._deliver(b, main)
        fr = await in_sandbox.follow(self._runner(b.workspace), "rebase", b.main)
        if not fr.ok:
            return await self._conflict_result(b, main, fr, "rebase")
        new_head = await asyncio.to_thread(wt.fetch_head, b.shadow, b.work)
        if new_head is None or not await asyncio.to_thread(
            wt.is_ancestor, b.shadow, main, new_head
        ):
            return SyncResult("error", f"the rebase did not end on {b.main}; main was not changed")
        return new_head

    async def _prepare_merge(self, b: Binding, main: str, head: str) -> str | SyncResult:
        r = await asyncio.to_thread(
            git,
            "merge-tree",
            "--write-tree",
            "--no-messages",
            main,
            head,
            git_dir=b.shadow,
            check=False,
        )
        if r.code == 1:  # conflicts: let the agent merge main in and resolve them
            await self._deliver(b, main)
            fr = await in_sandbox.follow(self._runner(b.workspace), "merge", b.main)
            if not fr.ok:
                return await self._conflict_result(b, main, fr, "merge")
            head = await asyncio.to_thread(wt.fetch_head, b.shadow, b.work) or head
            r = await asyncio.to_thread(
                git, "merge-tree", "--write-tree", "--no-messages", main, head, git_dir=b.shadow
            )
        elif r.code != 0:
            raise GitError(["merge-tree", main, head], r.code, r.err)
        tree = r.out.split("\n", 1)[0].strip()
        subjects = await asyncio.to_thread(
            out, "log", "--format=%s", f"{main}..{head}", git_dir=b.shadow
        )
        message = f"Merge branch '{b.branch}'\n\n" + "\n".join(
            f"* {s}" for s in subjects.splitlines()[:50]
        )
        ident = await asyncio.to_thread(_identity, b.info.root)
        return await asyncio.to_thread(
            out,
            "commit-tree",
            "--no-gpg-sign",
            tree,
            "-p",
            main,
            "-p",
            head,
            "-m",
            message,
            git_dir=b.shadow,
            env=ident,
        )

    async def _conflict_result(
        self, b: Binding, main: str, fr: in_sandbox.FollowResult, op: str
    ) -> SyncResult:
        if not fr.in_progress:
            return SyncResult(
                "error",
                f"git {op} onto {b.main} failed in the sandbox, {b.main} was not changed:\n"
                + fr.output,
            )
        b.state.conflict = {"main": main, "files": list(fr.conflicts), "op": op}
        await asyncio.to_thread(wt.save_state, b.shadow, b.state)
        self._changed(b.workspace)
        cont = "git rebase --continue" if op == "rebase" else "git commit"
        return SyncResult(
            "conflict",
            f"{b.main} moved since {b.branch} forked, and the {op} onto it conflicts in "
            f"{len(fr.conflicts)} file(s): {_listing(fr.conflicts, 50)}. {b.main} was not "
            f"changed. The {op} is left in progress in /workspace: resolve the conflict "
            f"markers, `git add` each file, run `{cont}`, then call sync_to_main again.",
            conflicts=fr.conflicts,
            main_before=main,
        )

    async def _review(self, b: Binding, main: str, candidate: str) -> review.Verdict:
        conf = self.conf(b.workspace)
        account_name = conf.review_account or self.account_name(b.workspace)
        account = self.config.accounts.get(account_name or "")
        if account is None or account_name is None:
            return review.Verdict(False, ("no model account for the deputy review",))
        prompt = await asyncio.to_thread(_review_prompt, b, main, candidate, conf.conventions)
        provider = self.provider_for(account_name)
        verdict = await review.review(
            provider,
            account.model,
            prompt,
            timeout=conf.review_timeout,
            max_tokens=min(account.max_tokens, 2048),
        )
        if self.record_usage is not None and (
            verdict.usage.input_tokens or verdict.usage.output_tokens
        ):
            await self.record_usage(b.workspace, account_name, verdict.usage)
        return verdict

    # -- main moved: the others follow -----------------------------------------------------

    async def _follow_others(self, source: Binding, new_main: str) -> None:
        for name, other in list(self.bindings.items()):
            if name == source.workspace or other.info.root != source.info.root:
                continue
            if other.info.main != source.info.main:
                continue
            try:
                await self._follow_one(other, new_main, source.workspace)
            except Exception as exc:
                log.warning("%s could not follow main", name, exc_info=True)
                await self.post_system(
                    name, f"{source.main} moved, but {name} could not follow it: {exc}"
                )

    async def _follow_one(self, b: Binding, new_main: str, source: str) -> None:
        ws = b.workspace
        async with self._lock(self._op_locks, ws):
            if wt.operation_in_progress(b.work) is not None:
                return  # a conflict is already waiting for the agent; it was told once
            await asyncio.to_thread(wt.fetch_main, b.shadow, b.info)
            snap = await self.diff(ws, force=True)
            assert snap is not None
            head = snap.head
            if head is not None and await asyncio.to_thread(
                wt.is_ancestor, b.shadow, new_main, head
            ):
                return
            if snap.uncommitted:
                if self._followed.get(ws) != new_main:
                    self._followed[ws] = new_main
                    await self.post_system(
                        ws,
                        f"{b.main} moved ({source} synced), but {b.branch} has uncommitted "
                        f"changes ({_listing(snap.uncommitted)}), so it was not rebased. "
                        "Commit them, then sync_to_main rebases onto the new main.",
                    )
                return
            was_running = self.sandboxes.sandbox(ws) is not None
            await self._deliver(b, new_main)
            own = head is not None and not await asyncio.to_thread(
                wt.is_ancestor, b.shadow, head, new_main
            )
            policy = (self.conf(ws).sync if own else "ff") if head is not None else "ff"
            fr = await in_sandbox.follow(self._runner(ws), policy, b.main)
            self._changed(ws)
            if fr.ok:
                self._followed[ws] = new_main
                b.state.conflict = None
                await asyncio.to_thread(wt.save_state, b.shadow, b.state)
                verb = (
                    "rebased onto"
                    if policy == "rebase"
                    else "merged with"
                    if policy == "merge"
                    else "fast-forwarded to"
                )
                await self.post_system(
                    ws, f"{b.main} moved ({source} synced); {b.branch} was {verb} it."
                )
                if not was_running and not self.is_busy(ws):
                    await self.sandboxes.hibernate(ws)
                return
            if not fr.in_progress:
                await self.post_system(
                    ws, f"{b.main} moved ({source} synced), but following it failed: {fr.output}"
                )
                return
            op = "rebase" if policy == "rebase" else "merge"
            b.state.conflict = {"main": new_main, "files": list(fr.conflicts), "op": op}
            await asyncio.to_thread(wt.save_state, b.shadow, b.state)
            await self._wake(b, new_main, snap.base, fr.conflicts, op, source)

    async def _wake(
        self,
        b: Binding,
        new_main: str,
        old_base: str,
        conflicts: tuple[str, ...],
        op: str,
        source: str,
    ) -> None:
        """Tell the agent (waking it when it hibernates): once per conflicting main."""
        ws = b.workspace
        if new_main in b.state.woken:
            return
        b.state.woken = [*b.state.woken[-19:], new_main]
        await asyncio.to_thread(wt.save_state, b.shadow, b.state)
        log_text = await asyncio.to_thread(
            git,
            "log",
            "--format=%h %s",
            "-n",
            "20",
            f"{old_base}..{new_main}",
            git_dir=b.shadow,
            check=False,
        )
        commits = [line for line in log_text.out.splitlines() if line.strip()]
        files = _listing(conflicts, 50)
        cont = "git rebase --continue" if op == "rebase" else "git commit"
        first = (
            f"Automatic {op} of {b.branch} onto {b.main} failed. {source} synced, so {b.main} "
            f"moved {old_base[:8]}..{new_main[:8]}"
            + (":\n" + "\n".join(f"  {c}" for c in commits) if commits else ".")
            + f"\nThese files conflict: {files}. The {op} is left in progress in /workspace, "
            "with conflict markers in those files."
        )
        second = (
            f"Please fix the failed {op}: resolve the conflicts in {files}, `git add` each "
            f"resolved file, then run `{cont}`"
            + (" (repeat until the rebase finishes)" if op == "rebase" else "")
            + ". When `git status` is clean, call sync_to_main."
        )
        key = f"git-conflict:{ws}:{new_main}"
        await self.submit_many(ws, [("system", first, f"{key}:1"), ("user", second, f"{key}:2")])

    # -- idle notices ---------------------------------------------------------------------

    async def _idle_loop(self) -> None:
        with self.bus.subscribe(TurnFinished) as sub:
            async for event in sub:
                name = getattr(event, "workspace", None)
                if isinstance(event, TurnFinished) and name in self.bindings:
                    self._spawn(self._idle_check(name), f"git-idle-{name}")

    async def _idle_check(self, workspace: str) -> None:
        for _ in range(100):  # the turn's task ends just after it publishes TurnFinished
            if not self.is_busy(workspace):
                break
            await asyncio.sleep(0.05)
        else:
            return  # another turn runs; its own end checks again
        b = self.bindings.get(workspace)
        if b is None:
            return
        snap = await self.diff(workspace, force=True)
        if snap is None:
            return
        text = idle_notice(snap, b.main)
        key = (
            None
            if text is None
            else f"{snap.head}|{snap.uncommitted}|{snap.ahead}|{snap.operation}"
        )
        if key == b.state.notice_key:
            return
        b.state.notice_key = key
        await asyncio.to_thread(wt.save_state, b.shadow, b.state)
        if text is not None:
            await self.post_system(workspace, text)


class _PromptHook:
    def __init__(self, ops: GitOps) -> None:
        self.ops = ops

    def prompt_submit(self, workspace: str, system: str) -> str:
        b = self.ops.bindings.get(workspace)
        if b is None:
            return system
        policy = "rebased onto" if self.ops.conf(workspace).sync == "rebase" else "merged into"
        review_note = (
            " A deputy reviewer reads the diff first and may reject it; then fix what it says."
            if self.ops.conf(workspace).deputy_review
            else ""
        )
        return system + (
            f"\n\nThe workspace is a git clone of the person's repository on branch "
            f"{b.branch} (forked from {b.main}; `origin/{b.main}` is main as you last got "
            "it). Commit your work with git as you go. The tool sync_to_main puts your "
            f"commits on {b.main}: your branch is {policy} main and main is fast-forwarded. "
            f"Commit before you sync; there is no network, so never push.{review_note}"
        )


def idle_notice(snap: gdiff.DiffSnapshot, main: str) -> str | None:
    parts = []
    if snap.operation:
        where = f" with conflicts in {_listing(snap.conflicts)}" if snap.conflicts else ""
        parts.append(f"a {snap.operation} is in progress{where}")
    if snap.uncommitted:
        parts.append(
            f"{len(snap.uncommitted)} file(s) with uncommitted changes "
            f"({_listing(snap.uncommitted, 5)})"
        )
    if snap.ahead:
        parts.append(f"{snap.ahead} commit(s) not on {main} yet")
    if not parts:
        return None
    return (
        f"Not on {main} yet — {snap.branch} has " + "; ".join(parts) + ". Commit, then sync "
        "with the sync_to_main tool or the palette (Sync to main)."
    )


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("git task %s failed", task.get_name(), exc_info=task.exception())


def _watch_filter(work: Path) -> Callable[[Any, str], bool]:
    git_dir = str(work / ".git")
    keep_in_git = ("HEAD", "refs", "packed-refs", "MERGE_HEAD", "rebase-merge", "rebase-apply")
    spill = str(work / ".pynchy")

    def keep(_change: Any, path: str) -> bool:
        if path.startswith(spill + "/") or path == spill:
            return False
        if path.startswith(git_dir + "/"):
            rest = path[len(git_dir) + 1 :]
            return rest.split("/", 1)[0] in keep_in_git and not rest.endswith(".lock")
        return path != git_dir

    return keep


def _bundle(shadow: Path, have: str | None) -> bytes:
    args = ["bundle", "create", "--quiet", "-", "refs/pynchy/deliver"]
    if have:
        args.append(f"^{have}")
    data = git(*args, git_dir=shadow, binary=True).raw
    return data or b""


def _identity(repo: Path) -> dict[str, str]:
    """Who a merge commit on main is by: the person's git identity, else pynchy."""
    name = git("config", "user.name", cwd=repo, check=False).out.strip() or "pynchy"
    email = git("config", "user.email", cwd=repo, check=False).out.strip() or "pynchy@localhost"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _checkout_of(repo: Path, branch: str) -> Path | None:
    """The working tree of the person's repository that has `branch` checked out, if any."""
    text = git("worktree", "list", "--porcelain", cwd=repo, check=False).out
    path: Path | None = None
    for line in text.splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line == f"branch refs/heads/{branch}" and path is not None:
            return path
        elif line == "bare":
            path = None
    return None


def _publish_main(b: Binding, old: str, new: str) -> None:
    """Move the person's main from `old` to `new` (a descendant of it): the one write pynchy
    makes to the person's repository. If main moved meanwhile, nothing is changed."""
    root = b.info.root
    git(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        str(b.shadow),
        "refs/pynchy/candidate",
        cwd=root,
    )
    checkout = _checkout_of(root, b.main)
    if checkout is None:
        git(
            "update-ref",
            "-m",
            f"pynchy: sync {b.branch}",
            f"refs/heads/{b.main}",
            new,
            old,
            cwd=root,
        )
        return
    current = out("rev-parse", f"refs/heads/{b.main}", cwd=checkout)
    if current != old:
        raise GitError(["rev-parse", b.main], 1, f"{b.main} moved meanwhile; sync again")
    git("merge", "--ff-only", "--quiet", new, cwd=checkout)


def _review_prompt(b: Binding, main: str, candidate: str, conventions: list[str]) -> str:
    names = out("diff", "--name-only", "--no-renames", main, candidate, git_dir=b.shadow)
    patches = []
    for path in names.splitlines():
        text = git(
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            main,
            candidate,
            "--",
            path,
            git_dir=b.shadow,
        ).out
        patches.append((path, text))
    diff_text, cut = review.cap_diff(patches)
    commits = out("log", "--format=%h %s%n%b", f"{main}..{candidate}", git_dir=b.shadow)
    wanted = conventions or list(review.DEFAULT_CONVENTIONS)
    found: dict[str, str] = {}
    used = 0
    for path in wanted:
        r = git("show", f"{main}:{path}", git_dir=b.shadow, check=False)
        if r.code == 0 and used < review.MAX_CONVENTIONS_BYTES:
            text = r.out[: review.MAX_CONVENTIONS_BYTES - used]
            found[path] = text
            used += len(text)
    return review.build_prompt(
        workspace=b.workspace,
        branch=b.branch,
        main=b.main,
        commits=[c for c in commits.splitlines() if c.strip()],
        diff_text=diff_text,
        cut=cut,
        conventions=found,
    )

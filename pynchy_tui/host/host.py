"""The Host: wires config, state, bus, providers, sandboxes and the agent loop.

It has no UI. `pynchy` runs it as a worker of the Textual app; `pynchy serve` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from pynchy_tui.agents.loop import AgentLoop, TurnFailed
from pynchy_tui.agents.tools import BUILTIN_TOOLS
from pynchy_tui.bus import Bus
from pynchy_tui.config import DELETE, Config, Paths, update_config
from pynchy_tui.config.models import NAME_PATTERN, AccountConfig, WorkspaceConfig
from pynchy_tui.config.save import rename_table
from pynchy_tui.events import (
    ApprovalDecided,
    HostStateChanged,
    MessageReceived,
    MessageSent,
    Notice,
    TurnFinished,
    TurnStarted,
    WorkspaceChanged,
)
from pynchy_tui.gitops.manager import GitOps, SyncResult
from pynchy_tui.gitops.tools import git_tools
from pynchy_tui.gitops.worktree import WorktreeError
from pynchy_tui.host.errors import HostError
from pynchy_tui.host.history import HistoryItem
from pynchy_tui.host.history import page as history_page
from pynchy_tui.plugins.registry import Plugins, load_plugins
from pynchy_tui.providers.accounts import build_provider, missing_key
from pynchy_tui.providers.base import Provider, ToolCall
from pynchy_tui.providers.pricing import price_for
from pynchy_tui.runtime.manager import SandboxManager
from pynchy_tui.security.approvals import ApprovalBroker, Decided
from pynchy_tui.security.policy import ToolCallInfo, rule_matches
from pynchy_tui.state import approvals as approvals_table
from pynchy_tui.state import audit as audit_table
from pynchy_tui.state import messages, transcript, turns, workspaces
from pynchy_tui.state import rules as rules_table
from pynchy_tui.state.db import Store, transaction
from pynchy_tui.state.workspaces import WorkspaceRow

log = logging.getLogger(__name__)


class Host:
    def __init__(
        self,
        config: Config,
        paths: Paths,
        *,
        bus: Bus | None = None,
        plugins: Plugins | None = None,
        scope: str | None = None,
    ) -> None:
        self.config = config
        self.paths = paths
        # A host scoped to one workspace (an in-process `pynchy send`) runs turns only there
        # and starts no channels: other workspaces' committed messages and decided approvals
        # wait in SQLite for the next full host.
        self.scope = scope
        self.bus = bus or Bus()
        self.plugins = plugins or load_plugins()
        self.store: Store | None = None
        self.state = "stopped"
        self._ws: dict[str, WorkspaceRow] = {}
        self._providers: dict[str, Provider] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._current_turn: dict[str, int] = {}
        self._sem = asyncio.Semaphore(config.limits.max_concurrent_agents)
        self.sandboxes: SandboxManager | None = None
        self.loop: AgentLoop | None = None
        self.approvals: ApprovalBroker | None = None
        self._resumes: dict[str, list[dict[str, Any]]] = {}
        self._requeue: list[str] = []
        self._rekick: set[str] = set()
        self._ready = asyncio.Event()
        self.channels: Any = None  # ChannelManager (channels/manager.py), once started
        self.git = GitOps(  # workspaces bound to git repositories (docs/git.md)
            config=config,
            data_dir=paths.data_dir,
            config_dir=paths.config_dir,
            bus=self.bus,
            sandboxes=lambda: self.sandboxes,
            provider_for=self._provider,
            account_name=self.account_name,
            post_system=self._post_system,
            submit_many=self.submit_many,
            is_busy=self.is_busy,
            audit=self._audit_host,
            record_usage=self._review_usage,
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self.state != "stopped":
            raise HostError(f"the host is already {self.state}")
        self._set_state("starting")
        self.paths.ensure()
        self.store = await asyncio.to_thread(Store, self.paths.db_path)
        self.plugins.collect_all()
        for name, reason in self.plugins.failures:
            self.bus.publish(Notice("warning", f"plugin {name} was skipped: {reason}"))
        for name, account in self.config.accounts.items():
            problem = missing_key(account)
            if problem is not None:  # a warning: the variable may be set before it is used
                self.bus.publish(
                    Notice("warning", f"account {name}: {problem}; its model calls will fail")
                )
        for observer in self.plugins.observers():
            self.bus.add_observer(observer)
        self.approvals = ApprovalBroker(self.store, self.bus)
        self.approvals.on_orphan_decided = self._resume_parked
        self.sandboxes = SandboxManager(
            self.config,
            self.store,
            self.bus,
            self.plugins.runtimes(),
            self.workspace_dir,
            lambda name: self._ws[name].id if name in self._ws else None,
            paths=self.paths,
        )
        self.loop = AgentLoop(
            config=self.config,
            store=self.store,
            bus=self.bus,
            sandboxes=self.sandboxes,
            provider_for=self._provider,
            tools=BUILTIN_TOOLS + git_tools(self.git.is_bound) + self.plugins.tools(),
            post_message=self._post_message,
            workspace_dir=self.workspace_dir,
            hooks=[self.git.prompt_hook, *self.plugins.agent_hooks()],
            broker=self.approvals,
            actions={
                "create_workspace": self.create_workspace,
                "sync_to_main": lambda ws: self.git.sync(ws, by="agent"),
            },
        )
        for name, ws in self.config.workspaces.items():
            await self.store.call(workspaces.ensure, name, ws.account)
        for row in await self.store.call(workspaces.list_all):
            self._ws[row.name] = row
            self.workspace_dir(row.name).mkdir(parents=True, exist_ok=True)
        await self.git.start(list(self._ws))  # clones of bound workspaces, diff watchers
        await self.sandboxes.start()  # adopt or remove sandboxes an earlier run left; stats
        await self._recover()
        await self.approvals.adopt_pending()
        for row in await self.store.call(_decided_while_down):
            await self._resume_parked(row)
        self._set_state("ready")
        self._ready.set()
        for name in self._requeue:  # committed messages no turn consumed before the crash
            self._kick(name)
        if self.config.channels and self.scope is None:  # chat bridges (docs/channels.md)
            from pynchy_tui.channels.manager import ChannelManager

            self.channels = ChannelManager(self)
            await self.channels.start()

    async def _recover(self) -> None:
        """Mark turns a crash interrupted and re-queue inbound messages no turn consumed."""
        assert self.store is not None
        interrupted = await self.store.call(_mark_interrupted)
        by_id = {w.id: w for w in self._ws.values()}
        for turn in interrupted:
            ws = by_id.get(turn.workspace_id)
            if ws is None:
                continue
            text = (
                "Your previous turn was interrupted because pynchy stopped unexpectedly. "
                "Its work so far is kept; send a message to continue."
            )
            await self._post_message(ws, text, turn.id, role="system")
            self.bus.publish(TurnFinished(ws.name, turn.id, "interrupted", error="host stopped"))
        self._requeue = sorted(
            {
                by_id[r.workspace_id].name
                for r in await self.store.call(messages.pending)
                if r.workspace_id in by_id
            }
        )

    async def stop(self) -> None:
        if self.state in ("stopping", "stopped"):
            return
        self._set_state("stopping")
        if self.channels is not None:
            await self.channels.stop()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.git.stop()
        if self.approvals is not None:
            await self.approvals.close()
        if self.sandboxes is not None:
            await self.sandboxes.stop_all()
        for p in self._providers.values():
            with contextlib.suppress(Exception):
                await p.close()
        self._providers.clear()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            self.store = None
        self._set_state("stopped")

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self.bus.publish(HostStateChanged(state, detail))

    async def wait_ready(self) -> None:
        await self._ready.wait()

    # -- workspaces ---------------------------------------------------------------------

    def workspace_dir(self, name: str) -> Path:
        """The host directory mounted at /workspace: for a workspace bound to a repository,
        its clone (docs/git.md)."""
        if self.git.is_bound(name):
            return self.git.work_dir(name)
        return self.paths.workspaces_dir / name

    def list_workspaces(self) -> list[WorkspaceRow]:
        return sorted(self._ws.values(), key=lambda w: w.name)

    def get_workspace(self, name: str) -> WorkspaceRow:
        try:
            return self._ws[name]
        except KeyError:
            known = ", ".join(sorted(self._ws)) or "none yet"
            raise HostError(f"no workspace named {name!r} (known: {known})") from None

    def account_name(self, workspace: str) -> str | None:
        row = self._ws.get(workspace)
        conf = self.config.workspaces.get(workspace)
        return (
            (conf.account if conf and conf.account else None)
            or (row.account if row else None)
            or self.config.default_account()
        )

    async def create_workspace(self, name: str, account: str | None = None) -> WorkspaceRow:
        import re

        assert self.store is not None
        if not re.match(NAME_PATTERN, name):
            raise HostError(f"{name!r} is not a valid workspace name (letters, digits, - _ .)")
        if name in self._ws:
            raise HostError(f"workspace {name!r} already exists")
        if account is not None and account not in self.config.accounts:
            raise HostError(f"no account named {account!r}")
        row = await self.store.call(workspaces.create, name, account)
        self._ws[name] = row
        self.workspace_dir(name).mkdir(parents=True, exist_ok=True)
        self.bus.publish(WorkspaceChanged(name, "created"))
        return row

    async def rename_workspace(self, old: str, new: str) -> None:
        import re

        assert self.store is not None and self.sandboxes is not None
        row = self.get_workspace(old)
        if not re.match(NAME_PATTERN, new):
            raise HostError(f"{new!r} is not a valid workspace name")
        if new in self._ws:
            raise HostError(f"workspace {new!r} already exists")
        if old in self._tasks:
            raise HostError(f"workspace {old!r} is busy; stop its turn first")
        await self.sandboxes.hibernate(old)
        bound = self.git.is_bound(old)
        src = self.workspace_dir(old)
        await self.store.call(workspaces.rename, old, new)
        if old in self.config.workspaces:
            await asyncio.to_thread(rename_table, self.paths.config_file, "workspaces", old, new)
            self.config.workspaces[new] = self.config.workspaces.pop(old)
        if bound:
            await self.git.rename(old, new)
        elif src.exists():
            await asyncio.to_thread(src.rename, self.workspace_dir(new))
        self._ws[new] = WorkspaceRow(row.id, new, row.account, row.created_at)
        del self._ws[old]
        self.bus.publish(WorkspaceChanged(new, "renamed", old_name=old))

    async def delete_workspace(self, name: str) -> Path | None:
        """Delete a workspace; its files move to data/trash (returned), never silently lost."""
        assert self.store is not None and self.sandboxes is not None
        self.get_workspace(name)
        await self.cancel_turn(name)
        await self.sandboxes.hibernate(name)
        src = self.workspace_dir(name)
        await self.store.call(workspaces.delete, name)
        if name in self.config.workspaces:
            await asyncio.to_thread(
                update_config, self.paths.config_file, {("workspaces", name): DELETE}
            )
            self.config.workspaces.pop(name, None)
        del self._ws[name]
        trash = None
        if src.exists():
            trash = self.paths.data_dir / "trash" / f"{name}-{int(time.time())}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(shutil.move, str(src), str(trash))
        await self.git.forget(name, trash)
        self.bus.publish(WorkspaceChanged(name, "deleted"))
        return trash

    async def set_workspace_account(self, workspace: str, account: str) -> None:
        """Point a workspace at another account, in memory and in config.toml."""
        self.get_workspace(workspace)
        if account not in self.config.accounts:
            known = ", ".join(self.config.accounts) or "none"
            raise HostError(f"no account named {account!r} (known: {known})")
        await asyncio.to_thread(
            update_config, self.paths.config_file, {("workspaces", workspace, "account"): account}
        )
        conf = self.config.workspaces.get(workspace)
        if conf is None:
            self.config.workspaces[workspace] = WorkspaceConfig(account=account)
        else:
            conf.account = account
        self.bus.publish(WorkspaceChanged(workspace, "updated"))

    async def set_account_model(self, account: str, model: str) -> None:
        if account not in self.config.accounts:
            raise HostError(f"no account named {account!r}")
        await asyncio.to_thread(
            update_config, self.paths.config_file, {("accounts", account, "model"): model}
        )
        self.config.accounts[account].model = model
        for name in self._ws:
            if self.account_name(name) == account:
                self.bus.publish(WorkspaceChanged(name, "updated"))

    async def add_account(self, name: str, account: AccountConfig, *, persist: bool = True) -> None:
        """Add (or replace) an account; `persist=False` keeps it in memory (the demo)."""
        if persist:
            data = account.non_defaults()
            data["provider"], data["model"] = account.provider, account.model
            await asyncio.to_thread(
                update_config, self.paths.config_file, {("accounts", name): data}
            )
        self.config.accounts[name] = account
        old = self._providers.pop(name, None)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()

    async def clear_workspace(self, name: str) -> None:
        """Start a fresh conversation: the model forgets, the chat history stays."""
        assert self.store is not None
        row = self.get_workspace(name)
        await self.store.call(transcript.clear, row.id)
        if self.loop is not None:
            self.loop.taints.pop(name, None)
        await self._post_message(
            row, "Conversation cleared: the agent starts fresh.", None, role="system"
        )

    # -- messages and turns -------------------------------------------------------------

    async def submit(
        self,
        workspace: str,
        text: str,
        *,
        source: str = "tui",
        chat: str | None = None,
        sender: str | None = None,
        trusted: bool = True,
        external_id: str | None = None,
    ) -> messages.MessageRow:
        """Commit the message, then act on it. A duplicate external id is not acted on twice."""
        assert self.store is not None
        if self.state != "ready":
            raise HostError(f"the host is {self.state}")
        row = self.get_workspace(workspace)
        if not text.strip():
            raise HostError("empty message")
        msg, created = await self.store.call(
            messages.add_inbound,
            row.id,
            text,
            source=source,
            chat=chat,
            sender=sender,
            trusted=trusted,
            external_id=external_id,
        )
        if created:
            self.bus.publish(
                MessageReceived(workspace, msg.id, msg.role, text, source, sender, trusted)
            )
            self._kick(workspace)
        return msg

    async def submit_many(
        self, workspace: str, items: list[tuple[str, str, str]], *, source: str = "pynchy"
    ) -> None:
        """Commit several host-made inbound messages (role, text, external id) in one
        transaction, then act on them once: one turn sees them all. Ids already stored are
        skipped, so a repeated notice is never acted on twice."""
        assert self.store is not None
        row = self.get_workspace(workspace)
        created = await self.store.call(_add_many, row.id, items, source)
        for msg in created:
            self.bus.publish(
                MessageReceived(workspace, msg.id, msg.role, msg.text, source, "pynchy", True)
            )
        if created:
            self._kick(workspace)

    async def sync_to_main(self, workspace: str, *, review: bool = True) -> SyncResult:
        """The person syncs a workspace's branch to main (TUI); see docs/git.md."""
        self.get_workspace(workspace)
        return await self.git.sync(workspace, by="person", review_=review)

    async def bind_repo(self, workspace: str, repo: str) -> None:
        """Bind a workspace to a git repository: `repo` in config.toml, a clone on branch
        pynchy/NAME as its workspace directory (docs/git.md)."""
        self.get_workspace(workspace)
        if workspace in self._tasks:
            raise HostError(f"workspace {workspace!r} is busy; stop its turn first")

        async def persist(name: str, path: str) -> None:
            await asyncio.to_thread(
                update_config, self.paths.config_file, {("workspaces", name, "repo"): path}
            )
            conf = self.config.workspaces.get(name)
            if conf is None:
                self.config.workspaces[name] = WorkspaceConfig(repo=path)
            else:
                conf.repo = path

        try:
            await self.git.bind(workspace, repo, persist)
        except WorktreeError as exc:
            raise HostError(str(exc)) from None
        self.bus.publish(WorkspaceChanged(workspace, "updated"))

    async def _post_system(self, workspace: str, text: str) -> None:
        row = self._ws.get(workspace)
        if row is not None and self.store is not None:
            await self._post_message(row, text, None, role="system")

    async def _audit_host(
        self, workspace: str, tool: str, args: dict[str, Any], decision: str, **kw: Any
    ) -> None:
        row = self._ws.get(workspace)
        if self.store is not None:
            kw.setdefault("turn_id", self._current_turn.get(workspace))
            await self.store.call(
                audit_table.record, row.id if row else None, tool, args, decision, **kw
            )

    async def _review_usage(self, workspace: str, account_name: str, usage: Any) -> None:
        """The deputy reviewer's tokens and cost count like a turn's: added to the running
        turn that asked for the sync, else recorded as a turn of its own (budget, totals)."""
        row = self._ws.get(workspace)
        account = self.config.accounts.get(account_name)
        if row is None or account is None or self.store is None:
            return
        cost = price_for(account.model, self.config.pricing).cost(
            usage.input_tokens, usage.output_tokens
        )
        turn_id = self._current_turn.get(workspace)
        await self.store.call(
            _add_review_usage, row.id, turn_id, account_name, account.model, usage, cost
        )

    def is_busy(self, workspace: str) -> bool:
        return workspace in self._tasks

    def current_turn(self, workspace: str) -> int | None:
        return self._current_turn.get(workspace)

    async def cancel_turn(self, workspace: str) -> bool:
        task = self._tasks.get(workspace)
        if task is None:
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return True

    def _kick(self, workspace: str) -> None:
        if self.state not in ("ready", "starting"):
            return
        if self.scope is not None and workspace != self.scope:
            return
        if workspace in self._tasks:
            # The running drain may already have looked for pending messages and be on its
            # way out: make sure it looks again (no lost wake-up).
            self._rekick.add(workspace)
            return
        task = asyncio.create_task(self._drain(workspace), name=f"workspace-{workspace}")
        self._tasks[workspace] = task
        task.add_done_callback(lambda _t, w=workspace: self._drained(w))

    def _drained(self, workspace: str) -> None:
        self._tasks.pop(workspace, None)
        if workspace in self._rekick:
            self._rekick.discard(workspace)
            self._kick(workspace)

    async def _drain(self, workspace: str) -> None:
        """Run turns for this workspace while committed messages wait; one at a time."""
        assert self.store is not None
        await self._ready.wait()  # kicked during start-up: begin once the host is ready
        async with self._sem:
            while self.state == "ready" and workspace in self._ws:
                row = self._ws[workspace]
                resumes = self._resumes.get(workspace)
                if resumes:
                    await self._turn(row, resume=resumes.pop(0))
                    continue
                if not await self.store.call(messages.pending, row.id):
                    return
                await self._turn(row)

    async def _resume_parked(self, approval: dict[str, Any]) -> None:
        """An approval decided after its turn died (restart): continue that conversation."""
        name = approval["workspace"]
        if name not in self._ws:
            return
        self._resumes.setdefault(name, []).append(approval)
        self._kick(name)

    async def decide_approval(
        self, approval_id: str, approved: bool, *, by: str, via: str, reason: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        assert self.approvals is not None
        return await self.approvals.decide(approval_id, approved, by=by, via=via, reason=reason)

    async def add_rule(self, workspace: str, tool: str, pattern: str, by: str) -> int:
        """Save an "always allow" rule for this workspace."""
        assert self.store is not None
        return await self.store.call(rules_table.add, workspace, tool, pattern, by)

    async def rule_preview(self, workspace: str, tool: str, pattern: str) -> int:
        """How many earlier calls in the audit log the rule would have matched."""
        assert self.store is not None
        row = self.get_workspace(workspace)
        rows = await self.store.call(audit_table.query, row.id, None, 100_000)
        seen = set()
        for r in rows:
            if r["actor"] != "policy" or r["tool"] != tool:
                continue
            call = ToolCallInfo(tool, json.loads(r["args"]))
            if rule_matches(tool, pattern, call):
                seen.add((r["turn_id"], r["args"]))
        return len(seen)

    async def audit_rows(
        self, workspace: str | None = None, decision: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        assert self.store is not None
        ws_id = self.get_workspace(workspace).id if workspace else None
        rows = await self.store.call(audit_table.query, ws_id, decision, limit)
        names = {w.id: w.name for w in self._ws.values()}
        for r in rows:
            r["workspace"] = names.get(r["workspace_id"], "?")
            r["args"] = json.loads(r["args"])
        return rows

    async def pending_approvals(self) -> list[dict[str, Any]]:
        assert self.store is not None
        return await self.store.call(approvals_table.pending)

    async def _turn(self, row: WorkspaceRow, resume: dict[str, Any] | None = None) -> None:
        assert self.store is not None and self.loop is not None
        account_name = self.account_name(row.name)
        account = self.config.accounts.get(account_name) if account_name else None
        turn_id = await self.store.call(
            turns.start, row.id, account_name, account.model if account else None
        )
        self._current_turn[row.name] = turn_id
        newest = await self.store.call(_newest_pending, row.id)
        self.bus.publish(
            TurnStarted(row.name, turn_id, account_name or "", account.model if account else "")
        )
        status, error, final = "failed", None, ""
        try:
            if account is None:
                raise TurnFailed(
                    "no model account is configured for this workspace: add an [accounts.NAME] "
                    "table to config.toml (see docs/configuration.md) or run onboarding"
                )
            parked = None
            if resume is not None:
                call = ToolCall(resume["call_id"], resume["tool"], resume["args"])
                parked = (
                    call,
                    Decided(
                        resume["status"] == "approved",
                        resume["decided_by"] or "?",
                        resume["decided_via"] or "?",
                        resume["decision_reason"],
                        resume["status"],
                    ),
                )
            else:
                await self._expire_parked(row)
            outcome = await self.loop.run_turn(
                row, turn_id, account_name or "", account, resume=parked
            )
            status, error, final = outcome.status, outcome.error, outcome.final_text
        except TurnFailed as exc:
            error = str(exc)
        except asyncio.CancelledError:
            if self.state == "ready":
                status, error = "cancelled", "cancelled by the person"
            else:
                status, error = "interrupted", "pynchy stopped during this turn"
            await self._finish(row, turn_id, status, error, "")
            raise
        except Exception as exc:  # a bug must end the turn, never the host
            log.exception("turn %s of %s crashed", turn_id, row.name)
            error = f"internal error: {exc!r}"
        if status == "failed":
            # What this turn was for must not be retried forever as pending.
            await self.store.call(_consume_upto, row.id, turn_id, newest)
        await self._finish(row, turn_id, status, error, final)

    async def _expire_parked(self, row: WorkspaceRow) -> None:
        """A new turn moves the conversation on: approvals left from a dead turn expire."""
        assert self.store is not None and self.approvals is not None
        for a in await self.store.call(approvals_table.pending):
            if a["workspace"] != row.name or self.approvals.is_awaited(a["id"]):
                continue
            if await self.store.call(approvals_table.expire, a["id"], "the conversation moved on"):
                self.bus.publish(ApprovalDecided(row.name, a["id"], False, "pynchy", "expired"))

    async def _finish(
        self, row: WorkspaceRow, turn_id: int, status: str, error: str | None, final: str
    ) -> None:
        assert self.store is not None
        self._current_turn.pop(row.name, None)
        if final:
            await self._post_message(row, final, turn_id)
        elif error:
            await self._post_message(
                row,
                error if status != "failed" else f"The turn failed: {error}",
                turn_id,
                role="system",
            )
        await self.store.call(turns.finish, turn_id, status, error)
        for hook in self.plugins.agent_hooks():
            if hasattr(hook, "turn_end"):
                try:
                    hook.turn_end(row.name, status)
                except Exception:
                    log.exception("turn_end hook failed")
        t = await self.store.call(turns.get, turn_id)
        self.bus.publish(
            TurnFinished(
                row.name,
                turn_id,
                status,
                t.input_tokens if t else 0,
                t.output_tokens if t else 0,
                t.cost_usd if t else 0.0,
                error,
            )
        )

    async def _post_message(
        self, row: WorkspaceRow, text: str, turn_id: int | None, role: str = "assistant"
    ) -> None:
        assert self.store is not None
        msg = await self.store.call(messages.add_outbound, row.id, text, role=role, turn_id=turn_id)
        self.bus.publish(MessageSent(row.name, msg.id, role, text, turn_id))

    # -- providers ----------------------------------------------------------------------

    def _provider(self, account_name: str) -> Provider:
        if account_name not in self._providers:
            account = self.config.accounts[account_name]
            self._providers[account_name] = build_provider(account, self.plugins.providers())
        return self._providers[account_name]

    async def history(
        self, workspace: str, limit: int = 100, before_id: int | None = None
    ) -> tuple[list[HistoryItem], bool]:
        assert self.store is not None
        row = self.get_workspace(workspace)
        return await self.store.call(history_page, row.id, limit, before_id)

    async def today_usage(self) -> tuple[int, int, float]:
        """Tokens in, tokens out and cost of all turns since local midnight."""
        assert self.store is not None
        midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return await self.store.call(turns.totals_since, midnight.timestamp())

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "workspaces": [w.name for w in self.list_workspaces()],
            "busy": sorted(self._tasks),
        }


def _mark_interrupted(conn: Any) -> list[turns.TurnRow]:
    with transaction(conn):
        rows = turns.running(conn)
        for t in rows:
            turns.finish(conn, t.id, "interrupted", "pynchy stopped during this turn")
    return rows


def _decided_while_down(conn: Any) -> list[dict[str, Any]]:
    """Approvals decided (e.g. by `pynchy approvals`) while no host ran, whose tool call has
    no result yet: their turns resume."""
    rows = conn.execute(
        "SELECT a.id FROM approvals a JOIN turns t ON t.id = a.turn_id"
        " WHERE a.status IN ('approved', 'denied') AND t.status = 'interrupted'"
        " AND NOT EXISTS (SELECT 1 FROM transcript_items i"
        " WHERE i.workspace_id = a.workspace_id AND i.kind = 'tool_result'"
        " AND json_extract(i.data, '$.id') = a.call_id)"
    ).fetchall()
    return [approvals_table.get(conn, r[0]) for r in rows]


def _add_review_usage(
    conn: Any,
    ws_id: int,
    turn_id: int | None,
    account: str,
    model: str,
    usage: Any,
    cost: float,
) -> None:
    with transaction(conn):
        if turn_id is None:
            turn_id = turns.start(conn, ws_id, account, model)
            turns.finish(conn, turn_id, "done", "deputy review")
        turns.add_usage(conn, turn_id, usage.input_tokens, usage.output_tokens, cost)


def _add_many(
    conn: Any, ws_id: int, items: list[tuple[str, str, str]], source: str
) -> list[messages.MessageRow]:
    created = []
    with transaction(conn):
        for role, text, external_id in items:
            msg, new = messages.add_inbound(
                conn,
                ws_id,
                text,
                source=source,
                sender="pynchy",
                role=role,
                external_id=external_id,
            )
            if new:
                created.append(msg)
    return created


def _newest_pending(conn: Any, ws_id: int) -> int:
    rows = messages.pending(conn, ws_id)
    return rows[-1].id if rows else 0


def _consume_upto(conn: Any, ws_id: int, turn_id: int, newest: int) -> None:
    ids = [m.id for m in messages.pending(conn, ws_id) if m.id <= newest]
    messages.mark_consumed(conn, ids, turn_id)

"""Provides the main screen: workspaces | transcript + composer | containers + diff, with tips
and a status bar. It turns host events into widget updates and widget intents into host calls."""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from pynchy_tui.host.errors import HostError
from pynchy_tui.messages import HostEvents
from pynchy_tui.screens.prompt import PromptScreen
from pynchy_tui.widgets.channel_status import ChannelStatus
from pynchy_tui.widgets.composer import Composer
from pynchy_tui.widgets.container_table import ContainerTable, SandboxView
from pynchy_tui.widgets.diff_pane import DiffPane
from pynchy_tui.widgets.diff_view import DiffView
from pynchy_tui.widgets.status_bar import StatusBar
from pynchy_tui.widgets.tips_bar import TipsBar
from pynchy_tui.widgets.tool_call import ToolCallBlock
from pynchy_tui.widgets.transcript import Transcript
from pynchy_tui.widgets.workspace_list import WorkspaceList, WorkspaceView

if TYPE_CHECKING:
    from pynchy_tui import events as ev
    from pynchy_tui.app import PynchyApp

NARROW = 100
HISTORY_PAGE = 100


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+n", "cycle(1)", "Next ws", show=False),
        Binding("ctrl+b", "cycle(-1)", "Prev ws", show=False),
        Binding("ctrl+w", "focus('workspaces')", "Workspaces", show=False),
        Binding("ctrl+t", "focus('transcript')", "Transcript", show=False),
        Binding("ctrl+l", "focus('composer')", "Composer", show=False),
        Binding("f5", "diff_full", "Diff", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, WorkspaceView] = {}
        self.selected: str | None = None
        self.running: set[str] = set()
        self.history_shown: str | None = None  # the workspace whose history is on screen
        self.approvals: dict[str, dict] = {}  # pending approvals by id, as the bus told us
        self._approval_open = False
        self._diff_running = False  # a diff refresh is in flight
        self._diff_again = False  # and another was asked for meanwhile

    @property
    def papp(self) -> PynchyApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Label("workspaces", classes="pane-title")
                yield WorkspaceList(id="workspaces")
            with Vertical(id="center"):
                yield Label("", id="chat-title", classes="pane-title")
                yield Transcript(id="transcript")
                yield Static("", id="hint")
                yield TipsBar(id="tips")
                yield Composer(id="composer")
            with Vertical(id="side"):
                yield Label("containers", classes="pane-title")
                yield ContainerTable(id="containers")
                yield ChannelStatus(id="channels")
                yield Label("diff", classes="pane-title")
                yield DiffPane(id="diff")
        yield StatusBar(id="status")
        yield Footer()

    # -- typed children --------------------------------------------------------------------

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def workspace_list(self) -> WorkspaceList:
        return self.query_one(WorkspaceList)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.set_interval(0.1, self._sync_follow, name="typing-follow")
        self.query_one(Composer).focus()
        self.status.demo = self.papp.demo is not None
        self._apply_width(self.size.width)
        if self.papp.host_ready:
            self.call_later(self.refresh_workspaces, True)

    def _sync_follow(self) -> None:
        """While the person types, the transcript holds still (input_priority.py)."""
        self.transcript.hold_follow(self.papp.input_priority.typing())

    def on_resize(self, event: object) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(0 < width < NARROW, "-narrow")

    # -- workspaces ------------------------------------------------------------------------

    async def refresh_workspaces(self, select_first: bool = False) -> None:
        host = self.papp.host
        names = [w.name for w in host.list_workspaces()]
        for name in names:
            view = self.views.setdefault(name, WorkspaceView(name))
            account = host.account_name(name) or ""
            view.account = account
            acc = host.config.accounts.get(account)
            view.model = acc.model if acc else "no account"
        for gone in set(self.views) - set(names):
            del self.views[gone]
        if self.selected not in names:
            self.selected = None
        if self.selected is None and names:
            await self.select(names[0])
        self._render_list()
        await self._refresh_usage()

    def _render_list(self) -> None:
        self.workspace_list.set_workspaces(list(self.views.values()), self.selected)
        title = self.query_one("#chat-title", Label)
        if self.selected:
            v = self.views.get(self.selected)
            title.update(f"{self.selected} · {v.account}/{v.model}" if v else self.selected)
        else:
            title.update("no workspace: press Ctrl+P → New workspace, or type /new NAME")

    async def select(self, name: str) -> None:
        self.selected = name
        self.history_shown = None
        view = self.views.get(name)
        if view is not None:
            view.unread = 0
        self._render_list()
        self.show_diff(name)
        self.load_history(name)

    # -- the diff pane ---------------------------------------------------------------------

    def show_diff(self, name: str | None) -> None:
        """Point the diff pane at a workspace and read its diff (off the event loop)."""
        pane = self.query_one(DiffPane)
        host = self.papp.host
        conf = host.config.workspaces.get(name) if name else None
        repo = conf.repo if conf else None
        pane.show_workspace(name, repo)
        if name and repo:
            broken = host.git.broken.get(name)
            if broken:
                pane.show_message(f"{repo}: not usable: {broken}", warning=True)
            else:
                self.refresh_diff()

    def refresh_diff(self) -> None:
        """Re-read the selected workspace's diff; bursts collapse into one read at a time."""
        if self._diff_running:
            self._diff_again = True
            return
        self._diff_running = True
        self._read_diff()

    @work(group="diff", exit_on_error=False)
    async def _read_diff(self) -> None:
        try:
            while True:
                self._diff_again = False
                name = self.selected
                if name is None:
                    return
                try:
                    snap = await self.papp.host.git.diff(name)
                except Exception as exc:  # git trouble is shown, never fatal to the UI
                    if name == self.selected:
                        self.query_one(DiffPane).show_message(f"diff failed: {exc}", True)
                    snap = None
                if snap is not None and name == self.selected:
                    self.query_one(DiffPane).show_snapshot(snap)
                    screen = self.app.screen
                    from pynchy_tui.screens.diff import DiffScreen

                    if isinstance(screen, DiffScreen) and screen.snapshot.workspace == name:
                        screen.update(snap)
                if not self._diff_again:
                    return
        finally:
            self._diff_running = False

    def action_diff_full(self) -> None:
        self._open_full(self.selected)

    @on(DiffPane.OpenFull)
    def _on_open_full(self, message: DiffPane.OpenFull) -> None:
        self._open_full(message.workspace)

    def _open_full(self, workspace: str | None) -> None:
        pane = self.query_one(DiffPane)
        if workspace is None or pane.snapshot is None or pane.workspace != workspace:
            self.notify("no diff to show: the workspace is not bound to a git repository")
            return
        from pynchy_tui.screens.diff import DiffScreen

        self.app.push_screen(DiffScreen(pane.snapshot))

    @on(DiffView.LoadFile)
    async def _on_load_file(self, message: DiffView.LoadFile) -> None:
        if self.selected:
            lines = await self.papp.host.git.file_lines(self.selected, message.path)
            message.view.set_file_lines(message.path, lines)

    async def sync_selected(self, review: bool = True) -> None:
        """The palette's "Sync to main": the outcome is in the transcript and a toast."""
        if self.selected is None:
            return
        name = self.selected
        self.notify(f"syncing {name} to main…", timeout=3)
        try:
            result = await self.papp.host.sync_to_main(name, review=review)
        except HostError as exc:
            self.notify(str(exc), severity="error")
            return
        first = result.message.splitlines()[0]
        self.notify(first, severity="information" if result.ok else "warning", timeout=8)

    async def prompt_bind_repo(self) -> None:
        if self.selected is None:
            self.notify("select a workspace first", severity="warning")
            return
        name = self.selected
        path = await self.app.push_screen_wait(
            PromptScreen(f"Bind {name} to the git repository at (path):")
        )
        if not path:
            return
        try:
            await self.papp.host.bind_repo(name, path)
        except HostError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{name} now works on its own clone of {path}")
        if self.selected == name:
            self.show_diff(name)

    @work(exclusive=True, group="history")
    async def load_history(self, name: str) -> None:
        items, more = await self.papp.host.history(name, HISTORY_PAGE)
        if self.selected == name:
            await self.transcript.show_history(items, more)
            self.history_shown = name

    @on(WorkspaceList.Selected)
    async def _on_workspace_selected(self, message: WorkspaceList.Selected) -> None:
        if message.name != self.selected:
            await self.select(message.name)

    @on(Transcript.LoadEarlier)
    async def _on_load_earlier(self, message: Transcript.LoadEarlier) -> None:
        if self.selected is None:
            return
        items, more = await self.papp.host.history(self.selected, HISTORY_PAGE, message.before_id)
        await self.transcript.prepend_history(items, more)

    async def action_cycle(self, step: int) -> None:
        names = list(self.views)
        if not names:
            return
        i = names.index(self.selected) if self.selected in names else 0
        await self.select(names[(i + step) % len(names)])

    def action_focus(self, what: str) -> None:
        self.query_one(f"#{what}").focus()

    # -- sending ---------------------------------------------------------------------------

    @on(Composer.Hint)
    def _on_hint(self, message: Composer.Hint) -> None:
        hint = self.query_one("#hint", Static)
        hint.update(message.text)
        hint.set_class(bool(message.text), "-shown")

    @on(Composer.Submitted)
    async def _on_submit(self, message: Composer.Submitted) -> None:
        text = message.text
        if text.startswith("/"):
            await self.run_slash(text)
            return
        if self.selected is None:
            self.notify("Create a workspace first: /new NAME", severity="warning")
            return
        try:
            await self.papp.host.submit(self.selected, text, source="tui")
        except HostError as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(TipsBar).show_tip(self.papp.next_tip())

    async def run_slash(self, text: str) -> None:
        host = self.papp.host
        cmd, _, arg = text.partition(" ")
        arg = arg.strip()
        try:
            if cmd == "/new":
                if not arg:
                    raise HostError("usage: /new NAME")
                await host.create_workspace(arg)
                await self.refresh_workspaces()
                await self.select(arg)
            elif cmd == "/rename":
                if not arg or self.selected is None:
                    raise HostError("usage: /rename NEW-NAME (renames the selected workspace)")
                old = self.selected
                await host.rename_workspace(old, arg)
                self.views[arg] = self.views.pop(old)
                self.views[arg].name = arg
                self.selected = arg
                await self.refresh_workspaces()
            elif cmd == "/clear":
                if self.selected:
                    await host.clear_workspace(self.selected)
            elif cmd == "/stop":
                if self.selected and not await host.cancel_turn(self.selected):
                    self.notify("nothing is running in this workspace")
            elif cmd == "/model":
                account = host.account_name(self.selected) if self.selected else None
                if not arg or account is None:
                    raise HostError("usage: /model MODEL (for this workspace's account)")
                await host.set_account_model(account, arg)
                self.notify(f"account {account} now uses {arg}")
            elif cmd == "/account":
                if not arg or self.selected is None:
                    raise HostError("usage: /account NAME")
                await host.set_workspace_account(self.selected, arg)
                self.notify(f"{self.selected} now uses account {arg}")
            elif cmd == "/help":
                self.papp.action_help()
            else:
                raise HostError(f"unknown command {cmd}: /help lists them")
        except HostError as exc:
            self.notify(str(exc), severity="error")

    async def prompt_new_workspace(self) -> None:
        name = await self.app.push_screen_wait(PromptScreen("Name of the new workspace:"))
        if name:
            await self.run_slash(f"/new {name}")

    async def prompt_rename_workspace(self) -> None:
        if self.selected is None:
            return
        name = await self.app.push_screen_wait(
            PromptScreen(f"Rename {self.selected} to:", self.selected)
        )
        if name and name != self.selected:
            await self.run_slash(f"/rename {name}")

    async def delete_workspace(self, name: str) -> None:
        try:
            trash = await self.papp.host.delete_workspace(name)
        except HostError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"deleted {name}" + (f"; its files are in {trash}" if trash else ""))
        self.query_one(ContainerTable).forget(name)
        await self.refresh_workspaces()

    @on(ToolCallBlock.OpenOutput)
    def _open_output(self, message: ToolCallBlock.OpenOutput) -> None:
        from pynchy_tui.screens.pager import PagerScreen

        self.app.push_screen(PagerScreen(message.title, message.text or "(no output)"))

    # -- approvals -------------------------------------------------------------------------

    @work(group="approval")
    async def open_approval(self, approval_id: str) -> None:
        """Show one approval dialog at a time; the next waiting one follows."""
        from pynchy_tui.screens.approval import ApprovalScreen  # pygments: not at first frame

        if self._approval_open or approval_id not in self.approvals:
            return
        self._approval_open = True
        try:
            approval = self.approvals[approval_id]
            answer = await self.app.push_screen_wait(ApprovalScreen(approval))
            if answer is not None and approval_id in self.approvals:
                await self._answer(approval, answer)
        finally:
            self._approval_open = False
        nxt = next((a for a in self.approvals.values() if a["workspace"] == self.selected), None)
        if nxt is not None and nxt["id"] != approval_id:
            self.open_approval(nxt["id"])

    async def _answer(self, approval: dict, answer: Any) -> None:
        host = self.papp.host
        by = getpass.getuser()
        if answer.rule:
            await host.add_rule(approval["workspace"], approval["tool"], answer.rule, by)
        won, row = await host.decide_approval(
            approval["id"], answer.approved, by=by, via="tui", reason=answer.reason
        )
        if not won and row is not None:
            self.notify(
                f"too late: already {row['status']} by {row['decided_by']}", severity="warning"
            )

    @work(group="approval-inbox")
    async def open_inbox(self) -> None:
        from pynchy_tui.screens.approvals_inbox import ApprovalsInbox

        pending = await self.papp.host.pending_approvals()
        for a in pending:
            self.approvals.setdefault(a["id"], a)
        chosen = await self.app.push_screen_wait(ApprovalsInbox(pending))
        if chosen:
            self.open_approval(chosen)

    # -- host events -----------------------------------------------------------------------

    @on(HostEvents)
    async def _on_host_events(self, message: HostEvents) -> None:
        if self.papp.closing:
            return  # the host is stopping: its last events must not touch a closing screen
        list_dirty = False
        for event in message.events:
            list_dirty |= await self._apply(event)
        if list_dirty:
            self._render_list()

    async def _apply(self, e: ev.Event) -> bool:
        """Apply one event; True when the workspace list needs a redraw."""
        from pynchy_tui import events as ev  # not at import: the first frame needs no events

        name = getattr(e, "workspace", None)
        here = name is not None and name == self.selected
        view = self.views.get(name) if name else None
        t = self.transcript
        match e:
            case ev.HostStateChanged():
                self.status.host_state = e.state
                if e.state == "ready":
                    await self.refresh_workspaces(True)
                return False
            case ev.WorkspaceChanged():
                await self.refresh_workspaces()
                return False
            case ev.ChannelStateChanged():
                self.query_one(ChannelStatus).set_state(e.channel, e.type, e.state, e.detail)
                return False
            case ev.MessageReceived():
                if here and e.role == "system":
                    await t.add_message("system", e.text, message_id=e.message_id)
                elif here:
                    await t.add_message(
                        "user",
                        e.text,
                        source=e.source,
                        sender=e.sender,
                        trusted=e.trusted,
                        message_id=e.message_id,
                    )
                elif view is not None:
                    view.unread += 1
                    return True
            case ev.MessageSent():
                if here:
                    if e.role == "assistant" and e.turn_id is not None:
                        await t.final_reply(e.turn_id, e.text, e.message_id)
                    else:
                        await t.add_message(e.role, e.text, message_id=e.message_id)
                elif view is not None:
                    view.unread += 1
                    return True
            case ev.TurnStarted():
                self.running.add(e.workspace)
                self.status.running = len(self.running)
                return self._set_status(view, "thinking")
            case ev.AgentDelta():
                if here:
                    await t.append_delta(e.turn_id, e.text)
            case ev.AgentText():
                if here:
                    await t.end_step(e.turn_id)
            case ev.ProviderRetry():
                if here:
                    await t.discard_partial(e.turn_id)
                    self.notify(
                        f"retrying in {e.delay:.1f}s: {e.reason}", severity="warning", timeout=3
                    )
            case ev.ToolStarted():
                if here:
                    await t.tool_started(e.call_id, e.tool, e.args)
                return self._set_status(view, "tool")
            case ev.ToolOutput():
                if here:
                    t.tool_output(e.call_id, e.data)
            case ev.ToolFinished():
                if here:
                    t.tool_finished(e.call_id, e.ok, e.summary, e.duration_ms)
                return self._set_status(view, "thinking")
            case ev.TurnFinished():
                self.running.discard(e.workspace)
                self.status.running = len(self.running)
                await self._refresh_usage()
                return self._set_status(view, "error" if e.status == "failed" else "idle")
            case ev.ApprovalRequested():
                self.approvals[e.approval_id] = {
                    "id": e.approval_id,
                    "workspace": e.workspace,
                    "tool": e.tool,
                    "args": e.args,
                    "reason": e.reason,
                    "rule_id": e.rule_id,
                    "details": e.details,
                }
                self.app.bell()
                if here:
                    self.open_approval(e.approval_id)
                else:
                    self.notify(
                        f"{e.workspace} waits for your approval (F3 opens the inbox)",
                        severity="warning",
                        timeout=8,
                    )
                return self._set_status(view, "approval")
            case ev.ApprovalDecided():
                from pynchy_tui.screens.approval import ApprovalScreen

                self.approvals.pop(e.approval_id, None)
                screen = self.app.screen
                if isinstance(screen, ApprovalScreen) and screen.approval["id"] == e.approval_id:
                    screen.dismiss(None)  # decided elsewhere (CLI, a channel)
                    self.notify(f"approval {e.approval_id} was {e.status} by {e.decided_by}")
                waiting = any(a["workspace"] == e.workspace for a in self.approvals.values())
                return False if waiting else self._set_status(view, "tool")
            case ev.ContainerStateChanged():
                table = self.query_one(ContainerTable)
                old = table.views.get(e.workspace)
                started = (
                    time.time() if e.state == "starting" else (old.started if old else time.time())
                )
                table.apply(
                    SandboxView(
                        e.workspace,
                        e.runtime,
                        e.state,
                        started,
                        old.cpu if old else None,
                        old.memory if old else None,
                        old.last_tool if old else "",
                        e.detail,
                    )
                )
                if e.state == "hibernated" and view is not None and view.status == "idle":
                    return self._set_status(view, "hibernated")
                if (
                    e.state in ("starting", "idle")
                    and view is not None
                    and view.status == "hibernated"
                ):
                    return self._set_status(view, "idle")
            case ev.ContainerStats():
                table = self.query_one(ContainerTable)
                old = table.views.get(e.workspace)
                table.apply(
                    SandboxView(
                        e.workspace,
                        e.runtime,
                        old.state if old else "idle",
                        time.time() - e.uptime_s,
                        e.cpu_percent,
                        e.memory_bytes,
                        e.last_tool or "",
                        old.detail if old else "",
                    )
                )
            case ev.DiffChanged():
                if here:
                    self.refresh_diff()
            case ev.Notice():
                severity = {"warning": "warning", "error": "error"}.get(e.level, "information")
                self.notify(e.text, severity=severity)  # type: ignore[arg-type]
        return False

    def _set_status(self, view: WorkspaceView | None, status: str) -> bool:
        if view is None or view.status == status:
            return False
        view.status = status
        return True

    async def _refresh_usage(self) -> None:
        if self.papp.host.store is None:
            return
        tin, tout, cost = await self.papp.host.today_usage()
        self.status.tokens = tin + tout
        self.status.cost = cost

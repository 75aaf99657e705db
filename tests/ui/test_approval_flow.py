"""The approval modal as a person meets it: it pops up for the focused workspace, deny sends
the reason, allow runs the command, always-allow previews and saves a rule; the inbox lists
approvals of other workspaces."""

from __future__ import annotations

from pynchy_tui.screens.approval import ApprovalScreen
from pynchy_tui.screens.approvals_inbox import ApprovalsInbox
from tests.conftest import account_toml, process_runtime_toml
from tests.ui.conftest import ready, send, texts, wait_until


def _results(request) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


async def test_modal_deny_allow_always(make_app, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "rm -rf dist"}}],
            [{"text": "fine, kept it"}],
            [{"tool": "bash", "args": {"command": "rm -rf dist"}}],
            [{"text": "removed"}],
            [{"tool": "bash", "args": {"command": "npm install left-pad"}}],
            [{"text": "installed"}],
            [{"tool": "bash", "args": {"command": "npm install is-odd"}}],
            [{"text": "installed again"}],
        ]
    )
    app = make_app(account_toml("local", server) + "[workspaces.w]\n" + process_runtime_toml())
    async with app.run_test(size=(140, 42)) as pilot:
        await ready(pilot)
        dist = app.host.workspace_dir("w") / "dist"
        dist.mkdir()
        await send(pilot, "clean dist")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert app.main_screen.views["w"].status == "approval"
        app.screen.query_one("#deny-reason").value = "I still need it"
        await pilot.click("#deny")
        await wait_until(pilot, lambda: "fine, kept it" in texts(app))
        assert dist.exists() and "I still need it" in _results(server.requests[1])[0]

        await send(pilot, "clean it now")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: "removed" in texts(app))
        assert not dist.exists()

        await send(pilot, "install left-pad")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("a")
        preview = app.screen.query_one("#rule-preview")
        await wait_until(pilot, lambda: "npm install *" in str(preview.render()))
        assert "matched 1 earlier call" in str(preview.render())
        await pilot.click("#save-rule")
        await wait_until(pilot, lambda: "installed" in texts(app))
        await send(pilot, "and is-odd")
        await wait_until(pilot, lambda: "installed again" in texts(app))
        assert not isinstance(app.screen, ApprovalScreen)  # the saved rule allowed it


async def test_inbox_lists_other_workspaces_and_cli_decisions_close_the_modal(
    make_app, scripted
) -> None:
    server = scripted(
        [[{"tool": "bash", "args": {"command": "sudo apt-get install cowsay"}}], [{"text": "ok"}]]
    )
    app = make_app(
        account_toml("local", server) + "[workspaces.a]\n[workspaces.b]\n" + process_runtime_toml()
    )
    async with app.run_test(size=(140, 42)) as pilot:
        await ready(pilot)
        assert app.main_screen.selected == "a"
        await app.host.submit("b", "install cowsay", source="cli")
        await wait_until(pilot, lambda: app.main_screen.views["b"].status == "approval")
        assert not isinstance(app.screen, ApprovalScreen)  # not the focused workspace
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalsInbox))
        assert len(app.screen.pending) == 1 and app.screen.pending[0]["workspace"] == "b"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        approval_id = app.screen.approval["id"]
        # Someone decides elsewhere first: the dialog closes and says so.
        won, _ = await app.host.decide_approval(approval_id, True, by="phone", via="cli")
        assert won
        await wait_until(pilot, lambda: not isinstance(app.screen, ApprovalScreen))
        await wait_until(pilot, lambda: app.main_screen.views["b"].status == "idle")


async def test_audit_view_filters_by_workspace_and_decision(make_app, scripted) -> None:
    from pynchy_tui.screens.audit import AuditScreen

    server = scripted(
        [
            [
                {"tool": "bash", "args": {"command": "ls"}},
                {"tool": "read_file", "args": {"path": "/etc/passwd"}},
            ],
            [{"text": "looked"}],
        ]
    )
    app = make_app(
        account_toml("local", server) + "[workspaces.a]\n[workspaces.b]\n" + process_runtime_toml()
    )
    async with app.run_test(size=(140, 42)) as pilot:
        await ready(pilot)
        await send(pilot, "look around")
        await wait_until(pilot, lambda: "looked" in texts(app))
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen))
        table = app.screen.query_one("#audit")
        await wait_until(pilot, lambda: table.row_count == 2)
        app.screen.query_one("#decision").value = "deny"
        await wait_until(pilot, lambda: table.row_count == 1)
        row = table.get_row_at(0)
        assert row[2] == "read_file" and row[4] == "deny" and row[5] == "fs.confine"
        app.screen.query_one("#ws").value = "b"
        await wait_until(pilot, lambda: table.row_count == 0)

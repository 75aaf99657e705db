"""Pilot tests of the diff pane: a scripted agent edits and commits in its sandbox, the pane
shows it (file list, counts, highlighted patch), the full-screen diff, sync from the palette
puts the commit on main, per-file truncation and expand, binding from the palette."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynchy_tui.screens.diff import DiffScreen
from pynchy_tui.widgets.diff_pane import DiffPane
from pynchy_tui.widgets.diff_view import DiffView
from tests.conftest import account_toml, process_runtime_toml
from tests.integration.conftest import require_runtime, runtime_toml  # noqa: F401 (fixture)
from tests.integration.git_helpers import make_repo, run_git, subjects
from tests.ui.conftest import ready, send, texts, wait_until

EDIT = [
    [
        {
            "tool": "bash",
            "args": {
                "command": "mkdir -p pkg && printf 'def greet(name):\\n    return f\"hi {name}\"\\n'"
                " > pkg/greet.py && git add -A && git commit -qm 'add greet' && echo TODO >> README.md"
            },
        }
    ],
    [{"text": "greet added"}],
]


def _pane(app) -> DiffPane:
    return app.main_screen.query_one(DiffPane)


async def _edit_and_check_pane(app, pilot, repo: Path) -> None:
    await ready(pilot)
    pane = _pane(app)
    await wait_until(pilot, lambda: "no changes against main" in pane.summary_text)
    await send(pilot, "add a greet function")
    await wait_until(pilot, lambda: any("greet added" in t for t in texts(app)), 60)
    await wait_until(pilot, lambda: pane.snapshot is not None and len(pane.snapshot.files) == 2)
    snap = pane.snapshot
    assert [(f.path, f.status, f.added, f.removed, f.uncommitted) for f in snap.files] == [
        ("README.md", "M", 1, 0, True),
        ("pkg/greet.py", "A", 2, 0, False),
    ]
    assert "pynchy/w ← main · 2 files +3 −0" in pane.summary_text
    assert "1 commit to sync" in pane.summary_text and "● 1 uncommitted" in pane.summary_text
    lines = pane.view.plain_lines()
    assert "+def greet(name):" in lines and "+TODO" in lines
    assert any(line.startswith("A pkg/greet.py (added)  +2 −0") for line in lines)


async def test_agent_edit_shows_in_the_pane_and_palette_sync_puts_it_on_main(
    make_app, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(EDIT)
    app = make_app(
        account_toml("acc", server) + process_runtime_toml() + f'[workspaces.w]\nrepo = "{repo}"\n'
    )
    async with app.run_test(size=(150, 44)) as pilot:
        await _edit_and_check_pane(app, pilot, repo)
        pane = _pane(app)
        # Full screen: F5; the file list and the numbered patch.
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen))
        full = app.screen.query_one(DiffView)
        assert full.numbers and "+def greet(name):" in full.plain_lines()
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DiffScreen))
        # Sync refuses while README.md is uncommitted; commit it by hand, sync from the palette.
        work = app.host.workspace_dir("w")
        run_git(work, "commit", "-qam", "readme todo")
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Sync w":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(pilot, lambda: subjects(repo)[0] == "readme todo", 30)
        assert subjects(repo)[:3] == ["readme todo", "add greet", "initial"]
        await wait_until(pilot, lambda: "no changes against main" in pane.summary_text)
        await wait_until(
            pilot, lambda: any(t.startswith("Synced: 2 commit(s)") for t in texts(app))
        )


@pytest.mark.engine
@pytest.mark.xdist_group("engine")
async def test_agent_edit_in_a_bubblewrap_sandbox_shows_in_the_pane(
    make_app,
    scripted,
    tmp_path: Path,
    require_runtime,  # noqa: F811
) -> None:
    require_runtime("bubblewrap")
    repo = make_repo(tmp_path / "repo")
    app = make_app(
        account_toml("acc", scripted(EDIT))
        + f'[workspaces.w]\nrepo = "{repo}"\n'
        + runtime_toml("bubblewrap")
    )
    async with app.run_test(size=(150, 44)) as pilot:
        await _edit_and_check_pane(app, pilot, repo)
        assert app.host.sandboxes.sandbox("w").runtime == "bubblewrap"


async def test_long_files_are_cut_and_expand_on_enter(make_app, scripted, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    app = make_app(
        account_toml("acc", scripted([]))
        + process_runtime_toml()
        + f'[workspaces.w]\nrepo = "{repo}"\n'
    )
    async with app.run_test(size=(150, 44)) as pilot:
        await ready(pilot)
        pane = _pane(app)
        await wait_until(pilot, lambda: pane.snapshot is not None)
        work = app.host.workspace_dir("w")
        (work / "big.py").write_text("".join(f"x{i} = {i}\n" for i in range(500)))
        await wait_until(
            pilot, lambda: pane.snapshot is not None and len(pane.snapshot.files) == 1, 10
        )
        view = pane.view
        lines = view.plain_lines()
        assert lines[-1] == "  … 461 more lines (Enter)"
        assert len(lines) == 1 + 40 + 1
        view.focus()
        view.action_jump(-1)
        await pilot.press("enter")
        await pilot.pause()
        lines = view.plain_lines()
        assert "+x499 = 499" in lines and lines[-1] == "  ▴ show less"


async def test_bind_a_workspace_from_the_palette(make_app, scripted, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    app = make_app(account_toml("acc", scripted([])) + process_runtime_toml() + "[workspaces.w]\n")
    async with app.run_test(size=(150, 44)) as pilot:
        await ready(pilot)
        pane = _pane(app)
        assert "not bound to a git repo" in pane.summary_text
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Bind":
            await pilot.press(ch)
        await pilot.pause(0.2)
        await pilot.press("enter")
        from pynchy_tui.screens.prompt import PromptScreen

        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        from textual.widgets import Input

        app.screen.query_one(Input).value = str(repo)
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.snapshot is not None, 20)
        assert "no changes against main" in pane.summary_text
        assert app.host.workspace_dir("w") == app.host.paths.data_dir / "worktrees" / "w"
        assert f'repo = "{repo}"' in (app.paths.config_file).read_text()
        assert run_git(app.host.workspace_dir("w"), "branch", "--show-current") == "pynchy/w"


async def test_a_huge_diff_is_read_file_by_file_and_stays_responsive(
    make_app, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    app = make_app(
        account_toml("acc", scripted([]))
        + process_runtime_toml()
        + f'[workspaces.w]\nrepo = "{repo}"\n'
    )
    async with app.run_test(size=(150, 44)) as pilot:
        await ready(pilot)
        pane = _pane(app)
        await wait_until(pilot, lambda: pane.snapshot is not None)
        work = app.host.workspace_dir("w")
        (work / "huge.txt").write_text("".join(f"line {i}\n" for i in range(60_000)))
        (work / "small.py").write_text("x = 1\n")
        await wait_until(
            pilot, lambda: pane.snapshot is not None and len(pane.snapshot.files) == 2, 20
        )
        assert not pane.snapshot.patches_loaded  # over the limit: nothing read up front
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen))
        view = app.screen.query_one(DiffView)
        assert view.plain_lines()[1] == "  the patch of this file is not read yet (Enter reads it)"
        view.focus()
        view.action_jump(0)
        view.action_cursor(1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(view.rows) > 2000, 20)
        lines = view.plain_lines()
        assert "  … 58,001 more lines (Enter)" in lines  # cut at 2,000 lines until expanded
        assert lines[-1] == "  the patch of this file is not read yet (Enter reads it)"
        view.expand_all(True)
        assert len(view.rows) > 60_000
        for _ in range(20):  # only the rows on screen are drawn: paging stays cheap
            await pilot.press("pagedown")
        view.action_jump(-1)
        await pilot.pause()
        assert view.cursor == len(view.rows) - 1
        assert "+line 59999" in view.plain_lines()

"""Git worktrees with the process runtime: a real repository, a scripted agent that edits and
commits with git inside its workspace, sync to main, conflicts, wakes, the deputy review."""

from __future__ import annotations

from pathlib import Path

from pynchy_tui.events import SyncFinished, TurnFinished
from tests.conftest import account_toml, process_runtime_toml, wait_for
from tests.integration.git_helpers import main_sha, make_repo, run_git, subjects


def _config(server, repo: Path, extra: str = "", name: str = "w") -> str:
    return (
        account_toml("acc", server)
        + process_runtime_toml()
        + f'\n[workspaces.{name}]\nrepo = "{repo}"\n{extra}'
    )


async def test_agent_commits_in_its_clone_and_sync_puts_it_on_main(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "echo hello > greet.txt && git add -A && "
                        "git commit -qm 'add greeting' && git status --short --branch"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            [{"text": "done"}],
        ]
    )
    host = await make_host(_config(server, repo))
    work = host.workspace_dir("w")
    assert work == host.paths.data_dir / "worktrees" / "w"
    assert run_git(work, "branch", "--show-current") == "pynchy/w"
    with host.bus.subscribe(TurnFinished, SyncFinished) as sub:
        await host.submit("w", "add a greeting and sync it")
        synced = await wait_for(sub, lambda e: isinstance(e, SyncFinished))
        done = await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    assert done.status == "done", done.error
    assert synced.status == "synced", synced.message
    assert subjects(repo)[0] == "add greeting"
    assert (repo / "greet.txt").read_text() == "hello\n"  # main is checked out: fast-forwarded
    assert main_sha(repo) == run_git(work, "rev-parse", "HEAD")
    results = [m for m in server.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert "## pynchy/w...origin/main [ahead 1]" in results[0]["content"]
    assert "Synced: 1 commit(s)" in results[1]["content"]


def _tool_results(request: dict) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


def _user_texts(request: dict) -> list[str]:
    out = []
    for m in request["body"]["messages"]:
        if m["role"] == "user":
            c = m["content"]
            out.append(c if isinstance(c, str) else "\n".join(p.get("text", "") for p in c))
    return out


async def _turn(host, workspace: str, text: str) -> TurnFinished:
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit(workspace, text)
        done = await wait_for(sub, lambda e: e.workspace == workspace)
    assert done.status == "done", done.error
    return done


async def test_conflicting_sync_leaves_main_untouched_and_lists_the_conflicts(
    make_host, scripted, tmp_path: Path
) -> None:
    from tests.integration.git_helpers import commit_file

    repo = make_repo(tmp_path / "repo", {"notes.txt": "one\ntwo\nthree\n"})
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "printf 'one\\nTWO from agent\\nthree\\n' > notes.txt && "
                        "git commit -qam 'agent edits line two'"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            [{"tool": "bash", "args": {"command": "git status --short"}}],
            [{"text": "there is a conflict"}],
        ]
    )
    host = await make_host(_config(server, repo))
    # Meanwhile the person changes the same line on main.
    person = commit_file(repo, "notes.txt", "one\ntwo from person\nthree\n", "person edits")
    await _turn(host, "w", "edit line two and sync")
    assert main_sha(repo) == person  # main untouched
    assert (repo / "notes.txt").read_text() == "one\ntwo from person\nthree\n"
    results = _tool_results(server.requests[-1])
    assert "conflicts in 1 file(s): notes.txt" in results[1]
    assert "git rebase --continue" in results[1] and "main was not changed" in results[1]
    assert "UU notes.txt" in results[2]  # the rebase is left in progress for the agent
    work = host.workspace_dir("w")
    assert "<<<<<<<" in (work / "notes.txt").read_text()
    snap = await host.git.diff("w", force=True)
    assert snap.operation == "rebase" and snap.conflicts == ("notes.txt",)
    # Syncing again before the agent resolved it is refused, main still untouched.
    r = await host.sync_to_main("w")
    assert r.status == "refused" and "rebase is in progress" in r.message
    assert main_sha(repo) == person


async def test_hibernated_workspace_is_woken_once_when_another_sync_conflicts(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"shared.txt": "alpha\nbeta\ngamma\n"})
    server = scripted(
        [
            # b commits a change to line two and stops (it will hibernate).
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "printf 'alpha\\nbeta by b\\ngamma\\n' > shared.txt && "
                        "git commit -qam 'b edits beta'"
                    },
                }
            ],
            [{"text": "b committed"}],
            # a changes the same line and syncs twice (a second commit, unrelated file).
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "printf 'alpha\\nbeta by a\\ngamma\\n' > shared.txt && "
                        "git commit -qam 'a edits beta'"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            [{"text": "a synced"}],
            # b's wake: its turn starts from the two messages.
            {
                "steps": [{"text": "I will fix the rebase"}],
                "match": "Please fix the failed rebase",
            },
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "echo more > other.txt && git add -A && git commit -qm 'a again'"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            [{"text": "a synced again"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server)
        + process_runtime_toml()
        + f'\n[workspaces.a]\nrepo = "{repo}"\n[workspaces.b]\nrepo = "{repo}"\n'
    )
    await _turn(host, "b", "edit beta")
    await host.sandboxes.hibernate("b")
    assert host.sandboxes.sandbox("b") is None
    started: list[str] = []
    from pynchy_tui.events import TurnStarted

    host.bus.add_observer(
        lambda e: started.append(e.workspace) if isinstance(e, TurnStarted) else None
    )
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit("a", "edit beta and sync")
        await wait_for(sub, lambda e: e.workspace == "a")
        woken = await wait_for(sub, lambda e: e.workspace == "b")
    assert woken.status == "done", woken.error
    assert subjects(repo)[0] == "a edits beta"
    wake = next(r for r in server.requests if r["reply_index"] == 5)
    texts = _user_texts(wake)
    first = next(t for t in texts if "Automatic rebase of pynchy/b onto main failed" in t)
    assert "a synced" in first and "shared.txt" in first and "a edits beta" in first
    assert any("Please fix the failed rebase" in t and "sync_to_main" in t for t in texts)
    assert started.count("b") == 1  # exactly one wake
    # main moves again while b's conflict is unresolved: no second wake.
    await _turn(host, "a", "one more")
    await host.git.settle()
    assert started.count("b") == 1
    assert subjects(repo)[0] == "a again"
    assert (host.workspace_dir("b") / ".git" / "rebase-merge").is_dir()


async def test_clean_follow_rebases_the_other_workspace_and_lets_it_sleep(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "b.txt": "b\n"})
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo B >> b.txt && git commit -qam 'b work'"}}],
            [{"text": "ok"}],
            [{"tool": "bash", "args": {"command": "echo A >> a.txt && git commit -qam 'a work'"}}],
            [{"tool": "sync_to_main", "args": {}}],
            [{"text": "ok"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server)
        + process_runtime_toml()
        + f'\n[workspaces.a]\nrepo = "{repo}"\n[workspaces.b]\nrepo = "{repo}"\n'
    )
    await _turn(host, "b", "work")
    await host.sandboxes.hibernate("b")
    await _turn(host, "a", "work and sync")
    await host.git.settle()
    b = host.workspace_dir("b")
    assert run_git(b, "log", "--format=%s", "-3").splitlines() == ["b work", "a work", "initial"]
    assert host.sandboxes.sandbox("b") is None  # it slept before, it sleeps again
    history, _ = await host.history("b")
    assert any("was rebased onto it" in h.text for h in history)


async def test_deputy_rejection_leaves_main_untouched_and_the_reviewer_saw_the_diff(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"app.py": "def main():\n    return 1\n", "AGENTS.md": "Never call eval.\n"},
    )
    before = main_sha(repo)
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "printf 'def main():\\n    return eval(input())\\n' > app.py"
                        " && git commit -qam 'read the answer'"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            {
                "steps": [
                    {"text": '{"verdict": "reject", "reasons": ["app.py calls eval on input"]}'}
                ],
                "match": "## The diff",
            },
            [{"text": "rejected, I will fix it"}],
        ]
    )
    host = await make_host(_config(server, repo, "deputy_review = true\n"))
    await _turn(host, "w", "change main and sync")
    assert main_sha(repo) == before
    reviewer = next(r for r in server.requests if r["reply_index"] == 2)
    body = reviewer["body"]
    assert body.get("tools") in (None, [])
    prompt = "\n".join(_user_texts(reviewer))
    assert "+    return eval(input())" in prompt  # the actual diff, not a summary
    assert "Never call eval." in prompt and "read the answer" in prompt
    results = _tool_results(server.requests[-1])
    assert "deputy review rejected" in results[1] and "app.py calls eval on input" in results[1]
    history, _ = await host.history("w")
    assert any("deputy review rejected" in h.text for h in history if h.kind == "system")
    rows = await host.audit_rows("w")
    assert any(r["tool"] == "deputy_review" and r["decision"] == "deny" for r in rows)


async def test_deputy_approval_lets_the_sync_through(make_host, scripted, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {"command": "echo y = 2 >> src/app.py && git commit -qam 'y'"},
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            {
                "steps": [{"text": 'Looks fine. {"verdict": "approve", "reasons": []}'}],
                "match": "## The diff",
            },
            [{"text": "synced"}],
        ]
    )
    host = await make_host(_config(server, repo, "deputy_review = true\n"))
    await _turn(host, "w", "sync")
    assert subjects(repo)[0] == "y"


async def test_merge_policy_makes_a_merge_commit_on_main(
    make_host, scripted, tmp_path: Path
) -> None:
    from tests.integration.git_helpers import commit_file

    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "b.txt": "b\n"})
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "echo A >> a.txt && git commit -qam 'agent a'"}}],
            [{"tool": "sync_to_main", "args": {}}],
            [{"text": "merged"}],
        ]
    )
    host = await make_host(_config(server, repo, 'sync = "merge"\n'))
    person = commit_file(repo, "b.txt", "b\nB\n", "person b")
    await _turn(host, "w", "sync")
    parents = run_git(repo, "rev-list", "--parents", "-n", "1", "main").split()
    assert len(parents) == 3 and parents[1] == person
    assert subjects(repo)[0] == "Merge branch 'pynchy/w'"
    assert (repo / "a.txt").read_text() == "a\nA\n" and (repo / "b.txt").read_text() == "b\nB\n"
    work = host.workspace_dir("w")
    assert run_git(work, "rev-parse", "HEAD") == main_sha(repo)  # the branch moved onto it


async def test_idle_notice_for_uncommitted_and_unsynced_work(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "echo one > one.txt && git add one.txt && git commit -qm one && echo two > two.txt"
                    },
                }
            ],
            [{"text": "left some work"}],
        ]
    )
    host = await make_host(_config(server, repo))
    await _turn(host, "w", "work")
    await host.git.settle()
    history, _ = await host.history("w")
    notices = [h.text for h in history if h.kind == "system" and "Not on main yet" in h.text]
    assert len(notices) == 1
    assert "1 file(s) with uncommitted changes (two.txt)" in notices[0]
    assert "1 commit(s) not on main yet" in notices[0]


async def test_person_syncs_from_the_tui_and_uncommitted_work_is_refused(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    host = await make_host(_config(scripted([]), repo))
    work = host.workspace_dir("w")
    (work / "new.txt").write_text("new\n")
    r = await host.sync_to_main("w")
    assert r.status == "refused" and "uncommitted changes in new.txt" in r.message
    run_git(work, "add", "-A")
    run_git(work, "commit", "-qm", "by hand")
    r = await host.sync_to_main("w")
    assert r.status == "synced", r.message
    assert subjects(repo)[0] == "by hand"
    r = await host.sync_to_main("w")
    assert r.status == "nothing"
    rows = await host.audit_rows("w")
    assert any(x["tool"] == "sync_to_main" and x["actor"] == "person" for x in rows)


async def test_the_host_never_runs_what_the_sandbox_wrote_into_its_clone(
    make_host, scripted, tmp_path: Path
) -> None:
    """The clone is the sandbox's to write, config and hooks included: the host's diff and
    fetch must not run any of it (they read the clone through upload-pack and a shadow index)."""
    repo = make_repo(tmp_path / "repo")
    host = await make_host(_config(scripted([]), repo))
    work = host.workspace_dir("w")
    mark = tmp_path / "pwned"
    with (work / ".git" / "config").open("a") as fh:
        fh.write(
            f'[core]\n\tfsmonitor = "touch {mark}-fsmonitor"\n'
            f'[filter "evil"]\n\tclean = "touch {mark}-clean; cat"\n'
            f'\tsmudge = "touch {mark}-smudge; cat"\n\tprocess = "touch {mark}-process"\n'
            f'[diff "evil"]\n\ttextconv = "touch {mark}-textconv; cat"\n'
            f'[uploadpack]\n\tpackObjectsHook = "touch {mark}-packhook"\n'
        )
    (work / ".gitattributes").write_text("* filter=evil diff=evil\n")
    for hook in ("post-checkout", "pre-commit", "post-merge", "reference-transaction"):
        h = work / ".git" / "hooks" / hook
        h.write_text(f"#!/bin/sh\ntouch {mark}-{hook}\n")
        h.chmod(0o755)
    (work / "src" / "app.py").write_text("x = 2\n")
    safe = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
    safe += ("-c", "filter.evil.clean=cat", "-c", "filter.evil.smudge=cat")
    safe += ("-c", "filter.evil.process=")
    run_git(work, *safe, "add", "-A")
    run_git(work, *safe, "commit", "-qm", "agent")
    (work / "src" / "app.py").write_text("x = 3\n")
    snap = await host.git.diff("w", force=True)
    assert {f.path for f in snap.files} == {".gitattributes", "src/app.py"}
    assert snap.ahead == 1 and snap.uncommitted == ("src/app.py",)
    assert any(line == "+x = 3" for line in snap.file("src/app.py").lines)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []


def _tool_names(request: dict) -> set[str]:
    return {t["function"]["name"] for t in request["body"].get("tools", [])}


async def test_the_sync_tool_and_git_prompt_only_in_bound_workspaces(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(["one", "two"])
    host = await make_host(_config(server, repo) + "[workspaces.plain]\n")
    await _turn(host, "w", "hi")
    await _turn(host, "plain", "hi")
    bound, plain = server.requests[0], server.requests[1]
    assert "sync_to_main" in _tool_names(bound) and "sync_to_main" not in _tool_names(plain)
    system = bound["body"]["messages"][0]["content"]
    assert "branch pynchy/w" in system and "sync_to_main" in system
    assert "pynchy/" not in plain["body"]["messages"][0]["content"]
    assert host.workspace_dir("plain") == host.paths.workspaces_dir / "plain"


async def test_rename_and_delete_a_bound_workspace(make_host, scripted, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    host = await make_host(_config(scripted([]), repo))
    work = host.workspace_dir("w")
    (work / "wip.txt").write_text("work in progress\n")
    await host.rename_workspace("w", "v")
    moved = host.workspace_dir("v")
    assert moved == host.paths.data_dir / "worktrees" / "v" and not work.exists()
    assert (moved / "wip.txt").exists()
    assert run_git(moved, "branch", "--show-current") == "pynchy/w"  # the branch keeps its name
    snap = await host.git.diff("v", force=True)
    assert [f.path for f in snap.files] == ["wip.txt"]
    trash = await host.delete_workspace("v")
    assert trash is not None and (trash / "wip.txt").exists()
    assert (trash / ".pynchy-shadow.git").is_dir()
    assert not moved.exists() and "v" not in host.git.bindings
    assert main_sha(repo) == run_git(repo, "rev-parse", "HEAD")  # the person's repo untouched


async def test_a_review_the_person_asked_for_counts_in_todays_usage(
    make_host, scripted, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = scripted(
        [{"steps": [{"text": '{"verdict": "approve", "reasons": []}'}], "match": "## The diff"}]
    )
    host = await make_host(_config(server, repo, "deputy_review = true\n"))
    work = host.workspace_dir("w")
    (work / "n.txt").write_text("n\n")
    run_git(work, "add", "-A")
    run_git(work, "commit", "-qm", "n")
    before = await host.today_usage()
    r = await host.sync_to_main("w")
    assert r.status == "synced", r.message
    after = await host.today_usage()
    assert after[0] + after[1] > before[0] + before[1]
    assert "+n" in "\n".join(
        m.get("content", "")
        for m in server.requests[0]["body"]["messages"]
        if isinstance(m.get("content"), str)
    )


async def test_a_bare_repository_works_too(make_host, scripted, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    bare = tmp_path / "bare.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    host = await make_host(_config(scripted([]), bare))
    work = host.workspace_dir("w")
    (work / "b.txt").write_text("b\n")
    run_git(work, "add", "-A")
    run_git(work, "commit", "-qm", "into a bare repo")
    r = await host.sync_to_main("w")
    assert r.status == "synced", r.message
    assert run_git(bare, "log", "--format=%s", "-1", "main") == "into a bare repo"

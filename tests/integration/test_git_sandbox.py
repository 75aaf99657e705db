"""Git inside real sandboxes (the docker engine and bubblewrap): the agent's git works in its
clone at /workspace (status, diff, commit, log), the person's repository is not visible from
inside, and main reaches the clone (a bundle through the toolbox) for a rebase."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynchy_tui.events import TurnFinished
from tests.conftest import account_toml, wait_for
from tests.integration.conftest import runtime_toml
from tests.integration.git_helpers import commit_file, main_sha, make_repo, run_git, subjects

pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("engine")]


def _results(request: dict) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("runtime", ["docker", "bubblewrap"])
async def test_git_in_the_sandbox_then_sync_with_a_rebase(
    runtime: str, require_runtime, make_host, scripted, tmp_path: Path
) -> None:
    require_runtime(runtime)
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n", "docs.md": "docs\n"})
    server = scripted(
        [
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": "pwd; git status --short --branch; echo 'y = 2' >> app.py; "
                        "git diff --stat; git commit -qam 'add y'; git log --format=%s -2"
                    },
                }
            ],
            [
                {
                    "tool": "bash",
                    "args": {
                        "command": f"test -e {repo} && echo visible || echo invisible; "
                        "test -e .git/objects/info/alternates && echo shared || echo own"
                    },
                }
            ],
            [{"tool": "sync_to_main", "args": {}}],
            [{"tool": "bash", "args": {"command": "git log --format=%s -3; git status -sb"}}],
            [{"text": "done"}],
        ]
    )
    host = await make_host(
        account_toml("acc", server) + f'\n[workspaces.w]\nrepo = "{repo}"\n' + runtime_toml(runtime)
    )
    person = commit_file(repo, "docs.md", "docs\nmore docs\n", "person docs")  # main moves
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit("w", "add y and sync")
        done = await wait_for(sub, lambda e: e.workspace == "w", 120)
    assert done.status == "done", done.error
    assert host.sandboxes.sandbox("w").runtime == runtime
    r = _results(server.requests[-1])
    assert r[0].splitlines()[0] == "/workspace"
    assert "## pynchy/w...origin/main" in r[0]
    assert "app.py | 1 +" in r[0] and "add y\ninitial" in r[0]
    assert r[1].splitlines()[:2] == ["invisible", "own"]  # the person's repo is not there
    assert "Synced: 1 commit(s)" in r[2], r[2]
    assert r[3].splitlines()[:3] == ["add y", "person docs", "initial"]
    assert "## pynchy/w...origin/main" in r[3] and "ahead" not in r[3]
    assert subjects(repo)[:3] == ["add y", "person docs", "initial"]
    assert run_git(repo, "rev-parse", "main~1") == person
    assert (repo / "app.py").read_text() == "x = 1\ny = 2\n"
    assert main_sha(repo) == run_git(host.workspace_dir("w"), "rev-parse", "HEAD")

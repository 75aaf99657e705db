"""Real git repositories in temp dirs for the git tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "safe.directory=*", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    run_git(path, "init", "-q", "-b", branch)
    run_git(path, "config", "user.name", "Person")
    run_git(path, "config", "user.email", "person@example.invalid")
    for name, text in (files or {"README.md": "# project\n", "src/app.py": "x = 1\n"}).items():
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    run_git(path, "add", "-A")
    run_git(path, "commit", "-qm", "initial")
    return path


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    p = repo / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    run_git(repo, "add", name)
    run_git(repo, "commit", "-qm", message)
    return run_git(repo, "rev-parse", "HEAD")


def main_sha(repo: Path, branch: str = "main") -> str:
    return run_git(repo, "rev-parse", f"refs/heads/{branch}")


def subjects(repo: Path, branch: str = "main") -> list[str]:
    return run_git(repo, "log", "--format=%s", branch).splitlines()

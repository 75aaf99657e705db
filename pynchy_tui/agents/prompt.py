"""The system prompt: a short base, the workspace's directive files, and its context."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

BASE = """You are an agent working for one person inside pynchy, a terminal home for AI agents.
You work in the workspace "{workspace}": your tools run in its sandbox, whose files are at
{root} (the current directory of every command). Use the tools to inspect and change
files and to run commands; keep the person informed, be concise, and say plainly when
something failed. Your final message of a turn is shown to the person as your reply."""

MAX_DIRECTIVE_CHARS = 40_000


def directive_texts(paths: list[str], workspace_dir: Path) -> list[tuple[str, str]]:
    """(name, text) of each directive file; relative paths are relative to the workspace."""
    out = []
    for p in paths:
        path = Path(p).expanduser()
        if not path.is_absolute():
            path = workspace_dir / path
        try:
            text = path.read_text(encoding="utf-8", errors="replace")[:MAX_DIRECTIVE_CHARS]
        except OSError as exc:
            text = f"(directive file could not be read: {exc.strerror})"
        out.append((str(p), text))
    return out


def build_system_prompt(
    workspace: str,
    directives: list[tuple[str, str]],
    now: dt.datetime | None = None,
    root: str = "/workspace",
) -> str:
    now = now or dt.datetime.now().astimezone()
    parts = [BASE.format(workspace=workspace, root=root)]
    parts.append(f"Current date and time: {now.strftime('%Y-%m-%d %H:%M %Z')}.")
    for name, text in directives:
        parts.append(f"<directive file={name!r}>\n{text.strip()}\n</directive>")
    return "\n\n".join(parts)

"""The offline demo: a scripted model server running a tour of pynchy, clearly labelled.

It exercises streaming, tool calls in the workspace's sandbox, and the panes, with no account
and no network."""

from __future__ import annotations

from typing import Any

DEMO_ACCOUNT = "demo"
DEMO_WORKSPACE = "demo"
DEMO_FIRST_MESSAGE = "Give me the tour, please."

TOUR: list[Any] = [
    [
        {
            "text": "**This is the pynchy demo** — replies come from a scripted model on this "
            "machine, not a real one.\n\nI work in this workspace's *sandbox*. Let me look around "
            "with a shell command:",
            "chunk": 6,
            "interval_ms": 15,
        },
        {"tool": "bash", "args": {"command": 'echo "I run in: $(pwd)"; uname -sr; ls -la'}},
    ],
    [
        {
            "text": "Now I'll write a file, using the `write_file` tool:",
            "chunk": 6,
            "interval_ms": 15,
        },
        {
            "tool": "write_file",
            "args": {"path": "hello.py", "content": "print('hello from the pynchy demo')\n"},
        },
    ],
    [
        {
            "tool": "edit_file",
            "args": {
                "path": "hello.py",
                "old_string": "hello from",
                "new_string": "greetings from",
            },
        },
    ],
    [
        {"tool": "bash", "args": {"command": "python3 hello.py"}},
    ],
    [
        {
            "text": "That's the loop: I think on your machine, my tools run in the sandbox, and "
            "your API keys never enter it.\n\nWhat you can try next:\n\n"
            "- watch the **containers** pane on the right while I work\n"
            "- open a tool block above (click it) to see its output\n"
            "- type `/` for commands, **Ctrl+P** for the palette, **F1** for help\n\n"
            "```python\nprint('greetings from the pynchy demo')\n```\n\n"
            "To use a real model, press **F2** or add an `[accounts.NAME]` table to config.toml.",
            "chunk": 8,
            "interval_ms": 10,
        },
    ],
]


def start_demo_server() -> Any:
    from pynchy_tui.testing.scripted_model import ScriptedModelServer

    server = ScriptedModelServer(script=TOUR)
    server.add_replies(
        [[{"text": "(demo) I only know the tour. Press F2 to set up a real model account."}]] * 50
    )
    return server.start()

"""A real terminal: `pynchy` in tmux against the scripted model. Type, see the streamed reply
and the tool call on screen, quit cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import account_toml, process_runtime_toml


class Tmux:
    """One tmux server on a private socket, so tests never touch a person's sessions."""

    def __init__(self, socket: Path, session: str) -> None:
        path = shutil.which("tmux")
        if path is None:
            if os.environ.get("CI"):
                pytest.fail("tmux is required in CI (.ci/run installs it)")
            pytest.skip("tmux is not installed")
        self.base = [path, "-S", str(socket)]
        self.session = session

    def run(self, *args: str) -> str:
        return subprocess.run(
            self.base + list(args), check=True, capture_output=True, text=True
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if needle in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared on screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(self.base + ["kill-server"], capture_output=True)


@pytest.mark.xdist_group("tmux")
def test_pynchy_in_a_real_terminal(home: Path, scripted, tmp_path: Path) -> None:
    server = scripted(
        [
            [
                {"text": "Checking the sandbox", "chunk": 4, "interval_ms": 20},
                {"tool": "bash", "args": {"command": "echo tool-ran-ok"}},
            ],
            [{"text": "All **done** from the scripted model.", "chunk": 3, "interval_ms": 20}],
        ]
    )
    (home / "config.toml").write_text(
        account_toml("local", server) + "[workspaces.notes]\n" + process_runtime_toml()
    )
    tmux = Tmux(tmp_path / "tmux.sock", f"pynchy-test-{os.getpid()}")
    exit_file = tmp_path / "exit-code"
    cmd = f"PYNCHY_HOME={home} {sys.executable} -m pynchy_tui; echo $? > {exit_file}"
    tmux.run("new-session", "-d", "-s", tmux.session, "-x", "140", "-y", "40", cmd)
    try:
        tmux.wait_for("host ready")
        tmux.run("send-keys", "-t", tmux.session, "hello from tmux")
        tmux.wait_for("hello from tmux")
        tmux.run("send-keys", "-t", tmux.session, "Enter")
        screen = tmux.wait_for("All done from the scripted model.")
        assert "Checking the sandbox" in screen
        assert "bash" in screen and "echo tool-ran-ok" in screen and "exit 0" in screen
        tmux.run("send-keys", "-t", tmux.session, "C-q")
        deadline = time.monotonic() + 20
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.kill()

"""Helpers shared by the TUI benchmarks (bench/tui_stream.py, bench/tui_startup.py).

tui_startup.py imports this module in the child processes whose start-up it times, so at
import time it costs next to nothing: textual, pynchy and the heavier stdlib modules are
imported where they are used.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Modules that must not be imported before the first frame (DESIGN: anthropic alone ~1.3 s).
HEAVY = ("anthropic", "openai", "docker")
# Worth knowing about, but not a finding on their own.
NOTABLE = ("httpx", "pydantic", "git", "watchfiles", "tomlkit", "pygments", "tree_sitter")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB, from /proc/self/status."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def machine() -> str:
    """CPUs and load average, printed with the figures: other work on the box skews them."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min) / {five:.1f} (5 min)"


def loaded(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in sys.modules]


def write_config(home: Path, base_url: str, workspaces: list[str], extra: str = "") -> None:
    """One openai-compatible account (the scripted model) and the given workspaces."""
    lines = [
        "[accounts.bench]",
        'provider = "openai"',
        'model = "scripted-model"',
        f'base_url = "{base_url}"',
        'api_key = "bench"',
        "",
    ]
    for name in workspaces:
        lines += [f"[workspaces.{name}]", 'account = "bench"', ""]
    lines += ["[runtime]", 'runtime = "process"', "allow_unsandboxed = true", ""]
    (home / "config.toml").write_text("\n".join(lines) + extra)


class FrameProbe:
    """Wraps `app._display`, which the screen calls with each compositor update (a frame).

    Headless, Textual drops the update without turning it into terminal output; the probe
    does that part itself (`render_segments`, discarded), so a frame costs what it would cost
    on a terminal. After each frame it calls the registered watchers with the frame's time
    (time.perf_counter()); a watcher returning True is removed."""

    def __init__(self, app: Any, render: bool = True) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.frames = 0
        self.first: float | None = None
        self._watchers: list[Callable[[float], bool]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            if render and isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            now = time.perf_counter()
            self.frames += 1
            if self.first is None:
                self.first = now
            if self._watchers:
                self._watchers = [w for w in self._watchers if not self._call(w, now)]

        app._display = display

    @staticmethod
    def _call(watcher: Callable[[float], bool], now: float) -> bool:
        try:
            return watcher(now)
        except Exception as exc:  # a bench bug must not take the app down with it
            print(f"  ! frame watcher failed and was dropped: {exc!r}", file=sys.__stderr__)
            return True

    def watch(self, watcher: Callable[[float], bool]) -> None:
        self._watchers.append(watcher)

    def clear(self) -> None:
        self._watchers.clear()


def _die_with_parent() -> None:
    """In a child, before exec: get SIGTERM when the parent dies (Linux), so an interrupted
    bench leaves no server behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class ScriptedProcess:
    """The scripted model server in its own process (its threads keep off our GIL)."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pynchy_tui.testing.scripted_model", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"scripted model did not start: {line!r}")
        self.url = line.split()[-1]
        self.openai_url = self.url + "/v1"

    def add_replies(self, replies: list[Any]) -> dict[str, Any]:
        import json
        import urllib.request

        req = urllib.request.Request(
            self.url + "/_scripted/replies",
            data=json.dumps(replies).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def stop(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ScriptedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

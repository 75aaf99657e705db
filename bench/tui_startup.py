"""Start-up of the TUI: time to first frame of `pynchy` versus a bare Textual app, and
resident memory after opening a workspace with 10,000 messages.

First frame. Each run is a fresh `python` process (so every import counts), alternating:
(a) `pynchy` exactly as the console script runs it (`pynchy_tui.cli.main([])`: config load,
    log setup, host lock, PynchyApp with the control socket; the host starts in a worker),
    with one account and two workspaces; `App.run` is redirected to headless 140x40;
(b) a bare Textual App showing a Label, headless 140x40.
Children run with Python's default bytecode caching (the warm-up runs write pynchy's
__pycache__, as the first run after an install does on a user's machine), whatever
PYTHONDONTWRITEBYTECODE says in the bench's own environment.
A frame is a compositor update handed to `App._display`, rendered to the terminal string by
bench/_tui_common.FrameProbe (headless Textual would drop it unrendered). Times use
time.perf_counter() (CLOCK_MONOTONIC, shared by parent and child), so we get: script start
-> first frame in the child; spawn -> first frame (interpreter start-up included); spawn ->
exit of the whole process. For pynchy also: the first frame painted once the host is ready
and a workspace is selected. At the first frame the child lists which heavy modules are
loaded (DESIGN: importing anthropic costs ~1.3 s; the first frame must not wait for anthropic,
openai or docker). One extra run under `python -X importtime` names the biggest imports
before the first frame.

Memory. A PYNCHY_HOME whose SQLite db has a workspace with 10,000 messages (5,000 exchanges
of markdown, written with the pynchy_tui.state modules). In a fresh process, pynchy opens
headless at 140x40, selects that workspace, waits until `main_screen.history_shown` is it
and the page is painted, then reads VmRSS (and the peak, VmHWM) from /proc/self/status;
beside it the bare Textual app's RSS after its first frame. Median of --mem-runs runs.

Targets: first frame under 1.5x the bare app; RSS under 200 MB with 10,000 messages.

    python bench/tui_startup.py [--runs 10] [--mem-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._tui_common import HEAVY, NOTABLE, FrameProbe, loaded, machine, pct, rss_mb

T_START = time.perf_counter()  # child: the script is running, its stdlib imports done
SIZE = (140, 40)
TARGET_RATIO = 1.5
TARGET_RSS_MB = 200.0
MESSAGES = 10_000
MARK = b"@@first-frame\n"


# -- children ------------------------------------------------------------------------------


def child_pynchy(mode: str) -> dict[str, Any]:
    """Run `pynchy` (cli.main) with App.run redirected to headless; report as a dict."""
    import pynchy_tui.app as app_module
    import pynchy_tui.cli as cli

    out: dict[str, Any] = {"t_start": T_START, "t_imported": time.perf_counter()}
    original_run = app_module.PynchyApp.run

    def run(self: Any, **_kwargs: Any) -> Any:
        probe = FrameProbe(self)
        probe.watch(lambda _now: at_first_frame(out))

        def ready() -> bool:
            screen = self.main_screen
            return screen.status.host_state == "ready" and screen.selected is not None

        async def pilot(pilot: Any) -> None:
            while probe.first is None:
                await asyncio.sleep(0.001)
            out["t_frame"] = probe.first
            ready_at: list[float] = []

            def painted_ready(now: float) -> bool:
                if ready():
                    ready_at.append(now)
                    return True
                return False

            probe.watch(painted_ready)
            deadline = time.perf_counter() + 20
            while not ready_at and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            out["t_ready"] = ready_at[0] if ready_at else None
            out["heavy_at_ready"] = loaded(HEAVY)
            if mode == "memory":
                await open_big(self, pilot, out)
            self.exit()

        return original_run(self, headless=True, size=SIZE, auto_pilot=pilot)

    app_module.PynchyApp.run = run  # type: ignore[method-assign]
    out["rc"] = cli.main([])
    return out


def at_first_frame(out: dict[str, Any]) -> bool:
    """A one-shot frame watcher: what is imported when the first frame is painted."""
    out["heavy_at_frame"] = loaded(HEAVY)
    out["notable_at_frame"] = loaded(NOTABLE)
    out["modules_at_frame"] = len(sys.modules)
    if os.environ.get("BENCH_IMPORTTIME"):
        os.write(2, MARK)
    return True


async def open_big(app: Any, pilot: Any, out: dict[str, Any]) -> None:
    from pynchy_tui.widgets.chat_message import ChatMessage

    while app.main_screen.history_shown is None:  # the first workspace (empty) is shown
        await asyncio.sleep(0.002)
    for _ in range(3):
        await pilot.pause()
    out["rss_ready"] = rss_mb()[0]
    t0 = time.perf_counter()
    await app.main_screen.select("big")
    while app.main_screen.history_shown != "big":
        await asyncio.sleep(0.002)
    out["open_ms"] = (time.perf_counter() - t0) * 1000
    for _ in range(3):
        await pilot.pause()
    out["messages_mounted"] = len(app.main_screen.query(ChatMessage))
    out["widgets"] = sum(1 for _ in app.screen.walk_children())
    out["rss"], out["hwm"] = rss_mb()


def child_bare() -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("hello")

    out: dict[str, Any] = {"t_start": T_START, "t_imported": time.perf_counter()}
    app = Bare()
    probe = FrameProbe(app)
    probe.watch(lambda _now: at_first_frame(out))

    async def pilot(pilot: Any) -> None:
        while probe.first is None:
            await asyncio.sleep(0.001)
        out["t_frame"] = probe.first
        out["rss"], out["hwm"] = rss_mb()
        app.exit()

    app.run(headless=True, size=SIZE, auto_pilot=pilot)
    return out


def child_main(kind: str) -> None:
    out = child_bare() if kind == "bare" else child_pynchy(kind)
    sys.stdout.write(json.dumps(out) + "\n")


# -- parent --------------------------------------------------------------------------------


def spawn(kind: str, home: Path, importtime: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYNCHY_HOME": str(home), "TZ": "UTC"}
    # Python's default: compiled modules are cached in __pycache__ (pip does it at install for
    # the libraries). Some machines set PYTHONDONTWRITEBYTECODE, which would make every run
    # recompile pynchy's own modules while Textual's stay precompiled: not what users run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable]
    if importtime:
        cmd += ["-X", "importtime"]
        env["BENCH_IMPORTTIME"] = "1"
    cmd += [__file__, "--child", kind]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    t1 = time.perf_counter()
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{kind} child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["t_spawn"], out["t_exit"] = t0, t1
    out["stderr"] = proc.stderr if importtime else ""
    return out


def config_text(workspaces: list[str]) -> str:
    lines = [
        "[accounts.personal]",
        'provider = "openai"',
        'model = "scripted-model"',
        'base_url = "http://127.0.0.1:9/v1"',
        'api_key = "bench"',
        "",
    ]
    for name in workspaces:
        lines += [f"[workspaces.{name}]", 'account = "personal"', ""]
    lines += ["[runtime]", 'runtime = "process"', "allow_unsandboxed = true", ""]
    return "\n".join(lines)


def build_history(home: Path) -> None:
    """A db whose workspace `big` has MESSAGES messages (half user, half assistant)."""
    os.environ["PYNCHY_HOME"] = str(home)
    from pynchy_tui.config import resolve_paths
    from pynchy_tui.state import messages, turns, workspaces
    from pynchy_tui.state.db import Store, transaction

    paths = resolve_paths()
    paths.ensure()
    store = Store(paths.db_path)

    def fill(conn: Any) -> None:
        with transaction(conn):
            ws = workspaces.create(conn, "big", "personal")
            for i in range(MESSAGES // 2):
                turn = turns.start(conn, ws.id, "personal", "scripted-model")
                msg, _ = messages.add_inbound(
                    conn,
                    ws.id,
                    f"Step {i}: can you check why `parse_{i % 97}` fails?",
                    source="tui",
                )
                messages.mark_consumed(conn, [msg.id], turn)
                messages.add_outbound(conn, ws.id, assistant_reply(i), turn_id=turn)
                turns.finish(conn, turn, "done")

    try:
        store.call_sync(fill)
    finally:
        store.close()


def assistant_reply(i: int) -> str:
    text = (
        f"I looked at `parse_{i % 97}`. The loader passes an empty value through, so the "
        "parser splits nothing and returns an empty key. I added a check before the split and "
        "a test for the empty case.\n\n"
        "- the check raises a clear error naming the line\n"
        "- the test covers empty, blank and missing values\n"
    )
    if i % 4 == 0:
        text += (
            "\n```python\ndef parse(line: str) -> dict:\n"
            '    key, _, value = line.partition("=")\n'
            "    if not key.strip():\n"
            '        raise ValueError(f"empty key in {line!r}")\n'
            "    return {key.strip(): value.strip()}\n```\n"
        )
    return text + "\nAll tests pass now."


def importtime_own(stderr: str) -> list[tuple[str, float]]:
    """(module, own import ms) for every module imported before MARK (python -X importtime)."""
    rows = []
    for line in stderr.split(MARK.decode().strip())[0].splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line[len("import time:") :].split("|")
        if own.strip().isdigit():  # not the header line
            rows.append((name.strip(), int(own) / 1000))
    return rows


def by_package(rows: list[tuple[str, float]], n: int) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for name, own in rows:
        root = name.split(".")[0]
        totals[root] = totals.get(root, 0.0) + own
    return sorted(totals.items(), key=lambda kv: -kv[1])[:n]


def stats(values: list[float]) -> str:
    return f"p50 {pct(values, 50):6.0f} ms, p95 {pct(values, 95):6.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--mem-runs", type=int, default=3)
    parser.add_argument("--child", choices=["frame", "memory", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return

    started = time.perf_counter()
    print(f"({machine()} at the start)")
    root = Path(tempfile.mkdtemp(prefix="pynchy-bench-startup-"))
    small, big = root / "small", root / "big"
    small.mkdir()
    big.mkdir()
    (small / "config.toml").write_text(config_text(["notes", "garden"]))
    (big / "config.toml").write_text(config_text(["alpha", "big"]))  # alpha: selected first

    spawn("bare", small)  # warm the page cache and .pyc files
    spawn("frame", small)
    runs: dict[str, list[dict[str, Any]]] = {"frame": [], "bare": []}
    for _ in range(args.runs):
        for kind in ("frame", "bare"):
            runs[kind].append(spawn(kind, small))
    traced = spawn("frame", small, importtime=True)

    t_build = time.perf_counter()
    build_history(big)
    build_s = time.perf_counter() - t_build
    mem = [spawn("memory", big) for _ in range(args.mem_runs)]
    bare_mem = [r["rss"] for r in runs["bare"]]

    def series(kind: str, a: str, b: str) -> list[float]:
        return [(r[a] - r[b]) * 1000 for r in runs[kind] if r.get(a) is not None]

    print(f"time to first frame, {args.runs} fresh processes each, headless {SIZE[0]}x{SIZE[1]}")
    rows = [
        (
            "script start -> app module imported (pynchy_tui.app + cli / textual)",
            "t_imported",
            "t_start",
        ),
        ("script start -> first frame", "t_frame", "t_start"),
        ("spawn -> first frame", "t_frame", "t_spawn"),
        ("spawn -> process exit", "t_exit", "t_spawn"),
    ]
    ratios = {}
    for label, a, b in rows:
        p, bare = series("frame", a, b), series("bare", a, b)
        ratios[label] = statistics.median(p) / statistics.median(bare)
        print(f"  {label}:")
        print(f"    pynchy     {stats(p)}")
        print(f"    bare       {stats(bare)}")
        print(f"    ratio p50  {ratios[label]:.2f}x")
    ready = series("frame", "t_ready", "t_spawn")
    if ready:
        print("  pynchy, spawn -> first frame with the host ready and a workspace selected:")
        print(f"    pynchy     {stats(ready)}")
    print(
        f"  ratio pynchy / bare, spawn -> first frame (p50): "
        f"{ratios['spawn -> first frame']:.2f}x   (target < {TARGET_RATIO}x)"
    )

    first = runs["frame"][0]
    heavy = sorted({m for r in runs["frame"] for m in r["heavy_at_frame"]})
    print()
    print(
        f"modules loaded at pynchy's first frame: {first['modules_at_frame']} "
        f"(bare app: {runs['bare'][0]['modules_at_frame']})"
    )
    if heavy:
        print("!" * 78)
        print(f"!!! FINDING: {', '.join(heavy)} imported BEFORE the first frame")
        print("!" * 78)
    else:
        print(f"  none of {', '.join(HEAVY)} is imported before the first frame")
    print(f"  also loaded by then: {', '.join(first['notable_at_frame']) or 'none of note'}")
    later = sorted({m for r in runs["frame"] for m in r.get("heavy_at_ready", [])} - set(heavy))
    if later:
        print(f"  imported by the time the host is ready: {', '.join(later)}")
    rows = importtime_own(traced["stderr"])
    if rows:
        total = sum(own for _, own in rows)
        print(
            f"  imports before the first frame (python -X importtime, one run): {total:.0f} ms "
            "of the modules' own time; by package:"
        )
        print("    " + ", ".join(f"{name} {own:.0f}" for name, own in by_package(rows, 8)))
        slow = sorted(rows, key=lambda r: -r[1])[:6]
        print("  slowest single modules (own ms):")
        print("    " + ", ".join(f"{name} {own:.0f}" for name, own in slow))
    print()
    m = mem[0]
    rss = statistics.median(r["rss"] for r in mem)
    print(
        f"memory, workspace with {MESSAGES:,} messages (db built in {build_s:.1f} s); "
        f"median of {len(mem)} fresh processes:"
    )
    hwm = statistics.median(r["hwm"] for r in mem)
    before = statistics.median(r["rss_ready"] for r in mem)
    open_ms = statistics.median(r["open_ms"] for r in mem)
    print(f"  pynchy RSS after opening it: {rss:.0f} MB (peak {hwm:.0f} MB)", end="")
    print(f"   (target < {TARGET_RSS_MB:.0f} MB)")
    print(f"  pynchy RSS when ready, before opening it: {before:.0f} MB")
    print(f"  bare Textual app RSS after its first frame: {statistics.median(bare_mem):.0f} MB")
    print(
        f"  opening it: select -> history shown {open_ms:.0f} ms (median); "
        f"{m['messages_mounted']} messages mounted, {m['widgets']:,} widgets on the screen"
    )
    print(f"(bench took {time.perf_counter() - started:.0f} s; {machine()})")


if __name__ == "__main__":
    main()

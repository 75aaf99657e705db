"""The diff pane's refresh: from a file write in a bound workspace to the updated diff on screen.

A repository of 10,000 files (100 directories, 20 lines each) is bound to a workspace; its
clone carries a 1,000-line change (10 files, 100 lines each rewritten). Each round rewrites
one of those files (same size, a new marker line) and measures, in the real app run headless,
the time until the diff pane shows the new marker and the screen has been refreshed: the
watcher (watchfiles, debounced), the shadow index (`git add -A` over 10,000 files), the diff
read and the pane redraw, all included. For scale, `git diff` of the same clone run directly
(a subprocess per call), in the same run.

    python bench/diff_refresh.py [--rounds 40] [--files 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pynchy_tui.app import PynchyApp
from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.widgets.diff_pane import DiffPane

CHANGED_FILES = 10
LINES_PER_CHANGE = 100


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "LC_ALL": "C"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    return subprocess.run(
        ["git", "-c", "safe.directory=*", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    for i in range(files):
        d = repo / "src" / f"d{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"m{i:05d}.py").write_text("".join(f"value_{j} = {i} + {j}\n" for j in range(20)))
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "10,000 files")
    return repo


def changed_path(work: Path, k: int) -> Path:
    return work / "src" / f"d{k:03d}" / f"m{k * 100:05d}.py"


def write_change(work: Path, k: int, marker: str) -> None:
    lines = [f"changed_{j} = '{marker}' * {j}\n" for j in range(LINES_PER_CHANGE - 1)]
    changed_path(work, k).write_text(f"MARKER = '{marker}'\n" + "".join(lines))


def time_git_diff(work: Path, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(
            ["git", "-c", "safe.directory=*", "diff", "--no-color"],
            cwd=work,
            check=True,
            capture_output=True,
        )
        out.append(time.perf_counter() - t0)
    return out


async def bench(rounds: int, files: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pynchy-bench-diff-"))
    t0 = time.perf_counter()
    repo = make_repo(root, files)
    print(f"   repository: {files:,} files, made in {time.perf_counter() - t0:.1f} s")
    home = root / "home"
    home.mkdir()
    os.environ["PYNCHY_HOME"] = str(home)
    (home / "config.toml").write_text(
        '[runtime]\nruntime = "process"\nallow_unsandboxed = true\nidle_timeout = "0s"\n'
        f'[workspaces.w]\nrepo = "{repo}"\n'
    )
    paths = resolve_paths()
    app = PynchyApp(load_config(paths.config_file), paths, control=False)
    seen: dict[str, float] = {}
    real_show = DiffPane.show_snapshot

    def show(self: DiffPane, snap) -> None:  # type: ignore[no-untyped-def]
        real_show(self, snap)
        for f in snap.files:
            for line in f.lines or ():
                if line.startswith("+MARKER = '"):
                    seen.setdefault(line[len("+MARKER = '") : -1], time.perf_counter())

    DiffPane.show_snapshot = show  # type: ignore[method-assign]
    results: list[float] = []
    computes: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        t0 = time.perf_counter()
        while app.host.state != "ready":
            await pilot.pause(0.05)
        print(f"   host ready with the clone made in {time.perf_counter() - t0:.1f} s")
        pane = app.main_screen.query_one(DiffPane)
        work = app.host.workspace_dir("w")
        for k in range(CHANGED_FILES):  # the standing 1,000-line change
            write_change(work, k, f"base-{k}")
        deadline = time.monotonic() + 60
        while "base-9" not in seen and time.monotonic() < deadline:
            await pilot.pause(0.05)
        snap = pane.snapshot
        assert snap is not None and snap.added + snap.removed >= 1000, snap
        print(
            f"   standing change: {len(snap.files)} files, +{snap.added} -{snap.removed} "
            "lines in the pane"
        )
        await asyncio.sleep(0.5)
        for i in range(rounds):
            marker = f"round-{i}"
            k = i % CHANGED_FILES
            start = time.perf_counter()
            write_change(work, k, marker)
            deadline = time.monotonic() + 10
            while marker not in seen and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
            if marker not in seen:
                raise SystemExit(f"round {i}: the pane never showed the change")
            await pilot.pause()  # the frame with it is drawn
            results.append(time.perf_counter() - start)
            await asyncio.sleep(0.15)  # let the next write be a new burst
        for _ in range(20):  # the host's diff read alone (what the pane waits for)
            app.host.git._revision["w"] = app.host.git._revision.get("w", 0) + 1
            t = time.perf_counter()
            await app.host.git.diff("w")
            computes.append(time.perf_counter() - t)
        baseline = time_git_diff(work, 40)
    DiffPane.show_snapshot = real_show  # type: ignore[method-assign]
    p50, p95 = pct(results, 50) * 1000, pct(results, 95) * 1000
    b50, b95 = pct(baseline, 50) * 1000, pct(baseline, 95) * 1000
    c50, c95 = pct(computes, 50) * 1000, pct(computes, 95) * 1000
    print(
        f"   write -> diff on screen            p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   n={rounds}"
    )
    print(f"   of which the host's diff read       p50 {c50:8.2f} ms   p95 {c95:8.2f} ms   n=20")
    print(f"   baseline: `git diff` run directly   p50 {b50:8.2f} ms   p95 {b95:8.2f} ms   n=40")
    mean = statistics.mean(results) * 1000
    print(f"   ratio pane/git diff (p50): {p50 / b50:.1f}x   (pane mean {mean:.1f} ms)")
    print("   (the pane's time includes the watcher's 30 ms quiet period that ends a burst)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--files", type=int, default=10_000)
    args = ap.parse_args()
    lines = CHANGED_FILES * LINES_PER_CHANGE
    print(f"== diff pane refresh ({args.files:,} files, {lines:,}-line change)")
    asyncio.run(bench(args.rounds, args.files))


if __name__ == "__main__":
    main()

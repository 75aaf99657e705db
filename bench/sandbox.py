"""Sandbox costs, per isolating runtime.

- cold start: from no sandbox to the toolbox answering `hello` (image already built), p50/p95;
- warm tool round trip through the long-lived toolbox (docker: over the attach stream;
  bubblewrap: over its pipes): a `read` of a small file, and an `exec` of `cat` on it;
- the baseline, in the same run: the same read done by a fresh process per call (docker: a
  fresh `docker exec` through the SDK; bubblewrap: a fresh `bwrap` sandbox), and the ratio.

    python bench/sandbox.py [--cold 10] [--warm 500] [--baseline 40] [--runtime docker]

Targets on the reference machine: warm round trip p50 under 10 ms and at least 5x faster than
exec-per-call; cold start p50 under 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pynchy_tui.runtime.base import LABEL_HOME, LABEL_MANAGED, LABEL_WORKSPACE, SandboxSpec
from pynchy_tui.runtime.bubblewrap import BubblewrapRuntime
from pynchy_tui.runtime.docker import DockerRuntime

CONTENT = "hello from the workspace\n" * 4


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:8.2f} ms   p95 {pct(values, 95) * 1000:8.2f} ms"


async def cold_starts(rt: Any, spec: SandboxSpec, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        box = await rt.start(spec)
        times.append(time.perf_counter() - t0)
        await box.stop()
        await rt.remove(box.id)  # next start is cold again: nothing to wake
    return times


async def warm_calls(box: Any, op: str, args: dict[str, Any], n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm-up
        await box.call(op, args)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await box.call(op, args)
        times.append(time.perf_counter() - t0)
    return times


async def docker_baseline(rt: DockerRuntime, box: Any, n: int) -> list[float]:
    argv = ["cat", "/workspace/f.txt"]
    code, out = await asyncio.to_thread(rt.exec_once, box.id, argv)
    assert code == 0 and out.decode() == CONTENT, (code, out)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await asyncio.to_thread(rt.exec_once, box.id, argv)
        times.append(time.perf_counter() - t0)
    return times


async def bwrap_baseline(rt: BubblewrapRuntime, spec: SandboxSpec, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = await rt._spawn(spec, ["cat", "/workspace/f.txt"])
        out, _err = await proc.communicate()
        times.append(time.perf_counter() - t0)
        assert out.decode() == CONTENT
    return times


async def bench_runtime(name: str, args: argparse.Namespace) -> None:
    rt: Any = DockerRuntime() if name == "docker" else BubblewrapRuntime()
    ok, why = await rt.available()
    print(f"== {name}: {why}")
    if not ok:
        print("   skipped")
        return
    work = Path(tempfile.mkdtemp(prefix=f"pynchy-bench-{name}-"))
    home = "bench" + uuid.uuid4().hex[:11]
    spec = SandboxSpec(
        workspace="bench",
        workspace_dir=work,
        labels={LABEL_MANAGED: "true", LABEL_WORKSPACE: "bench", LABEL_HOME: home},
    )
    (work / "f.txt").write_text(CONTENT)
    try:
        if name == "docker":
            t0 = time.perf_counter()
            await rt.build_image(spec)
            print(f"   image ready (built or found up to date) in {time.perf_counter() - t0:.2f} s")
            # One start first so that cold starts measure the sandbox, not a first image check.
            box = await rt.start(spec)
            await box.stop()
            await rt.remove(box.id)
        cold = await cold_starts(rt, spec, args.cold)
        box = await rt.start(spec)
        try:
            read = await warm_calls(box, "read", {"path": "f.txt"}, args.warm)
            execs = await warm_calls(box, "exec", {"command": "cat f.txt"}, args.warm // 5)
            if name == "docker":
                base = await docker_baseline(rt, box, args.baseline)
                base_what = "fresh `docker exec cat` per call"
            else:
                base = await bwrap_baseline(rt, spec, args.baseline)
                base_what = "fresh `bwrap ... cat` per call"
        finally:
            await box.stop()
            await rt.remove(box.id)
    finally:
        for found in await rt.list_managed():
            if found.home == home:
                await rt.remove(found.id)
        shutil.rmtree(work, ignore_errors=True)
    via = "attach stream" if name == "docker" else "pipes"
    rows = [
        ("cold start (to toolbox hello)", cold),
        (f"warm round trip: read ({via})", read),
        ("warm round trip: exec cat", execs),
        (f"baseline: {base_what}", base),
    ]
    for label, values in rows:
        print(f"   {label:<44}{ms(values)}   n={len(values)}")
    ratio_read = pct(base, 50) / pct(read, 50)
    ratio_exec = pct(base, 50) / pct(execs, 50)
    print(f"   ratio baseline/warm (p50): read {ratio_read:.1f}x, exec {ratio_exec:.1f}x")
    checks = [
        ("warm round trip p50 < 10 ms", pct(read, 50) < 0.010),
        ("warm >= 5x faster than exec-per-call", ratio_read >= 5),
        ("cold start p50 < 1.5 s", pct(cold, 50) < 1.5),
    ]
    print("   targets: " + "; ".join(f"{what}: {'met' if ok else 'MISSED'}" for what, ok in checks))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=40)
    parser.add_argument("--runtime", choices=["docker", "bubblewrap"], action="append")
    args = parser.parse_args()
    for name in args.runtime or ["docker", "bubblewrap"]:
        await bench_runtime(name, args)


if __name__ == "__main__":
    asyncio.run(main())

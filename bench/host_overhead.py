"""The host's own cost per turn, and bus throughput.

Per turn: time from the provider's last byte (the SDK stream ending) to the turn being
committed (TurnFinished, published after the SQLite commit), p50/p95, against the scripted
model server through the real openai SDK. For scale, the same reply through the bare SDK.
Bus: events/s delivered to 4 concurrent subscribers.

    python bench/host_overhead.py [--turns 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pynchy_tui.bus import Bus
from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.events import Notice, TurnFinished
from pynchy_tui.host.host import Host
from pynchy_tui.plugins.hookspecs import hookimpl
from pynchy_tui.plugins.registry import load_plugins
from pynchy_tui.providers.openai import OpenAIProvider
from pynchy_tui.testing.scripted_model import ScriptedModelServer

REPLY = [{"text": "The quick brown fox jumps over the lazy dog. " * 8}]
stream_ended: list[float] = []


class TimedOpenAI(OpenAIProvider):
    async def stream(self, request: Any):  # type: ignore[override]
        async for ev in super().stream(request):
            if type(ev).__name__ == "Usage":
                stream_ended.append(time.perf_counter())
            yield ev


class BenchPlugin:
    @hookimpl
    def pynchy_providers(self) -> dict[str, Any]:
        return {"openai": lambda **kw: TimedOpenAI(**kw)}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def host_turns(n: int, server: ScriptedModelServer) -> tuple[list[float], list[float]]:
    home = tempfile.mkdtemp(prefix="pynchy-bench-")
    os.environ["PYNCHY_HOME"] = home
    Path(home, "config.toml").write_text(
        '[accounts.b]\nprovider = "openai"\nmodel = "scripted-model"\n'
        f'base_url = "{server.openai_url}"\n'
        '[workspaces.w]\n[runtime]\nruntime = "process"\nallow_unsandboxed = true\n'
    )
    paths = resolve_paths()
    host = Host(load_config(paths.config_file), paths, plugins=load_plugins([BenchPlugin()]))
    await host.start()
    overhead, total = [], []
    try:
        with host.bus.subscribe(TurnFinished) as sub:
            for _ in range(n):
                stream_ended.clear()
                t0 = time.perf_counter()
                await host.submit("w", "hello")
                ev = await sub.get()
                t1 = time.perf_counter()
                assert isinstance(ev, TurnFinished) and ev.status == "done", ev
                overhead.append((t1 - stream_ended[-1]) * 1000)
                total.append((t1 - t0) * 1000)
    finally:
        await host.stop()
    return overhead, total


async def bare_sdk(n: int, server: ScriptedModelServer) -> list[float]:
    import openai

    client = openai.AsyncOpenAI(api_key="x", base_url=server.openai_url, max_retries=0)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        stream = await client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": "hello"}], stream=True
        )
        async for _chunk in stream:
            pass
        out.append((time.perf_counter() - t0) * 1000)
    await client.close()
    return out


async def bus_throughput(events: int = 200_000, subscribers: int = 4) -> float:
    bus = Bus(default_maxsize=events + 10)
    subs = [bus.subscribe(Notice) for _ in range(subscribers)]
    ev = Notice("info", "x")

    async def drain(sub: Any) -> None:
        for _ in range(events):
            await sub.get()

    tasks = [asyncio.create_task(drain(s)) for s in subs]
    t0 = time.perf_counter()
    for i in range(events):
        bus.publish(ev)
        if i % 1000 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return events / (time.perf_counter() - t0)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    with ScriptedModelServer(script=[]) as server:
        server.add_replies([REPLY] * (args.turns * 2 + 10))
        await bare_sdk(5, server)  # warm-up
        sdk = await bare_sdk(args.turns, server)
        overhead, total = await host_turns(args.turns, server)
    rate = await bus_throughput()
    print(f"turns: {args.turns} (openai SDK -> scripted model, process runtime, real SQLite)")
    print(
        f"host overhead, last provider byte -> turn committed: p50 {pct(overhead, 50):.2f} ms, "
        f"p95 {pct(overhead, 95):.2f} ms"
    )
    print(f"whole turn through the host: p50 {pct(total, 50):.2f} ms, p95 {pct(total, 95):.2f} ms")
    print(
        f"bare SDK stream of the same reply: p50 {pct(sdk, 50):.2f} ms, p95 {pct(sdk, 95):.2f} ms"
    )
    ratio = statistics.median(total) / statistics.median(sdk)
    print(f"ratio host turn / bare SDK (p50): {ratio:.2f}x")
    print(f"bus throughput, 4 subscribers: {rate:,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())

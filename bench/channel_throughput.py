"""Channel throughput: messages from a fake Telegram platform through the bus to a committed
reply ledger entry.

A real host (SQLite, the scripted model over the openai SDK, the process runtime) with a
Telegram channel (python-telegram-bot) against the local fake Bot API. `--chats` chats, each
mapped to its own workspace, each sending `--rounds` messages one after another (the next
once the previous reply's ledger row is marked sent). Latency is from the person's message
reaching the fake platform to the reply's ledger row being committed as sent. For scale, the
raw client library's own request rate against the same server in the same run
(`sendMessage` calls, one after another).

    python bench/channel_throughput.py [--chats 4] [--rounds 25]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pynchy_tui.config import load_config, resolve_paths
from pynchy_tui.host.host import Host
from pynchy_tui.state import outbound
from pynchy_tui.testing.fake_telegram import FakeTelegramServer
from pynchy_tui.testing.scripted_model import ScriptedModelServer


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def config(model: ScriptedModelServer, tg: FakeTelegramServer, chats: int) -> str:
    mapping = ", ".join(f'"{1000 + i}" = "w{i}"' for i in range(chats))
    workspaces = "".join(f"[workspaces.w{i}]\n" for i in range(chats))
    return f"""
[accounts.acc]
provider = "openai"
model = "scripted-model"
base_url = "{model.openai_url}"

{workspaces}
[runtime]
runtime = "process"
allow_unsandboxed = true
idle_timeout = "600s"

[limits]
max_concurrent_agents = {chats}

[channels.tg]
type = "telegram"
token_env = "BENCH_TG_TOKEN"
base_url = "{tg.url}"
chats = {{ {mapping} }}
trusted = ["7"]
stream = false
options = {{ poll_timeout = "5" }}
"""


async def raw_client_rate(tg: FakeTelegramServer, n: int) -> float:
    import telegram

    bot = telegram.Bot("123:ABC", base_url=tg.bot_url, base_file_url=tg.file_url)
    await bot.initialize()
    t0 = time.perf_counter()
    for i in range(n):
        await bot.send_message(chat_id=1, text=f"raw {i}")
    elapsed = time.perf_counter() - t0
    await bot.shutdown()
    return n / elapsed


async def run(chats: int, rounds: int) -> None:
    os.environ["BENCH_TG_TOKEN"] = "123:ABC"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PYNCHY_HOME"] = tmp
        model = ScriptedModelServer([f"reply {i}" for i in range(chats * rounds + 10)]).start()
        tg = FakeTelegramServer().start()
        Path(tmp, "config.toml").write_text(config(model, tg, chats))
        paths = resolve_paths()
        host = Host(load_config(paths.config_file), paths)
        sent_at: dict[int, float] = {}
        real_mark_sent = outbound.mark_sent

        def mark_sent(conn, entry_id, external_id):  # type: ignore[no-untyped-def]
            real_mark_sent(conn, entry_id, external_id)
            sent_at[entry_id] = time.perf_counter()  # committed (mark_sent's transaction)

        outbound.mark_sent = mark_sent  # type: ignore[assignment]
        await host.start()
        while host.channels.states.get("tg") != "connected":
            await asyncio.sleep(0.01)
        latencies: list[float] = []

        async def chat(i: int) -> None:
            chat_id = 1000 + i
            for r in range(rounds):
                t0 = time.perf_counter()
                tg.post_text(chat_id, 7, f"message {r}")
                while True:
                    row = await host.store.call(
                        lambda c, ch=str(chat_id): c.execute(
                            "SELECT COUNT(*), MAX(id) FROM outbound"
                            " WHERE chat = ? AND status = 'sent'",
                            (ch,),
                        ).fetchone()
                    )
                    if row[0] > r and row[1] in sent_at:
                        break
                    await asyncio.sleep(0.002)
                latencies.append(sent_at[row[1]] - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(chat(i) for i in range(chats)))
        elapsed = time.perf_counter() - t0
        await host.stop()
        outbound.mark_sent = real_mark_sent  # type: ignore[assignment]
        raw = await raw_client_rate(tg, 200)
        tg.stop()
        model.stop()
    total = chats * rounds
    print(f"channel throughput: {total} exchanges over {chats} chat(s) in {elapsed:.2f} s")
    print(f"  {total / elapsed:.1f} messages/s through the bus to a committed reply ledger entry")
    print(
        f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {pct(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(f"  raw python-telegram-bot sendMessage against the same server: {raw:.0f} requests/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    asyncio.run(run(args.chats, args.rounds))


if __name__ == "__main__":
    main()

"""Command line: pynchy | serve | send | doctor | status | --version."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from pynchy_tui import __version__
from pynchy_tui.config import Config, ConfigError, Paths, load_config, resolve_paths

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pynchy", description="A terminal home for your AI agents.")
    p.add_argument("--version", action="version", version=f"pynchy {__version__}")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the host without the UI until SIGTERM")
    send = sub.add_parser("send", help="send a message to a workspace and stream the reply")
    send.add_argument("-w", "--workspace", required=True)
    send.add_argument("--create", action="store_true", help="create the workspace if missing")
    send.add_argument("text", nargs="+")
    sub.add_parser("doctor", help="check config, accounts and runtimes")
    sub.add_parser("status", help="show the running host's state")
    sub.add_parser("demo", help="open the TUI with the offline demo (a scripted model)")
    appr = sub.add_parser("approvals", help="list pending approvals, or decide one")
    appr.add_argument("decision", nargs="?", choices=["allow", "deny"])
    appr.add_argument("id", nargs="?")
    appr.add_argument("--reason", help="with deny: why (the model receives it)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = resolve_paths()
    if args.command == "doctor":
        from pynchy_tui.doctor import run_doctor

        return asyncio.run(run_doctor(paths))
    try:
        config = load_config(paths.config_file)
    except ConfigError as exc:
        print(f"pynchy: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "serve":
        return asyncio.run(_serve(config, paths))
    if args.command == "send":
        return asyncio.run(_send(config, paths, args.workspace, " ".join(args.text), args.create))
    if args.command == "status":
        return asyncio.run(_status(paths))
    if args.command == "approvals":
        from pynchy_tui.approvals_cli import run_approvals

        return asyncio.run(run_approvals(paths, args.decision, args.id, args.reason))
    return _tui(config, paths, demo=args.command == "demo")


def _tui(config: Config, paths: Paths, demo: bool) -> int:
    import gc

    from pynchy_tui.host.lock import HostLock
    from pynchy_tui.logs import setup_logging

    paths.ensure()
    setup_logging(paths.log_file)
    lock = HostLock(paths.lock_path)
    if not lock.acquire():
        print(
            f"pynchy: a host is already running for {paths.data_dir} (pid {lock.holder()}); "
            "stop it first, or talk to it with `pynchy send`",
            file=sys.stderr,
        )
        return 1
    # Start-up builds a few hundred thousand objects that all stay alive: collecting them is
    # wasted time before the first frame. The app freezes them and turns the collector back on
    # once the screen is up and the host is built (PynchyApp._boot).
    gc.disable()
    try:
        from pynchy_tui.app import PynchyApp

        app = PynchyApp(config, paths, demo=demo)
        app.run()
        return app.return_code or 0
    finally:
        gc.enable()
        lock.release()


async def _serve(config: Config, paths: Paths) -> int:
    from pynchy_tui.host.control import ControlServer
    from pynchy_tui.host.host import Host
    from pynchy_tui.host.lock import HostLock
    from pynchy_tui.logs import setup_logging

    paths.ensure()
    setup_logging(paths.log_file)
    lock = HostLock(paths.lock_path)
    if not lock.acquire():
        print(
            f"pynchy: a host is already running for {paths.data_dir} (pid {lock.holder()})",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host = Host(config, paths)
    control = ControlServer(host, paths.socket_path)
    try:
        await host.start()
        await control.start()
        print(f"pynchy serve: ready ({len(host.list_workspaces())} workspaces)", flush=True)
        await stop.wait()
    finally:
        await control.stop()
        await host.stop()
        lock.release()
    return 0


async def _send(config: Config, paths: Paths, workspace: str, text: str, create: bool) -> int:
    from pynchy_tui.host import control
    from pynchy_tui.host.lock import HostLock

    req = {"op": "submit", "workspace": workspace, "text": text, "source": "cli", "create": create}
    if paths.socket_path.exists():
        try:
            reader, writer = await control.request(paths.socket_path, req)
        except (ConnectionError, FileNotFoundError):
            reader = None
        if reader is not None:
            try:
                return await _print_stream(_lines(reader))
            finally:
                writer.close()
    lock = HostLock(paths.lock_path)
    if not lock.acquire():
        print(
            f"pynchy: a host (pid {lock.holder()}) holds {paths.data_dir} but does not answer "
            "on its control socket",
            file=sys.stderr,
        )
        return 1
    try:
        return await _send_in_process(config, paths, req)
    finally:
        lock.release()


async def _send_in_process(config: Config, paths: Paths, req: dict[str, Any]) -> int:
    from pynchy_tui.host.control import ControlServer
    from pynchy_tui.host.host import Host
    from pynchy_tui.logs import setup_logging

    paths.ensure()
    setup_logging(paths.log_file)
    host = Host(config, paths, scope=req["workspace"])
    server = ControlServer(host, paths.socket_path)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    class _Writer:  # the control server's submit logic, writing into our queue
        def write(self, data: bytes) -> None:
            for line in data.decode().splitlines():
                queue.put_nowait(json.loads(line))

        async def drain(self) -> None:
            return None

    async def produce() -> None:
        try:
            await server._serve(req, _Writer())  # type: ignore[arg-type]
        finally:
            queue.put_nowait(None)

    async def items():
        while (item := await queue.get()) is not None:
            yield item

    try:
        await host.start()
        task = asyncio.create_task(produce())
        code = await _print_stream(items())
        await task
        return code
    finally:
        await host.stop()


async def _lines(reader: asyncio.StreamReader):
    while raw := await reader.readline():
        yield json.loads(raw)


async def _print_stream(items: Any) -> int:
    out, err = sys.stdout, sys.stderr
    at_line_start = True
    streamed = ""  # what this turn printed, to tell send_message texts from the final reply
    code = 1
    async for ev in items:
        kind = ev.get("type")
        if kind is None:
            if not ev.get("ok"):
                print(f"pynchy: {ev.get('error')}", file=err)
                return 1
            continue
        if kind == "AgentDelta":
            streamed += ev["text"]
            out.write(ev["text"])
            out.flush()
            at_line_start = ev["text"].endswith("\n")
        elif kind == "ToolStarted":
            if not at_line_start:
                out.write("\n")
                at_line_start = True
            from pynchy_tui.tool_args import summarize_args

            print(f"  > {ev['tool']}: {summarize_args(ev['args'])}", file=err, flush=True)
        elif kind == "ToolFinished":
            mark = "ok" if ev["ok"] else "error"
            print(f"    {mark}: {ev['summary']} ({ev['duration_ms']} ms)", file=err, flush=True)
        elif kind == "ProviderRetry":
            if not at_line_start:
                out.write("\n")
                at_line_start = True
            print("  (the partial reply above is discarded; it will be sent again)", file=err)
            print(
                f"  (retry {ev['attempt']} in {ev['delay']:.1f}s: {ev['reason']})",
                file=err,
                flush=True,
            )
        elif kind == "MessageSent" and ev["role"] == "system":
            print(f"pynchy: {ev['text']}", file=err, flush=True)
        elif kind == "MessageSent" and ev["text"].strip() not in streamed:
            out.write(("" if at_line_start else "\n") + ev["text"] + "\n")  # send_message
            out.flush()
            at_line_start = True
        elif kind == "TurnFinished":
            if not at_line_start:
                out.write("\n")
            out.flush()
            code = 0 if ev["status"] == "done" else 1
    return code


async def _status(paths: Paths) -> int:
    from pynchy_tui.host import control

    try:
        reader, writer = await control.request(paths.socket_path, {"op": "status"})
    except (ConnectionError, FileNotFoundError):
        print("pynchy: no host is running", file=sys.stderr)
        return 1
    with contextlib.closing(writer):
        print(json.dumps(json.loads(await reader.readline()), indent=2))
    return 0

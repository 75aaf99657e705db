"""Agent turns end to end: the real anthropic and openai SDKs against the scripted model
server, tools running in a real toolbox (process runtime), state in real SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pynchy_tui.agents.compaction import SUMMARY_PROMPT
from pynchy_tui.events import MessageSent, ProviderRetry, ToolStarted, TurnFinished, TurnStarted
from pynchy_tui.state import audit, messages, transcript, turns
from tests.conftest import account_toml, process_runtime_toml, wait_for

TOOL_SCRIPT = [
    [{"text": "Looking around."}, {"tool": "bash", "args": {"command": "echo hi-from-bash; pwd"}}],
    [{"tool": "write_file", "args": {"path": "notes/todo.txt", "content": "milk\neggs\n"}}],
    [
        {
            "tool": "edit_file",
            "args": {"path": "notes/todo.txt", "old_string": "eggs", "new_string": "bread"},
        }
    ],
    [{"tool": "read_file", "args": {"path": "notes/todo.txt"}}],
    [
        {"tool": "grep", "args": {"pattern": "bre+ad"}},
        {"tool": "list_dir", "args": {"path": "notes"}},
    ],
    [{"text": "All done: **milk** and bread."}],
]


def _tool_results(request: dict[str, Any], api: str) -> list[str]:
    body = request["body"]
    if api == "openai":
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]
    out = []
    for m in body["messages"]:
        if m["role"] == "user" and isinstance(m["content"], list):
            out += [b["content"] for b in m["content"] if b.get("type") == "tool_result"]
    return out


def _key(request: dict[str, Any]) -> str:
    """The API key a request carried (x-api-key, or a bearer token as newer SDKs send it)."""
    headers = request["headers"]
    return headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")


def _system(request: dict[str, Any], api: str) -> str:
    body = request["body"]
    if api == "openai":
        return body["messages"][0]["content"]
    system = body.get("system")
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


async def _run(host: Any, workspace: str, text: str, timeout: float = 30) -> TurnFinished:
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit(workspace, text)
        ev = await wait_for(sub, lambda e: e.workspace == workspace, timeout)
    assert isinstance(ev, TurnFinished)
    return ev


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_multi_step_tool_turn(
    provider: str, make_host, scripted, home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "sk-test-123")
    server = scripted(TOOL_SCRIPT)
    directive = home / "AGENTS.md"
    directive.write_text("Always answer in haiku when asked about the weather.")
    config = (
        account_toml("acc", server, provider, api_key_env="SCRIPTED_KEY")
        + f"""
[workspaces.notes]
account = "acc"
directives = ["{directive}"]
"""
        + process_runtime_toml()
    )
    host = await make_host(config)
    done = await _run(host, "notes", "make my shopping list")
    assert done.status == "done", done.error
    ws_dir = host.workspace_dir("notes")
    assert (ws_dir / "notes" / "todo.txt").read_text() == "milk\nbread\n"

    reqs = server.requests
    assert len(reqs) == 6 and all(r["api"] == provider for r in reqs)
    results = _tool_results(reqs[-1], provider)
    assert (
        "hi-from-bash" in results[0] and str(ws_dir) in results[0] and "[exit code 0]" in results[0]
    )
    assert "created notes/todo.txt" in results[1]
    assert "1 replacement" in results[2]
    assert "milk\nbread" in results[3]
    assert "notes/todo.txt:2: bread" in results[4]
    assert "todo.txt" in results[5]
    assert "Always answer in haiku" in _system(reqs[0], provider)
    tool_names = {
        t["name"] if provider == "anthropic" else t["function"]["name"]
        for t in reqs[0]["body"]["tools"]
    }
    assert tool_names == {
        "bash",
        "read_file",
        "write_file",
        "edit_file",
        "list_dir",
        "glob",
        "grep",
        "web_fetch",
        "send_message",
    }
    assert _key(reqs[0]) == "sk-test-123"

    # Everything is in SQLite: the reply, usage, and every transcript item.
    ws = host.get_workspace("notes")
    hist = await host.store.call(messages.history, ws.id)
    assert [(m.direction, m.role) for m in hist] == [("in", "user"), ("out", "assistant")]
    assert hist[-1].text == "All done: **milk** and bread."
    t = (await host.store.call(turns.for_workspace, ws.id))[-1]
    assert t.status == "done" and t.steps == 6 and t.input_tokens > 0 and t.output_tokens > 0
    kinds = [i.kind for i in await host.store.call(transcript.active, ws.id)]
    assert kinds.count("tool_result") == 6 and kinds[0] == "user" and kinds[-1] == "assistant"
    assert len(await host.store.call(audit.query, ws.id)) == 6


async def test_process_runtime_sees_its_real_root(make_host, scripted) -> None:
    server = scripted([])
    host = await make_host(account_toml("acc", server) + process_runtime_toml())
    await host.create_workspace("w")
    target = host.workspace_dir("w") / "abs.txt"
    server.add_replies(
        [[{"tool": "write_file", "args": {"path": str(target), "content": "x"}}], [{"text": "ok"}]]
    )
    done = await _run(host, "w", "write with an absolute path")
    assert done.status == "done"
    assert target.read_text() == "x"
    system = server.requests[0]["body"]["messages"][0]["content"]
    assert (
        f"files are at\n{host.workspace_dir('w')} " in system
        or f"files are at {host.workspace_dir('w')}" in system
    )


async def test_rate_limit_then_success_honours_retry_after(make_host, scripted) -> None:
    server = scripted([[{"error": 429, "retry_after": 0.3}], [{"text": "ok now"}]])
    host = await make_host(
        account_toml("acc", server, "anthropic", api_key="k") + process_runtime_toml()
    )
    await host.create_workspace("w")
    with host.bus.subscribe(ProviderRetry) as retries:
        done = await _run(host, "w", "hello")
        retry = retries.get_nowait()
    assert done.status == "done"
    assert isinstance(retry, ProviderRetry) and retry.delay == pytest.approx(0.3)
    assert "429" in retry.reason
    assert len(server.requests) == 2


async def test_server_error_that_never_recovers_fails_cleanly(make_host, scripted) -> None:
    server = scripted([[{"error": 500, "repeat": 4}], [{"text": "back again"}]])
    config = (
        account_toml("acc", server, "openai") + process_runtime_toml() + "provider_retries = 4\n"
    )
    host = await make_host(config)
    await host.create_workspace("w")
    failed = await _run(host, "w", "hello")
    assert failed.status == "failed" and "500" in (failed.error or "")
    assert len(server.requests) == 5  # 1 + 4 retries
    ws = host.get_workspace("w")
    last = (await host.store.call(messages.history, ws.id))[-1]
    assert last.role == "system" and "The turn failed" in last.text
    # The host keeps serving.
    again = await _run(host, "w", "still there?")
    assert again.status == "done"
    assert (await host.store.call(messages.history, ws.id))[-1].text == "back again"


async def test_two_workspaces_two_accounts_own_endpoints_and_keys(
    make_host, scripted, monkeypatch
) -> None:
    monkeypatch.setenv("KEY_A", "key-a")
    monkeypatch.setenv("KEY_B", "key-b")
    a, b = scripted([[{"text": "from a"}]]), scripted([[{"text": "from b"}]])
    config = (
        account_toml("alpha", a, "anthropic", api_key_env="KEY_A")
        + account_toml("beta", b, "anthropic", api_key_env="KEY_B")
        + '[workspaces.one]\naccount = "alpha"\n[workspaces.two]\naccount = "beta"\n'
        + process_runtime_toml()
    )
    host = await make_host(config)
    with host.bus.subscribe(TurnFinished) as sub:
        await host.submit("one", "hi")
        await host.submit("two", "hi")
        done = {(await wait_for(sub, lambda e: True)).workspace for _ in range(2)}
    assert done == {"one", "two"}
    assert [_key(r) for r in a.requests] == ["key-a"]
    assert [_key(r) for r in b.requests] == ["key-b"]


async def test_btw_message_joins_the_running_turn(make_host, scripted) -> None:
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "sleep 0.5; echo slept"}}],
            [{"text": "noted both"}],
        ]
    )
    host = await make_host(account_toml("acc", server, "openai") + process_runtime_toml())
    await host.create_workspace("w")
    with host.bus.subscribe(ToolStarted, TurnFinished, TurnStarted) as sub:
        await host.submit("w", "first task")
        await wait_for(sub, lambda e: isinstance(e, ToolStarted))
        await host.submit("w", "btw: also water the plants")
        done = await wait_for(sub, lambda e: isinstance(e, TurnFinished))
        await asyncio.sleep(0.2)
        extra_turns = [e for e in iter(sub.get_nowait, None) if isinstance(e, TurnStarted)]
    assert done.status == "done" and extra_turns == []
    second = server.requests[1]["body"]["messages"]
    user_texts = [m["content"] for m in second if m["role"] == "user"]
    assert user_texts == ["first task", "btw: also water the plants"]
    assert [m["role"] for m in second][-2:] == ["tool", "user"]
    ws = host.get_workspace("w")
    ins = [m for m in await host.store.call(messages.history, ws.id) if m.direction == "in"]
    assert {m.turn_id for m in ins} == {done.turn_id} and all(m.status == "consumed" for m in ins)


async def test_send_message_tool_posts_to_the_chat(make_host, scripted) -> None:
    server = scripted(
        [[{"tool": "send_message", "args": {"text": "halfway there"}}], [{"text": "finished"}]]
    )
    host = await make_host(account_toml("acc", server) + process_runtime_toml())
    await host.create_workspace("w")
    with host.bus.subscribe(MessageSent) as sub:
        await _run(host, "w", "go")
        sent = [sub.get_nowait(), sub.get_nowait()]
    assert [s.text for s in sent] == ["halfway there", "finished"]  # type: ignore[union-attr]


async def test_step_limit_ends_the_turn_with_a_message(make_host, scripted) -> None:
    script = [[{"tool": "bash", "args": {"command": f"echo {i}"}}] for i in range(5)]
    server = scripted(script)
    config = account_toml("acc", server) + process_runtime_toml() + "max_steps_per_turn = 2\n"
    host = await make_host(config)
    await host.create_workspace("w")
    ev = await _run(host, "w", "loop forever")
    assert ev.status == "limit" and "2 steps" in (ev.error or "")
    assert len(server.requests) == 2


async def test_daily_budget_stops_the_turn(make_host, scripted) -> None:
    script = [
        [
            {"tool": "bash", "args": {"command": "true"}},
            {"usage": {"input_tokens": 1000, "output_tokens": 1000}},
        ]
    ] * 3
    server = scripted(script)
    config = (
        account_toml("acc", server)
        + process_runtime_toml()
        + "daily_budget_usd = 0.001\n"
        + '[pricing."scripted-model"]\ninput = 1.0\noutput = 1.0\n'
    )
    host = await make_host(config)
    await host.create_workspace("w")
    ev = await _run(host, "w", "spend")
    assert ev.status == "limit" and "budget" in (ev.error or "")
    assert ev.cost_usd == pytest.approx(0.002)
    assert len(server.requests) == 1


async def test_cancel_stops_a_running_tool(make_host, scripted) -> None:
    server = scripted(
        [[{"tool": "bash", "args": {"command": "sleep 30; echo never"}}], [{"text": "after"}]]
    )
    host = await make_host(account_toml("acc", server) + process_runtime_toml())
    await host.create_workspace("w")
    with host.bus.subscribe(ToolStarted, TurnFinished) as sub:
        await host.submit("w", "long job")
        await wait_for(sub, lambda e: isinstance(e, ToolStarted))
        assert await host.cancel_turn("w")
        ev = await wait_for(sub, lambda e: isinstance(e, TurnFinished))
    assert ev.status == "cancelled"
    # The next message works, and the model sees the interrupted call answered, not dangling.
    done = await _run(host, "w", "next")
    assert done.status == "done"
    results = [m for m in server.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert len(results) == 1 and "interrupted" in results[0]["content"]


async def test_tool_timeout_is_the_default_for_commands(make_host, scripted) -> None:
    """runtime.tool_timeout bounds a command the model gave no timeout; its own wins."""
    server = scripted(
        [
            [{"tool": "bash", "args": {"command": "sleep 20; echo never"}}],
            [{"tool": "bash", "args": {"command": "sleep 1.5; echo own", "timeout": 10}}],
            [{"text": "done"}],
        ]
    )
    toml = account_toml("acc", server) + process_runtime_toml()
    host = await make_host(
        toml.replace('runtime = "process"', 'runtime = "process"\ntool_timeout = "1s"')
    )
    await host.create_workspace("w")
    done = await _run(host, "w", "two commands")
    assert done.status == "done"
    first, second = _tool_results(server.requests[-1], "openai")
    assert "[timed out after 1.0 s]" in first and "never" not in first
    assert "own" in second and "timed out" not in second


async def test_compaction_summarizes_before_the_window_fills(make_host, scripted) -> None:
    filler = "lorem ipsum dolor sit amet " * 40  # ~1000 chars, ~270 tokens per reply
    script: list[Any] = [
        {
            "match": "Summarize the conversation so far",
            "steps": [{"text": "SUMMARY: questions asked"}],
        }
    ]
    script += [[{"text": f"reply {i}: {filler}"}] for i in range(6)]
    server = scripted(script)
    config = account_toml("acc", server, context_window=1200) + process_runtime_toml()
    host = await make_host(config)
    await host.create_workspace("w")
    for i in range(5):
        assert (await _run(host, "w", f"question {i}")).status == "done"
    bodies = [r["body"] for r in server.requests]
    first = next(i for i, b in enumerate(bodies) if b["messages"][-1]["content"] == SUMMARY_PROMPT)
    assert "tools" not in bodies[first]
    after = bodies[first + 1]["messages"]
    assert "SUMMARY: questions asked" in after[1]["content"]  # right after the system prompt
    assert len(after) < len(bodies[first - 1]["messages"]) + 2
    # The question being answered is never summarized away.
    assert after[-1]["role"] == "user" and after[-1]["content"].startswith("question ")
    ws = host.get_workspace("w")
    items = await host.store.call(transcript.active, ws.id)
    assert items[0].kind == "summary"


async def test_unset_key_variable_is_a_warning_at_start(home: Path, scripted, monkeypatch) -> None:
    """An account whose api_key_env is unset is named when the host starts, not only at its
    first model call; an account with its key, or a compatible URL needing none, is not."""
    from pynchy_tui.config import load_config, resolve_paths
    from pynchy_tui.events import Notice
    from pynchy_tui.host.host import Host

    monkeypatch.delenv("PYNCHY_TEST_UNSET", raising=False)
    monkeypatch.setenv("PYNCHY_TEST_SET", "k")
    server = scripted([])
    (home / "config.toml").write_text(
        account_toml("missing", server, "anthropic", api_key_env="PYNCHY_TEST_UNSET")
        + account_toml("present", server, "anthropic", api_key_env="PYNCHY_TEST_SET")
        + account_toml("local", server)
        + process_runtime_toml()
    )
    host = Host(load_config(resolve_paths().config_file), resolve_paths())
    with host.bus.subscribe(Notice) as sub:
        await host.start()
        try:
            seen = []
            while (event := sub.get_nowait()) is not None:
                seen.append(event.text)
        finally:
            await host.stop()
    keys = [t for t in seen if "API key" in t]
    assert keys == [
        "account missing: no API key: PYNCHY_TEST_UNSET (its api_key_env) is not set; "
        "its model calls will fail"
    ]


async def test_no_account_fails_with_a_clear_message(make_host) -> None:
    host = await make_host(process_runtime_toml())
    await host.create_workspace("w")
    ev = await _run(host, "w", "hello?")
    assert ev.status == "failed" and "no model account" in (ev.error or "")
    ws = host.get_workspace("w")
    assert await host.store.call(messages.pending, ws.id) == []


async def test_auto_runtime_without_an_isolating_one_refuses_tools(make_host, scripted) -> None:
    server = scripted([[{"tool": "bash", "args": {"command": "echo hi"}}]])
    host = await make_host(account_toml("acc", server))
    host.sandboxes.runtimes.pop("docker", None)
    host.sandboxes.runtimes.pop("bubblewrap", None)
    await host.create_workspace("w")
    ev = await _run(host, "w", "run something")
    assert ev.status == "failed"
    assert "allow_unsandboxed" in (ev.error or "") and "bubblewrap" in (ev.error or "")


async def test_workspace_create_rename_delete(make_host, home: Path) -> None:
    host = await make_host("[workspaces.conf]\n# keep me\n" + process_runtime_toml())
    await host.create_workspace("scratch")
    (host.workspace_dir("scratch") / "f.txt").write_text("x")
    await host.rename_workspace("scratch", "draft")
    assert (host.workspace_dir("draft") / "f.txt").read_text() == "x"
    await host.rename_workspace("conf", "configured")
    assert "[workspaces.configured]" in (home / "config.toml").read_text()
    assert "# keep me" in (home / "config.toml").read_text()
    trash = await host.delete_workspace("draft")
    assert trash is not None and (trash / "f.txt").read_text() == "x"
    assert [w.name for w in host.list_workspaces()] == ["configured"]
    with pytest.raises(Exception, match="valid workspace name"):
        await host.create_workspace("../evil")

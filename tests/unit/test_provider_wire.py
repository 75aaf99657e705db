"""Canonical transcript -> each provider's wire format, and the transcript repair."""

from __future__ import annotations

from pynchy_tui.agents.loop import repair
from pynchy_tui.providers import anthropic as anthropic_wire
from pynchy_tui.providers import openai as openai_wire
from pynchy_tui.providers.base import parse_args, retry_after_seconds
from pynchy_tui.providers.pricing import price_for

CALL = {"id": "t1", "name": "bash", "args": {"command": "ls"}}
CANON = [
    {"role": "user", "text": "list files"},
    {"role": "assistant", "text": "sure", "tool_calls": [CALL]},
    {"role": "tool", "id": "t1", "name": "bash", "content": "a.txt", "is_error": False},
    {"role": "user", "text": "btw: hurry"},
]


def test_anthropic_merges_tool_results_and_btw_into_one_user_turn() -> None:
    wire = anthropic_wire.to_wire(CANON)
    assert [m["role"] for m in wire] == ["user", "assistant", "user"]
    assert wire[1]["content"][1] == {
        "type": "tool_use",
        "id": "t1",
        "name": "bash",
        "input": {"command": "ls"},
    }
    assert [b["type"] for b in wire[2]["content"]] == ["tool_result", "text"]
    assert wire[2]["content"][0]["tool_use_id"] == "t1"


def test_openai_keeps_tool_messages_after_the_call() -> None:
    wire = openai_wire.to_wire("SYS", CANON)
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "user"]
    assert wire[2]["tool_calls"][0]["function"] == {
        "name": "bash",
        "arguments": '{"command": "ls"}',
    }
    assert wire[3]["tool_call_id"] == "t1"


def test_repair_answers_dangling_calls_and_drops_orphans() -> None:
    msgs = [
        {"role": "tool", "id": "old", "name": "bash", "content": "orphan"},
        {
            "role": "assistant",
            "text": "",
            "tool_calls": [CALL, {"id": "t2", "name": "bash", "args": {}}],
        },
        {"role": "tool", "id": "t1", "name": "bash", "content": "ok"},
        {"role": "user", "text": "after a crash"},
    ]
    fixed = repair(msgs)
    assert [m["role"] for m in fixed] == ["assistant", "tool", "tool", "user"]
    assert fixed[2]["id"] == "t2" and fixed[2]["is_error"] and "interrupted" in fixed[2]["content"]


def test_parse_args_and_retry_after() -> None:
    assert parse_args('{"a": 1}') == {"a": 1}
    assert parse_args("") == {}
    assert "__invalid_json__" in parse_args("{nope")
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None


def test_pricing_longest_prefix_and_overrides() -> None:
    from pynchy_tui.config.models import PriceConfig

    assert price_for("claude-sonnet-4-5-20250929").input == 3.0
    assert price_for("claude-opus-4-5").output == 25.0
    assert price_for("gpt-4o-mini-2024").input == 0.15
    unknown = price_for("qwen2.5-coder")
    assert not unknown.known and unknown.cost(10**6, 10**6) == 0
    assert (
        price_for("qwen2.5-coder", {"qwen": PriceConfig(input=1, output=2)}).cost(10**6, 10**6) == 3
    )


def test_api_key_resolution_order() -> None:
    from dataclasses import replace

    from pynchy_tui.config.models import AccountConfig
    from pynchy_tui.providers.accounts import api_key_for

    env = {"ANTHROPIC_API_KEY": "from-default", "MINE": "from-mine"}
    acc = AccountConfig(provider="anthropic", model="m")
    assert api_key_for(acc, env) == "from-default"  # the provider's usual variable
    assert api_key_for(replace(acc, api_key_env="MINE"), env) == "from-mine"
    assert api_key_for(replace(acc, api_key="in-file"), env) == "in-file"
    # A custom endpoint never receives the provider's default key by accident.
    assert api_key_for(replace(acc, base_url="http://127.0.0.1:1"), env) is None

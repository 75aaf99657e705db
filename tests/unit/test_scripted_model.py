"""Tests for the scripted model server, driven through the real anthropic and openai SDKs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from pynchy_tui.testing.scripted_model import (
    DEFAULT_TRANSCRIPT,
    EXHAUSTED_TEXT,
    ScriptedModelServer,
    ScriptError,
    last_user_text,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_FILE = REPO_ROOT / "pynchy_tui" / "testing" / "scripted_model.py"
USER_HI = [{"role": "user", "content": "hi"}]
BASH_TOOL = {
    "name": "bash",
    "description": "run a command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
OPENAI_BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


@pytest.fixture
def make_server():
    servers: list[ScriptedModelServer] = []

    def make(script: list[Any] | None = None, **kwargs: Any) -> ScriptedModelServer:
        server = ScriptedModelServer(script, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def anthropic_sync(server: ScriptedModelServer, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0, **kwargs)


def anthropic_async(server: ScriptedModelServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0)


def openai_sync(server: ScriptedModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_url, api_key="sk-oai-test", max_retries=0)


def openai_async(server: ScriptedModelServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.openai_url, api_key="sk-oai-test", max_retries=0)


def raw_request(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


# ---------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------


async def test_anthropic_stream_helper_collects_text_deltas(make_server):
    server = make_server([[{"text": "Hello there, brave new world"}]])
    client = anthropic_async(server)
    async with client.messages.stream(
        model="claude-test", max_tokens=100, messages=USER_HI
    ) as stream:
        deltas = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    await client.close()

    assert len(deltas) == 5
    assert "".join(deltas) == "Hello there, brave new world"
    assert final.model == "claude-test"
    assert final.role == "assistant"
    assert final.stop_reason == "end_turn"
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == "Hello there, brave new world"
    assert final.usage.output_tokens >= 1
    assert final.usage.input_tokens >= 1


def test_anthropic_raw_stream_events(make_server):
    server = make_server([[{"text": "abcdefgh", "chunk": 3}]])
    client = anthropic_sync(server)
    events = list(client.messages.create(model="m", max_tokens=10, messages=USER_HI, stream=True))
    types = [e.type for e in events]
    assert types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0].message.id.startswith("msg_")
    assert events[0].message.content == []
    assert [e.delta.text for e in events if e.type == "content_block_delta"] == ["abc", "def", "gh"]
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 2  # 8 characters / 4


async def test_anthropic_tool_use_stream(make_server):
    script = [
        [
            {"text": "Let me look."},
            {"tool": "bash", "args": {"command": "ls -la /tmp", "timeout": 5}},
            {"tool": "bash", "args": {"command": "pwd"}, "id": "toolu_custom"},
        ]
    ]
    server = make_server(script)
    client = anthropic_async(server)
    raw_events = []
    async with client.messages.stream(
        model="m", max_tokens=100, messages=USER_HI, tools=[BASH_TOOL]
    ) as stream:
        async for event in stream:
            raw_events.append(event)
        final = await stream.get_final_message()
    await client.close()

    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    first, second = final.content[1], final.content[2]
    assert first.name == "bash"
    assert first.input == {"command": "ls -la /tmp", "timeout": 5}
    assert first.id.startswith("toolu_")
    assert second.id == "toolu_custom"
    assert second.input == {"command": "pwd"}
    json_deltas = [
        e
        for e in raw_events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len([e for e in json_deltas if e.index == 1]) > 1  # streamed in pieces


def test_anthropic_non_streaming(make_server):
    script = [
        [
            {"text": "Running it."},
            {"tool": "bash", "args": {"command": "echo hi"}},
            {"usage": {"input_tokens": 1234, "output_tokens": 56}},
        ],
        "just text",
    ]
    server = make_server(script)
    client = anthropic_sync(server)
    message = client.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Running it."
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"command": "echo hi"}
    assert message.usage.input_tokens == 1234
    assert message.usage.output_tokens == 56

    message = client.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert message.stop_reason == "end_turn"
    assert message.content[0].text == "just text"


def test_anthropic_models_and_count_tokens(make_server):
    server = make_server()
    client = anthropic_sync(server)
    models = client.models.list()
    assert [m.id for m in models.data] == ["scripted-model"]
    count = client.messages.count_tokens(
        model="m", messages=[{"role": "user", "content": "x" * 400}]
    )
    assert count.input_tokens == 100
    assert [r["api"] for r in server.requests] == ["anthropic", "anthropic"]
    assert server.state()["consumed"] == 0


def test_anthropic_mid_stream_error_event(make_server):
    server = make_server([[{"text": "partial"}, {"error": 529, "message": "overloaded now"}]])
    client = anthropic_sync(server)
    with pytest.raises(anthropic.APIStatusError) as info:
        for _ in client.messages.create(model="m", max_tokens=10, messages=USER_HI, stream=True):
            pass
    assert "overloaded now" in str(info.value)


# ---------------------------------------------------------------------------
# OpenAI
# ---------------------------------------------------------------------------


async def test_openai_streaming_text_with_usage_chunk(make_server):
    server = make_server([[{"text": "one two three"}, {"usage": {"input_tokens": 42}}]])
    client = openai_async(server)
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=USER_HI,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    await client.close()

    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 3
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 42
    assert chunks[-1].usage.completion_tokens >= 1
    assert chunks[-1].usage.total_tokens == 42 + chunks[-1].usage.completion_tokens
    assert all(c.model == "gpt-test" for c in chunks)


def test_openai_streaming_without_include_usage_has_no_usage_chunk(make_server):
    server = make_server(["hello"])
    client = openai_sync(server)
    chunks = list(client.chat.completions.create(model="g", messages=USER_HI, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_openai_streaming_tool_calls(make_server):
    script = [
        [
            {"tool": "bash", "args": {"command": "cat /etc/hostname"}},
            {"tool": "read_file", "args": {"path": "README.md"}, "id": "call_custom"},
        ]
    ]
    server = make_server(script)
    client = openai_sync(server)
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    pieces = 0
    for chunk in client.chat.completions.create(
        model="g", messages=USER_HI, tools=[OPENAI_BASH_TOOL], stream=True
    ):
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            if delta.id:
                call["id"] = delta.id
            if delta.function and delta.function.name:
                call["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                call["arguments"] += delta.function.arguments
                pieces += 1

    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert calls[0]["name"] == "bash"
    assert calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"command": "cat /etc/hostname"}
    assert calls[1]["id"] == "call_custom"
    assert calls[1]["name"] == "read_file"
    assert json.loads(calls[1]["arguments"]) == {"path": "README.md"}
    assert pieces > 2


async def test_openai_non_streaming_tool_calls(make_server):
    server = make_server([[{"tool": "bash", "args": {"command": "ls"}}], ["done"]])
    client = openai_async(server)
    completion = await client.chat.completions.create(
        model="g", messages=USER_HI, tools=[OPENAI_BASH_TOOL]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "bash"
    assert json.loads(call.function.arguments) == {"command": "ls"}
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    completion = await client.chat.completions.create(model="g", messages=USER_HI)
    assert completion.choices[0].message.content == "done"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls is None
    await client.close()


def test_openai_models_list(make_server):
    server = make_server()
    models = openai_sync(server).models.list()
    assert [m.id for m in models.data] == ["scripted-model"]
    assert server.requests[0]["api"] == "openai"


# ---------------------------------------------------------------------------
# Errors, delays, disconnects
# ---------------------------------------------------------------------------


def test_rate_limit_with_retry_after_then_success(make_server):
    script = [
        [{"error": 429, "message": "slow down", "retry_after": 1}],
        [{"text": "ok"}],
        [{"error": 429, "retry_after": 2}],
        [{"text": "ok again"}],
    ]
    server = make_server(script)
    a_client = anthropic_sync(server)
    with pytest.raises(anthropic.RateLimitError) as a_info:
        a_client.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert a_info.value.response.headers["retry-after"] == "1"
    assert a_info.value.body["error"]["type"] == "rate_limit_error"
    assert a_info.value.body["error"]["message"] == "slow down"
    message = a_client.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert message.content[0].text == "ok"

    o_client = openai_sync(server)
    with pytest.raises(openai.RateLimitError) as o_info:
        o_client.chat.completions.create(model="g", messages=USER_HI, stream=True)
    assert o_info.value.response.headers["retry-after"] == "2"
    assert o_info.value.code == "rate_limit_exceeded"
    assert isinstance(o_info.value.body, dict) and o_info.value.body["message"]
    completion = o_client.chat.completions.create(model="g", messages=USER_HI)
    assert completion.choices[0].message.content == "ok again"
    assert [r["reply_index"] for r in server.requests] == [0, 1, 2, 3]


def test_500_repeat_never_recovers(make_server):
    server = make_server([[{"error": 500, "repeat": 1000}], ["unreachable"]])
    a_client = anthropic_sync(server)
    o_client = openai_sync(server)
    for _ in range(3):
        with pytest.raises(anthropic.InternalServerError) as a_info:
            a_client.messages.create(model="m", max_tokens=10, messages=USER_HI)
        assert a_info.value.body["error"]["type"] == "api_error"
        with pytest.raises(openai.InternalServerError):
            o_client.chat.completions.create(model="g", messages=USER_HI)
    assert server.state()["remaining"] == 2
    assert {r["reply_index"] for r in server.requests} == {0}


def test_error_repeat_is_finite(make_server):
    server = make_server([[{"error": 503, "repeat": 1}], ["recovered"]])
    client = anthropic_sync(server)
    for _ in range(2):
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(model="m", max_tokens=10, messages=USER_HI)
        assert info.value.status_code == 503
    assert client.messages.create(model="m", max_tokens=10, messages=USER_HI).content[0].text == (
        "recovered"
    )


async def test_delay_ms_makes_gap_between_deltas(make_server):
    server = make_server([[{"text": "first"}, {"delay_ms": 300}, {"text": " second"}]])
    client = anthropic_async(server)
    stamps: list[tuple[str, float]] = []
    start = time.monotonic()
    async with client.messages.stream(model="m", max_tokens=10, messages=USER_HI) as stream:
        async for text in stream.text_stream:
            stamps.append((text, time.monotonic()))
    await client.close()
    assert [t for t, _ in stamps] == ["first", " second"]
    # Strict lower bound: the server cannot send the second delta before it slept.
    assert stamps[1][1] - start >= 0.3
    # The first delta really arrived before the pause (a loaded machine may read it a little
    # late, which shrinks the gap, hence the slack).
    assert stamps[1][1] - stamps[0][1] >= 0.15


def test_leading_delay_and_interval(make_server):
    server = make_server(
        [[{"delay_ms": 200}, {"text": "a b c", "interval_ms": 100}], [{"delay_ms": 150}, "x"]]
    )
    client = openai_sync(server)
    start = time.monotonic()
    stamps = []
    for chunk in client.chat.completions.create(model="g", messages=USER_HI, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.monotonic())
    assert len(stamps) == 3
    assert stamps[0] - start >= 0.2  # leading delay, before the headers
    assert stamps[-1] - start >= 0.4  # plus two intervals of 100 ms
    assert stamps[-1] - stamps[0] >= 0.1
    start = time.monotonic()
    client.chat.completions.create(model="g", messages=USER_HI)
    assert time.monotonic() - start >= 0.15


def test_disconnect_mid_stream(make_server):
    server = make_server([[{"text": "partial answer"}, {"disconnect": True}], ["after"]])
    client = anthropic_sync(server)
    received = []
    with pytest.raises(Exception) as info:
        for event in client.messages.create(
            model="m", max_tokens=10, messages=USER_HI, stream=True
        ):
            received.append(event.type)
    assert not isinstance(info.value, AssertionError)
    assert "message_stop" not in received
    assert "content_block_delta" in received
    # The server survives and the next request works.
    assert client.messages.create(model="m", max_tokens=10, messages=USER_HI).content[0].text == (
        "after"
    )


def test_disconnect_before_headers_openai(make_server):
    server = make_server([[{"disconnect": True}]])
    with pytest.raises(openai.APIConnectionError):
        openai_sync(server).chat.completions.create(model="g", messages=USER_HI, stream=True)


def test_handler_exception_answers_500_and_server_survives(make_server, monkeypatch):
    server = make_server(["fine"])
    original = ScriptedModelServer._take_reply
    calls = {"n": 0}

    def flaky(self, record):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return original(self, record)

    monkeypatch.setattr(ScriptedModelServer, "_take_reply", flaky)
    client = anthropic_sync(server)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert client.messages.create(model="m", max_tokens=10, messages=USER_HI).content[0].text == (
        "fine"
    )


def test_malformed_json_is_400_in_provider_shape(make_server):
    server = make_server(["unused"])
    status, _, body = raw_request(
        server.url + "/v1/messages",
        "POST",
        b"{not json",
        {"content-type": "application/json"},
    )
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    status, _, body = raw_request(
        server.openai_url + "/chat/completions",
        "POST",
        b"[1, 2",
        {"content-type": "application/json"},
    )
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "message" in body["error"]
    assert server.state()["remaining"] == 1
    assert [r["body"] for r in server.requests] == [None, None]


def test_unknown_path_is_404(make_server):
    server = make_server()
    status, _, body = raw_request(server.url + "/v1/nope")
    assert status == 404
    assert "error" in body
    assert server.requests[0]["api"] == "other"


# ---------------------------------------------------------------------------
# Script selection and recording
# ---------------------------------------------------------------------------


def test_match_based_reply_selection(make_server):
    script = [
        {"steps": [{"text": "weather reply"}], "match": "weather"},
        {"steps": [{"text": "joke reply"}], "match": "joke"},
        [{"text": "generic reply"}],
    ]
    server = make_server(script)
    client = anthropic_sync(server)

    def ask(text: str) -> str:
        message = client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": text}]
        )
        return message.content[0].text

    assert ask("tell me a joke") == "joke reply"
    assert ask("hello") == "generic reply"
    assert ask("what's the weather?") == "weather reply"
    assert ask("another joke") == EXHAUSTED_TEXT
    assert [r["reply_index"] for r in server.requests] == [1, 2, 0, None]
    assert server.exhausted == 1


def test_match_uses_last_user_message_blocks():
    body = {
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "..."},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "exit code 0"},
                    {"type": "text", "text": "and then?"},
                ],
            },
        ]
    }
    assert last_user_text(body) == "exit code 0\nand then?"
    assert last_user_text({"messages": []}) == ""


def test_recorded_bodies_and_headers(make_server):
    server = make_server(
        [[{"tool": "bash", "args": {"command": "ls"}, "id": "toolu_a"}], ["listed"], ["oai"]]
    )
    client = anthropic_sync(server)
    client.messages.create(
        model="m",
        max_tokens=10,
        system="You are a test agent.",
        messages=USER_HI,
        tools=[BASH_TOOL],
    )
    history = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_a", "name": "bash", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "a.txt"}],
        },
    ]
    client.messages.create(
        model="m", max_tokens=10, system="You are a test agent.", messages=history
    )
    openai_sync(server).chat.completions.create(
        model="g",
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}],
    )

    first, second, third = server.requests
    assert first["api"] == "anthropic"
    assert first["method"] == "POST"
    assert first["path"] == "/v1/messages"
    # Older anthropic SDKs send the key as x-api-key, newer ones as a bearer token.
    headers = first["headers"]
    assert headers.get("x-api-key") == "sk-ant-test" or (
        headers.get("authorization") == "Bearer sk-ant-test"
    )
    assert "anthropic-version" in first["headers"]
    assert first["body"]["system"] == "You are a test agent."
    assert first["body"]["tools"][0]["name"] == "bash"
    assert first["reply_index"] == 0
    tool_result = second["body"]["messages"][-1]["content"][0]
    assert tool_result == {"type": "tool_result", "tool_use_id": "toolu_a", "content": "a.txt"}
    assert third["api"] == "openai"
    assert third["path"] == "/v1/chat/completions"
    assert third["headers"]["authorization"] == "Bearer sk-oai-test"
    assert third["body"]["messages"][0] == {"role": "system", "content": "sys"}
    # An explicit x-api-key header (as the host may send) is recorded verbatim.
    keyed = anthropic_sync(server, default_headers={"x-api-key": "sk-ant-header"})
    keyed.messages.create(model="m", max_tokens=10, messages=USER_HI)
    assert server.requests[-1]["headers"]["x-api-key"] == "sk-ant-header"
    # requests is a copy
    server.requests[0]["body"]["system"] = "changed"
    assert server.requests[0]["body"]["system"] == "You are a test agent."


def test_script_exhausted_reply(make_server):
    server = make_server()
    client = anthropic_sync(server)
    with client.messages.stream(model="m", max_tokens=10, messages=USER_HI) as stream:
        assert stream.get_final_text() == EXHAUSTED_TEXT
    completion = openai_sync(server).chat.completions.create(model="g", messages=USER_HI)
    assert completion.choices[0].message.content == EXHAUSTED_TEXT
    assert server.exhausted == 2
    assert server.state() == {"consumed": 0, "remaining": 0, "exhausted": 2}


def test_many_sequential_requests_on_one_client(make_server):
    server = make_server([f"reply {i}" for i in range(40)])
    a_client = anthropic_sync(server)
    o_client = openai_sync(server)
    for i in range(0, 40, 4):
        with a_client.messages.stream(model="m", max_tokens=10, messages=USER_HI) as stream:
            assert stream.get_final_text() == f"reply {i}"
        msg = a_client.messages.create(model="m", max_tokens=10, messages=USER_HI)
        assert msg.content[0].text == f"reply {i + 1}"
        chunks = o_client.chat.completions.create(model="g", messages=USER_HI, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"reply {i + 2}"
        completion = o_client.chat.completions.create(model="g", messages=USER_HI)
        assert completion.choices[0].message.content == f"reply {i + 3}"
    assert server.state()["remaining"] == 0
    assert len(server.requests) == 40


def test_add_replies_and_from_file(tmp_path, make_server):
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"replies": [["from file"]], "transcripts": ["spoken words"]}))
    server = ScriptedModelServer.from_file(path)
    assert server.transcripts == ["spoken words"]
    with server:
        server.add_replies([[{"text": "added"}]])
        client = anthropic_sync(server)
        texts = [
            client.messages.create(model="m", max_tokens=10, messages=USER_HI).content[0].text
            for _ in range(2)
        ]
    assert texts == ["from file", "added"]

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([[{"text": "x"}], {"steps": ["y"], "match": "z"}, "w"]))
    server = ScriptedModelServer.from_file(plain)
    assert server.remaining == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[{"text": "x"}], [42]]))
    with pytest.raises(ScriptError, match="reply 1, step 0"):
        ScriptedModelServer.from_file(bad)


def test_invalid_script_is_rejected():
    with pytest.raises(ScriptError, match="unknown step"):
        ScriptedModelServer([[{"txt": "typo"}]])
    with pytest.raises(ScriptError, match="unexpected key"):
        ScriptedModelServer([[{"text": "a", "delay": 3}]])
    with pytest.raises(ScriptError):
        ScriptedModelServer([[{"tool": "bash", "args": "not an object"}]])
    server = ScriptedModelServer()
    with pytest.raises(ScriptError):
        server.add_replies([[{"error": "500"}]])
    assert server.remaining == 0


def test_helper_routes_are_not_recorded(make_server):
    server = make_server(["one"])
    status, _, state = raw_request(server.url + "/_scripted/state")
    assert status == 200
    assert state["consumed"] == 0 and state["remaining"] == 1 and state["exhausted"] == 0
    status, _, state = raw_request(
        server.url + "/_scripted/replies",
        "POST",
        json.dumps([["two"], [{"text": "three"}]]).encode(),
        {"content-type": "application/json"},
    )
    assert status == 200
    assert state["remaining"] == 3
    status, _, _ = raw_request(
        server.url + "/_scripted/replies", "POST", json.dumps([[{"bad": 1}]]).encode()
    )
    assert status == 400

    client = openai_sync(server)
    replies = [
        client.chat.completions.create(model="g", messages=USER_HI).choices[0].message.content
        for _ in range(3)
    ]
    assert replies == ["one", "two", "three"]
    status, _, recorded = raw_request(server.url + "/_scripted/requests")
    assert status == 200
    assert [r["path"] for r in recorded] == ["/v1/chat/completions"] * 3
    assert [r["reply_index"] for r in recorded] == [0, 1, 2]
    _, _, state = raw_request(server.url + "/_scripted/state")
    assert state == {"consumed": 3, "remaining": 0, "exhausted": 0}


async def test_audio_transcription(make_server):
    server = make_server(transcripts=["turn on the lights", {"error": 500}])
    client = openai_async(server)
    result = await client.audio.transcriptions.create(
        file=("note.ogg", b"\x00fake-ogg-bytes"), model="whisper-1"
    )
    assert result.text == "turn on the lights"
    with pytest.raises(openai.InternalServerError):
        await client.audio.transcriptions.create(file=("n.ogg", b"x"), model="whisper-1")
    text = await client.audio.transcriptions.create(
        file=("n.ogg", b"abc"), model="whisper-1", response_format="text"
    )
    assert text.strip() == DEFAULT_TRANSCRIPT
    await client.close()

    first = server.requests[0]
    assert first["api"] == "openai"
    assert first["path"] == "/v1/audio/transcriptions"
    assert first["body"]["file_name"] == "note.ogg"
    assert first["body"]["file_size"] == len(b"\x00fake-ogg-bytes")
    assert first["body"]["model"] == "whisper-1"
    assert first["reply_index"] is None
    assert server.state()["exhausted"] == 0


# ---------------------------------------------------------------------------
# Command line and import hygiene
# ---------------------------------------------------------------------------


def test_cli_serves_and_exits_cleanly_on_sigterm(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([["from the cli"]]))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pynchy_tui.testing.scripted_model",
            "--port",
            "0",
            "--script",
            str(script),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("scripted model listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        client = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
        message = client.messages.create(model="m", max_tokens=10, messages=USER_HI)
        assert message.content[0].text == "from the cli"
        _, _, recorded = raw_request(url + "/_scripted/requests")
        assert len(recorded) == 1
        client.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert out == ""
    assert "Traceback" not in err


def test_module_imports_no_ui_libraries():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('sm', {str(MODULE_FILE)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'httpx', "
        "'httpx2', 'anthropic', 'openai')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)

"""The OpenAI Chat Completions provider: OpenAI itself or any compatible server (Ollama, vLLM)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pynchy_tui.providers.base import (
    ProviderError,
    ProviderEvent,
    ProviderRequest,
    Stop,
    TextDelta,
    ToolCall,
    Usage,
    error_message,
    parse_args,
    status_error,
)

_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def to_wire(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for m in messages:
        role = m["role"]
        if role == "user":
            out.append({"role": "user", "content": m["text"]})
        elif role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.get("text") or None}
            if m.get("tool_calls"):
                msg["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
                    }
                    for c in m["tool_calls"]
                ]
            out.append(msg)
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["id"], "content": m["content"]})
    return out


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float) -> None:
        import openai  # lazy: keeps the first frame fast

        self._sdk = openai
        # Local OpenAI-compatible servers accept any key; the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed", base_url=base_url, max_retries=0, timeout=timeout
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": to_wire(request.system, request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
        }
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        sdk = self._sdk
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish = "stop"
        try:
            stream = await self._client.chat.completions.create(**kwargs)
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(
                        chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0
                    )
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        yield TextDelta(delta.content)
                    for tc in (delta.tool_calls or []) if delta is not None else []:
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["args"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except sdk.APIStatusError as exc:
            raise status_error("OpenAI-compatible API", exc) from exc
        except sdk.APIConnectionError as exc:
            raise ProviderError(f"cannot reach the model server: {exc}", retryable=True) from exc
        except Exception as exc:  # a broken stream surfaces as a transport error
            raise ProviderError(
                f"stream from the model server broke: {exc!r}", retryable=True
            ) from exc
        for index in sorted(calls):
            c = calls[index]
            yield ToolCall(c["id"] or f"call_{index}", c["name"], parse_args(c["args"]))
        yield usage
        yield Stop("tool_use" if calls else _STOP.get(finish, "other"))

    async def check(self) -> str:
        try:
            page = await self._client.models.list()
        except self._sdk.APIStatusError as exc:
            raise ProviderError(f"HTTP {exc.status_code}: {error_message(exc)}") from exc
        except self._sdk.APIConnectionError as exc:
            raise ProviderError(f"unreachable: {exc}") from exc
        return f"reachable, {len(page.data)} model(s) listed"

    async def close(self) -> None:
        await self._client.close()

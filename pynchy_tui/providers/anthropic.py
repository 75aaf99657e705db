"""The Anthropic Messages API provider (AsyncAnthropic, streaming, tool use)."""

from __future__ import annotations

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


def to_wire(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical messages -> Anthropic messages; consecutive user-side items merge."""
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": list(blocks)})

    for m in messages:
        role = m["role"]
        if role == "user":
            push("user", [{"type": "text", "text": m["text"] or "(empty)"}])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.get("text"):
                blocks.append({"type": "text", "text": m["text"]})
            for c in m.get("tool_calls", []):
                blocks.append(
                    {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]}
                )
            push("assistant", blocks or [{"type": "text", "text": "(no output)"}])
        elif role == "tool":
            push(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m["id"],
                        "content": m["content"] or "(no output)",
                        "is_error": bool(m.get("is_error")),
                    }
                ],
            )
    # Tool results must come first within a user message.
    for msg in out:
        if msg["role"] == "user":
            msg["content"].sort(key=lambda b: 0 if b["type"] == "tool_result" else 1)
    return out


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float) -> None:
        import anthropic  # lazy: costs ~1 s of import time

        self._sdk = anthropic
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or "missing-key", base_url=base_url, max_retries=0, timeout=timeout
        )
        self._has_key = bool(api_key)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        if not self._has_key:
            raise ProviderError("no API key: set the account's api_key_env variable")
        kwargs: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": to_wire(request.messages),
            "stream": True,
        }
        if request.system:
            kwargs["system"] = request.system
        if request.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        sdk = self._sdk
        blocks: dict[int, dict[str, Any]] = {}
        input_tokens = output_tokens = 0
        stop_reason = "end_turn"
        try:
            stream = await self._client.messages.create(**kwargs)
            async for ev in stream:
                kind = ev.type
                if kind == "message_start":
                    input_tokens = getattr(ev.message.usage, "input_tokens", 0) or 0
                elif kind == "content_block_start":
                    block = ev.content_block
                    if block.type == "tool_use":
                        blocks[ev.index] = {"id": block.id, "name": block.name, "json": ""}
                elif kind == "content_block_delta":
                    delta = ev.delta
                    if delta.type == "text_delta":
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and ev.index in blocks:
                        blocks[ev.index]["json"] += delta.partial_json
                elif kind == "content_block_stop":
                    b = blocks.pop(ev.index, None)
                    if b is not None:
                        yield ToolCall(b["id"], b["name"], parse_args(b["json"]))
                elif kind == "message_delta":
                    stop_reason = ev.delta.stop_reason or stop_reason
                    output_tokens = getattr(ev.usage, "output_tokens", 0) or output_tokens
        except sdk.APIStatusError as exc:
            raise status_error("Anthropic API", exc) from exc
        except sdk.APIConnectionError as exc:
            raise ProviderError(f"cannot reach the Anthropic API: {exc}", retryable=True) from exc
        except Exception as exc:  # a broken stream surfaces as a transport error
            raise ProviderError(
                f"stream from the Anthropic API broke: {exc!r}", retryable=True
            ) from exc
        yield Usage(input_tokens, output_tokens)
        yield Stop(stop_reason)

    async def check(self) -> str:
        try:
            page = await self._client.models.list(limit=5)
        except self._sdk.APIStatusError as exc:
            raise ProviderError(f"HTTP {exc.status_code}: {error_message(exc)}") from exc
        except self._sdk.APIConnectionError as exc:
            raise ProviderError(f"unreachable: {exc}") from exc
        names = [m.id for m in page.data]
        return f"reachable, {len(names)} model(s) listed"

    async def close(self) -> None:
        await self._client.close()

"""The provider contract: one canonical request in, a stream of provider events out.

Canonical messages (what the transcript stores, whatever the provider):
  {"role": "user", "text": "..."}
  {"role": "assistant", "text": "...", "tool_calls": [{"id", "name", "args"}]}
  {"role": "tool", "id": "<call id>", "name": "...", "content": "...", "is_error": bool}
Each provider module translates these to its own wire format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolSchema:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ProviderRequest:
    model: str
    system: str
    messages: list[dict[str, Any]]
    tools: list[ToolSchema] = field(default_factory=list)
    max_tokens: int = 4096


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Stop:
    reason: str  # end_turn | tool_use | max_tokens | other


ProviderEvent = TextDelta | ToolCall | Usage | Stop


class ProviderError(Exception):
    """A failed provider call; `retryable` says whether backing off could help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class Provider(Protocol):
    name: str

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]: ...

    async def check(self) -> str:
        """Reach the endpoint (list models); returns a one-line description or raises."""
        ...

    async def close(self) -> None: ...


def retry_after_seconds(headers: Any) -> float | None:
    """Parse `retry-after` (seconds; HTTP dates are rare from model APIs and ignored)."""
    if headers is None:
        return None
    for key in ("retry-after-ms", "retry-after"):
        value = headers.get(key)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if key.endswith("-ms") else seconds
    return None


def error_message(exc: Any) -> str:
    """The server's own error message from an SDK exception, else the exception text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))


def status_error(what: str, exc: Any) -> ProviderError:
    """An SDK's HTTP status error as a ProviderError: 408/409/429/5xx may be retried, and the
    server's retry-after is kept."""
    status = exc.status_code
    return ProviderError(
        f"{what} error {status}: {error_message(exc)}",
        status=status,
        retryable=status in (408, 409, 429) or status >= 500,
        retry_after=retry_after_seconds(exc.response.headers),
    )


def parse_args(raw: str) -> dict[str, Any]:
    """Tool arguments as a dict; a model's malformed JSON becomes an explicit error field."""
    import json

    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {"__invalid_json__": raw, "__error__": str(exc)}
    return value if isinstance(value, dict) else {"__invalid_json__": raw}

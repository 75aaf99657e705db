"""Prices in USD per million tokens. The user's `[pricing."model"]` overrides win.

Matching is by longest prefix, so dated model ids ("claude-sonnet-4-5-20250929") find their
family. Unknown models cost 0 and say so in `known`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynchy_tui.config.models import PriceConfig

BUILTIN: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "o3": (2.0, 8.0),
    "o4-mini": (1.1, 4.4),
}


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    known: bool

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def price_for(model: str, overrides: dict[str, PriceConfig] | None = None) -> Price:
    table = {k: (v.input, v.output) for k, v in (overrides or {}).items()}
    for source in (table, BUILTIN):
        best = max((k for k in source if model.startswith(k)), key=len, default=None)
        if best is not None:
            i, o = source[best]
            return Price(i, o, True)
    return Price(0.0, 0.0, False)

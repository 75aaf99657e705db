"""Keep the transcript inside the model's window: summarize old items, keep recent ones.

Estimates use ~4 characters per token, which errs on the side of compacting early. The cut
never separates an assistant's tool calls from their results.
"""

from __future__ import annotations

import json
from typing import Any

SUMMARY_PROMPT = (
    "Summarize the conversation so far for your own future reference: the person's goals, "
    "decisions made, files touched, commands run and their outcomes, and open questions. "
    "Be specific and concise. Reply with the summary only."
)
THRESHOLD = 0.7  # of the context window
KEEP_RECENT_TOKENS = 0.25  # of the context window


def estimate_tokens(messages: list[dict[str, Any]], system: str = "") -> int:
    return (len(system) + sum(len(json.dumps(m, ensure_ascii=False)) for m in messages)) // 4


def needs_compaction(messages: list[dict[str, Any]], system: str, window: int) -> bool:
    return estimate_tokens(messages, system) > window * THRESHOLD


def split_point(messages: list[dict[str, Any]], window: int) -> int:
    """Index of the first message to keep; 0 means nothing can be compacted."""
    budget = window * KEEP_RECENT_TOKENS
    kept = 0
    cut = len(messages)
    for i in range(len(messages) - 1, -1, -1):
        kept += estimate_tokens([messages[i]])
        if kept > budget:
            break
        cut = i
    # Never start the kept part with tool results: their calls would be summarized away.
    while 0 < cut < len(messages) and messages[cut]["role"] == "tool":
        cut -= 1
    if cut >= len(messages):
        cut = len(messages) - 1  # always keep the latest item
    return max(cut, 0)


def summary_message(text: str) -> dict[str, Any]:
    return {"role": "user", "text": f"[Summary of the earlier conversation]\n{text}"}

"""One line that says what a tool call does, for the transcript, the approvals inbox, the
audit view and `pynchy send`. Apart from the tool registry so the UI can show tool calls
without importing the agent stack."""

from __future__ import annotations

import json
from typing import Any


def summarize_args(args: dict[str, Any], limit: int = 80) -> str:
    if "command" in args:
        text = str(args["command"])
    elif "path" in args:
        text = str(args["path"])
    else:
        text = json.dumps(args, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"

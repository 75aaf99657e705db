"""The outbound secrets scanner: finds text that looks like a credential before it leaves
through a public sink (a message that may reach a channel, the network)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_SOURCES: list[tuple[str, str]] = [
    ("an Anthropic API key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("an OpenAI-style API key", r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{16,}"),
    ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "a GitHub token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|github_pat_\w{40,}",
    ),
    ("a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("a private key", r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----"),
    (
        "a JSON web token",
        r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    ),
    (
        "a password or secret assignment",
        r"(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
        r"\s*[:=]\s*['\"]?[^\s'\"]{8,}",
    ),
]


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


@functools.cache
def patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Compiled on first use: keeps them off the start-up path."""
    return [(kind, re.compile(src)) for kind, src in _SOURCES]


def scan(text: str) -> list[Finding]:
    found: list[Finding] = []
    for kind, pattern in patterns():
        for m in pattern.finditer(text):
            if not any(f.start <= m.start() < f.end for f in found):
                found.append(Finding(kind, m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


def redact(text: str) -> tuple[str, list[Finding]]:
    """The text with each finding replaced by a marker naming what it was."""
    findings = scan(text)
    out, pos = [], 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(f"[redacted: {f.kind}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out), findings

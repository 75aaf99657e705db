"""The deputy review: before a workspace's commits enter main, a reviewer model run reads the
actual diff, the commit messages and the project's conventions, and approves or rejects.

One fresh model call without tools, through the same provider and account machinery as the
agent's turns. The conventions are read from main, never from the branch under review (the
branch could rewrite them). Anything but a clear approval rejects: a malformed answer, a
timeout, a provider error (fail closed).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

from pynchy_tui.providers.base import Provider, ProviderError, ProviderRequest, TextDelta, Usage

MAX_DIFF_BYTES = 200_000
MAX_CONVENTIONS_BYTES = 40_000
DEFAULT_CONVENTIONS = ("AGENTS.md", "CLAUDE.md", "CONVENTIONS.md", "CONTRIBUTING.md")

SYSTEM = """\
You are the deputy reviewer of a coding agent's work. Another agent made the commits below on \
its own branch; before they enter the project's main branch you decide whether they may.

Reject when the change:
- is malicious or dangerous: backdoors, data or credential exfiltration, disabling security \
checks, surprising network access, obfuscated code;
- breaks the project's conventions given below;
- is plainly broken or unrelated to what its commit messages say.
Approve otherwise. Judge only what the diff shows; do not invent problems.

Answer with one JSON object and nothing else:
{"verdict": "approve" or "reject", "reasons": ["short reason", ...]}"""


@dataclass(frozen=True)
class Verdict:
    approved: bool
    reasons: tuple[str, ...]
    raw: str = ""
    usage: Usage = field(default_factory=Usage)

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) or ("approved" if self.approved else "rejected")


def cap_diff(patches: list[tuple[str, str]], limit: int = MAX_DIFF_BYTES) -> tuple[str, list[str]]:
    """The diff text up to `limit` bytes, whole files first; the files cut are listed."""
    out: list[str] = []
    used = 0
    cut: list[str] = []
    for path, text in patches:
        size = len(text.encode("utf-8", "replace"))
        if used + size <= limit:
            out.append(text)
            used += size
        else:
            cut.append(path)
    return "".join(out), cut


def build_prompt(
    *,
    workspace: str,
    branch: str,
    main: str,
    commits: list[str],
    diff_text: str,
    cut: list[str],
    conventions: dict[str, str],
) -> str:
    parts = [
        f"Workspace: {workspace}",
        f"Branch {branch} into {main}.",
        "",
        "## Commits",
        *(commits or ["(no commit messages)"]),
        "",
        "## Project conventions",
    ]
    if conventions:
        for path, text in conventions.items():
            parts += [f"### {path}", text.strip(), ""]
    else:
        parts += ["(the project states no conventions)", ""]
    parts += ["## The diff", "```diff", diff_text.rstrip("\n"), "```"]
    if cut:
        parts += [
            "",
            f"The diff was cut at {MAX_DIFF_BYTES:,} bytes; these files are changed too but "
            "not shown: " + ", ".join(cut),
        ]
    return "\n".join(parts)


_JSON = re.compile(r"\{.*\}", re.S)


def parse_verdict(text: str) -> Verdict:
    """Only an explicit approve approves."""
    match = _JSON.search(text)
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
        if isinstance(data, dict):
            verdict = str(data.get("verdict", "")).strip().lower()
            reasons = data.get("reasons") or data.get("reason") or []
            if isinstance(reasons, str):
                reasons = [reasons]
            reasons = tuple(str(r) for r in reasons if str(r).strip())[:20]
            if verdict in ("approve", "approved"):
                return Verdict(True, reasons, text)
            if verdict in ("reject", "rejected"):
                return Verdict(False, reasons or ("the reviewer gave no reason",), text)
    return Verdict(
        False, ("the reviewer's answer could not be read as a verdict (fail closed)",), text
    )


async def review(
    provider: Provider, model: str, prompt: str, *, timeout: float, max_tokens: int = 2048
) -> Verdict:
    request = ProviderRequest(
        model=model,
        system=SYSTEM,
        messages=[{"role": "user", "text": prompt}],
        tools=[],
        max_tokens=max_tokens,
    )
    parts: list[str] = []
    usage = Usage()

    async def run() -> None:
        nonlocal usage
        async for ev in provider.stream(request):
            if isinstance(ev, TextDelta):
                parts.append(ev.text)
            elif isinstance(ev, Usage):
                usage = ev

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        return Verdict(False, (f"the reviewer did not answer within {timeout:g} s",), "")
    except ProviderError as exc:
        return Verdict(False, (f"the reviewer's model call failed: {exc}",), "")
    v = parse_verdict("".join(parts))
    return Verdict(v.approved, v.reasons, v.raw, usage)

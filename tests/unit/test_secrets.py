"""The outbound secrets scanner finds credentials and leaves ordinary text alone."""

from __future__ import annotations

import pytest

from pynchy_tui.security.secrets import redact, scan


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "Anthropic"),
        ("export OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234", "OpenAI"),
        ("AKIAIOSFODNN7EXAMPLE", "AWS"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub"),
        ("xoxb-1234567890-abcdefghij", "Slack"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", "private key"),
        ("password = hunter2hunter2", "password"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36",
            "JSON web token",
        ),
    ],
)
def test_finds_credentials(text: str, kind: str) -> None:
    findings = scan(text)
    assert findings and kind.lower() in findings[0].kind.lower()
    redacted, _ = redact(text)
    assert "[redacted:" in redacted


@pytest.mark.parametrize(
    "text",
    [
        "the build passed",
        "see sk-learn docs",
        "password reset link sent",
        "AKIA is a prefix",
        "ghp_",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert scan(text) == []

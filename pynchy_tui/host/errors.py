"""The host's refusal, in its own module so the UI can catch it without importing the host
(the first frame must not wait for the agent stack)."""

from __future__ import annotations


class HostError(Exception):
    """A request the host refuses, with a message for the person."""

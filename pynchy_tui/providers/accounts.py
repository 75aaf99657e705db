"""Accounts -> provider instances; keys are read from the environment when a client is built."""

from __future__ import annotations

import os
from collections.abc import Callable

from pynchy_tui.config.models import AccountConfig
from pynchy_tui.providers.base import Provider

ProviderFactory = Callable[..., Provider]


def api_key_for(account: AccountConfig, env: dict[str, str] | None = None) -> str | None:
    """The key for `account`: its api_key_env variable, else api_key from config.toml, else
    (for the provider's own endpoint only) the provider's usual variable."""
    env = os.environ if env is None else env
    if account.api_key_env:
        value = env.get(account.api_key_env)
        if value:
            return value
    if account.api_key:
        return account.api_key
    if not account.api_key_env and account.base_url is None:
        return env.get(default_key_env(account.provider)) or None
    return None


def missing_key(account: AccountConfig, env: dict[str, str] | None = None) -> str | None:
    """Why `account` has no API key, or None when it has one or may need none (an
    OpenAI-compatible endpoint such as Ollama)."""
    if api_key_for(account, env):
        return None
    if account.api_key_env:
        return f"no API key: {account.api_key_env} (its api_key_env) is not set"
    if account.base_url is None:
        name = default_key_env(account.provider)
        return f"no API key: export {name}=... or set api_key_env"
    return None


def default_key_env(provider: str) -> str:
    return {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}.get(provider, "")


def build_provider(
    account: AccountConfig,
    factories: dict[str, ProviderFactory],
    env: dict[str, str] | None = None,
) -> Provider:
    factory = factories.get(account.provider)
    if factory is None:
        raise KeyError(f"no provider plugin for {account.provider!r}")
    key = api_key_for(account, env)
    return factory(api_key=key, base_url=account.base_url, timeout=account.timeout)

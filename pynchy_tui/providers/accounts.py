"""Accounts -> provider instances, resolving keys from the environment at call time."""

from __future__ import annotations

import os
from collections.abc import Callable

from pynchy_tui.config.models import AccountConfig
from pynchy_tui.providers.base import Provider

ProviderFactory = Callable[..., Provider]


def api_key_for(account: AccountConfig, env: dict[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    if account.api_key_env:
        value = env.get(account.api_key_env)
        if value:
            return value
    return account.api_key


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
    if key is None and not account.api_key_env and account.base_url is None:
        key = (os.environ if env is None else env).get(default_key_env(account.provider))
    return factory(api_key=key, base_url=account.base_url, timeout=account.timeout)

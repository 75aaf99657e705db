"""Typed settings. Unknown keys are errors: a typo must not silently do nothing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from pynchy_tui.config.durations import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AccountConfig(_Strict):
    """One model account. Several accounts may share a provider."""

    provider: Literal["anthropic", "openai"]
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    # Allowed because config.toml is written 0600; the environment is preferred.
    api_key: str | None = None
    max_tokens: int = Field(default=4096, gt=0)
    context_window: int = Field(default=200_000, gt=0)
    timeout: Seconds = 600.0


class WorkspaceConfig(_Strict):
    account: str | None = None
    directives: list[str] = Field(default_factory=list)
    # Git (docs/git.md): the workspace works on its own clone of this repository, on branch
    # pynchy/NAME; `sync` says how its commits enter the main branch.
    repo: str | None = None
    main_branch: str | None = None  # unset: main, else master, else the repo's current branch
    sync: Literal["rebase", "merge"] = "rebase"
    deputy_review: bool = False
    review_account: str | None = None  # unset: the workspace's own account
    review_timeout: Seconds = 300.0
    conventions: list[str] = Field(default_factory=list)  # files of the repo, read from main
    runtime: Literal["auto", "docker", "bubblewrap", "process"] | None = None
    network: Literal["none", "full"] = "none"
    admin: bool = False


class RuntimeConfig(_Strict):
    runtime: Literal["auto", "docker", "bubblewrap", "process"] = "auto"
    allow_unsandboxed: bool = False
    idle_timeout: Seconds = 600.0
    image: str = "pynchy-agent:latest"
    # BASE_IMAGE of the agent image build; unset: $PYNCHY_BASE_IMAGE, else debian:bookworm-slim.
    base_image: str | None = None
    cpus: float = Field(default=2.0, gt=0)
    memory: str = Field(default="2g", pattern=r"^\s*\d+(\.\d+)?\s*([kKmMgGtT](i?[bB])?|[bB])?\s*$")
    pids: int = Field(default=512, gt=0)
    tool_timeout: Seconds = 120.0


class UIConfig(_Strict):
    theme: str = "pynchy-dark"
    tips: bool = True


class LimitsConfig(_Strict):
    max_concurrent_agents: int = Field(default=4, ge=1)
    max_steps_per_turn: int = Field(default=40, ge=1)
    daily_budget_usd: float | None = Field(default=None, ge=0)
    provider_retries: int = Field(default=4, ge=0)
    retry_base_delay: Seconds = 1.0


class DefaultsConfig(_Strict):
    account: str | None = None


class PriceConfig(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class ChannelConfig(_Strict):
    """`[channels.NAME]`: one chat bridge (docs/channels.md). Secrets come from the
    environment variables named by the `*_env` keys, never from this file."""

    type: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")  # telegram | slack | whatsapp | fake | plugin
    enabled: bool = True
    chats: dict[str, str] = Field(default_factory=dict)  # platform chat id -> workspace
    trusted: list[str] = Field(default_factory=list)  # sender ids whose messages are trusted
    untrusted: Literal["mark", "ignore"] = "mark"
    token_env: str | None = None  # bot token (Telegram, Slack xoxb-, WhatsApp access token)
    app_token_env: str | None = None  # Slack Socket Mode app token (xapp-)
    verify_token_env: str | None = None  # WhatsApp webhook verify token
    app_secret_env: str | None = None  # WhatsApp app secret (webhook signatures)
    phone_number_id: str | None = None  # WhatsApp Cloud API sender
    base_url: str | None = None  # the platform API's URL (tests: a local fake)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=0, ge=0, le=65535)
    edit_interval: Seconds = 1.0  # streaming: at most one edit per interval
    stream: bool = True
    catch_up_interval: Seconds = 30.0
    reconnect_max: Seconds = 30.0
    max_attempts: int = Field(default=50, ge=1)  # outbound: give up after this many tries
    transcription_account: str | None = None  # unset: the workspace's account if OpenAI
    transcription_model: str = "whisper-1"
    options: dict[str, str] = Field(default_factory=dict)  # for plugin channels


class Config(_Strict):
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    workspaces: dict[str, WorkspaceConfig] = Field(default_factory=dict)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    pricing: dict[str, PriceConfig] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)

    @field_validator("accounts", "workspaces", "channels")
    @classmethod
    def _names(cls, value: dict) -> dict:
        import re

        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(
                    f"{name!r} is not a valid name (letters, digits, '-', '_', '.'; max 64)"
                )
        return value

    def default_account(self) -> str | None:
        if self.defaults.account:
            return self.defaults.account
        return next(iter(self.accounts), None)

    def account_for(self, workspace: str) -> str | None:
        ws = self.workspaces.get(workspace)
        return (ws.account if ws and ws.account else None) or self.default_account()

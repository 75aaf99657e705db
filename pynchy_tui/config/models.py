"""Typed settings. Unknown keys are errors: a typo must not silently do nothing.

Plain dataclasses, checked by `schema.build` when config.toml is loaded; code that sets a
field afterwards (the settings screen, the host) writes through `update_config`, which
validates the whole file first. They are built at import, before the first frame: each has a
docstring, which also spares `dataclass` deriving one from the signature (slow).
"""

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pynchy_tui.config.durations import parse_duration
from pynchy_tui.config.schema import Rule, Table

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _seconds(value: object) -> float:
    """parse_duration for any TOML value: an array or a table is an error, not a crash."""
    if not isinstance(value, str | int | float):
        raise ValueError("expected a duration like '10m', '90s' or a number of seconds")
    return parse_duration(value)


Seconds = Annotated[float, Rule(parse=_seconds)]
# The name of an account, workspace or channel: it appears in paths and commands.
Name = Annotated[
    str, Rule(pattern=NAME_PATTERN, hint="a valid name (letters, digits, '-', '_', '.'; max 64)")
]
Positive = Rule(gt=0)
Runtime = Literal["auto", "docker", "bubblewrap", "process"]


@dataclass(kw_only=True)
class AccountConfig(Table):
    """One model account. Several accounts may share a provider."""

    provider: Literal["anthropic", "openai"]
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    # Allowed because config.toml is written 0600; the environment is preferred.
    api_key: str | None = None
    max_tokens: Annotated[int, Positive] = 4096
    context_window: Annotated[int, Positive] = 200_000
    timeout: Seconds = 600.0


@dataclass(kw_only=True)
class WorkspaceConfig(Table):
    """`[workspaces.NAME]`: one agent's account, directives, repository and sandbox."""

    account: str | None = None
    directives: list[str] = field(default_factory=list)
    # Git (docs/git.md): the workspace works on its own clone of this repository, on branch
    # pynchy/NAME; `sync` says how its commits enter the main branch.
    repo: str | None = None
    main_branch: str | None = None  # unset: main, else master, else the repo's current branch
    sync: Literal["rebase", "merge"] = "rebase"
    deputy_review: bool = False
    review_account: str | None = None  # unset: the workspace's own account
    review_timeout: Seconds = 300.0
    conventions: list[str] = field(default_factory=list)  # files of the repo, read from main
    runtime: Runtime | None = None
    network: Literal["none", "full"] = "none"
    admin: bool = False


@dataclass(kw_only=True)
class RuntimeConfig(Table):
    """`[runtime]`: how agents' tools are sandboxed, with what resources (docs/runtimes.md)."""

    runtime: Runtime = "auto"
    allow_unsandboxed: bool = False
    idle_timeout: Seconds = 600.0
    image: str = "pynchy-agent:latest"
    # BASE_IMAGE of the agent image build; unset: $PYNCHY_BASE_IMAGE, else debian:bookworm-slim.
    base_image: str | None = None
    cpus: Annotated[float, Positive] = 2.0
    memory: Annotated[
        str,
        Rule(
            pattern=r"^\s*\d+(\.\d+)?\s*([kKmMgGtT](i?[bB])?|[bB])?\s*$",
            hint="a size like '512m', '2g' or '1.5GiB'",
        ),
    ] = "2g"
    pids: Annotated[int, Positive] = 512
    tool_timeout: Seconds = 120.0


@dataclass(kw_only=True)
class UIConfig(Table):
    """`[ui]`: the look of the TUI."""

    theme: str = "pynchy-dark"
    tips: bool = True


@dataclass(kw_only=True)
class LimitsConfig(Table):
    """`[limits]`: bounds on concurrency, steps per turn, retries and spend."""

    max_concurrent_agents: Annotated[int, Rule(ge=1)] = 4
    max_steps_per_turn: Annotated[int, Rule(ge=1)] = 40
    daily_budget_usd: Annotated[float | None, Rule(ge=0)] = None
    provider_retries: Annotated[int, Rule(ge=0)] = 4
    retry_base_delay: Seconds = 1.0


@dataclass(kw_only=True)
class DefaultsConfig(Table):
    """`[defaults]`: what a workspace gets when it does not say."""

    account: str | None = None


@dataclass(kw_only=True)
class PriceConfig(Table):
    """USD per million tokens."""

    input: Annotated[float, Rule(ge=0)]
    output: Annotated[float, Rule(ge=0)]


@dataclass(kw_only=True)
class ChannelConfig(Table):
    """`[channels.NAME]`: one chat bridge (docs/channels.md). Secrets come from the
    environment variables named by the `*_env` keys, never from this file."""

    # telegram | slack | whatsapp | fake | plugin
    type: Annotated[str, Rule(pattern=r"^[a-z][a-z0-9_-]*$", hint="a channel type like 'telegram'")]
    enabled: bool = True
    chats: dict[str, str] = field(default_factory=dict)  # platform chat id -> workspace
    trusted: list[str] = field(default_factory=list)  # sender ids whose messages are trusted
    untrusted: Literal["mark", "ignore"] = "mark"
    token_env: str | None = None  # bot token (Telegram, Slack xoxb-, WhatsApp access token)
    app_token_env: str | None = None  # Slack Socket Mode app token (xapp-)
    verify_token_env: str | None = None  # WhatsApp webhook verify token
    app_secret_env: str | None = None  # WhatsApp app secret (webhook signatures)
    phone_number_id: str | None = None  # WhatsApp Cloud API sender
    base_url: str | None = None  # the platform API's URL (tests: a local fake)
    webhook_host: str = "127.0.0.1"
    webhook_port: Annotated[int, Rule(ge=0, le=65535)] = 0
    edit_interval: Seconds = 1.0  # streaming: at most one edit per interval
    stream: bool = True
    catch_up_interval: Seconds = 30.0
    reconnect_max: Seconds = 30.0
    max_attempts: Annotated[int, Rule(ge=1)] = 50  # outbound: give up after this many tries
    transcription_account: str | None = None  # unset: the workspace's account if OpenAI
    transcription_model: str = "whisper-1"
    options: dict[str, str] = field(default_factory=dict)  # for plugin channels


@dataclass(kw_only=True)
class Config(Table):
    """The whole of config.toml."""

    accounts: dict[Name, AccountConfig] = field(default_factory=dict)
    workspaces: dict[Name, WorkspaceConfig] = field(default_factory=dict)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    defaults: DefaultsConfig = field(default_factory=DefaultsConfig)
    pricing: dict[str, PriceConfig] = field(default_factory=dict)
    channels: dict[Name, ChannelConfig] = field(default_factory=dict)

    def default_account(self) -> str | None:
        if self.defaults.account:
            return self.defaults.account
        return next(iter(self.accounts), None)

    def account_for(self, workspace: str) -> str | None:
        ws = self.workspaces.get(workspace)
        return (ws.account if ws and ws.account else None) or self.default_account()

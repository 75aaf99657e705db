"""Config: the documented shape loads; bad config names file, line and key; writes keep comments."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pynchy_tui.config import (
    DELETE,
    ConfigError,
    load_config,
    parse_config,
    resolve_paths,
    update_config,
)
from pynchy_tui.config.durations import parse_duration
from pynchy_tui.config.save import rename_table

EXAMPLE = """\
[accounts.personal]
provider = "anthropic"
model = "claude-sonnet-4-5"
api_key_env = "ANTHROPIC_API_KEY"

[accounts.local]
provider = "openai"                       # any OpenAI-compatible server
model = "qwen2.5-coder"
base_url = "http://127.0.0.1:11434/v1"

[workspaces.notes]
account = "personal"

[runtime]
runtime = "auto"                          # auto | docker | bubblewrap | process
allow_unsandboxed = false
idle_timeout = "10m"

[ui]
tips = true
"""


def test_documented_example_loads() -> None:
    c = parse_config(EXAMPLE, Path("config.toml"))
    assert c.accounts["personal"].provider == "anthropic"
    assert c.accounts["local"].base_url == "http://127.0.0.1:11434/v1"
    assert c.runtime.idle_timeout == 600
    assert c.runtime.runtime == "auto" and c.runtime.allow_unsandboxed is False
    assert c.ui.tips is True
    assert c.account_for("notes") == "personal"
    assert c.account_for("elsewhere") == "personal"  # first account is the default


def _error(text: str, tmp_path: Path) -> ConfigError:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_syntax_error_names_file_line_and_key(tmp_path: Path) -> None:
    err = _error(EXAMPLE.replace("tips = true", "tips = yes"), tmp_path)
    assert err.path == tmp_path / "config.toml"
    assert err.line == 20
    assert err.key == "tips"
    assert str(tmp_path / "config.toml") in str(err) and "line 20" in str(err)


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    err = _error(EXAMPLE.replace("idle_timeout", "idle_timout"), tmp_path)
    assert (err.line, err.key) == (17, "runtime.idle_timout")
    assert "unknown key" in str(err)


def test_wrong_type_names_file_line_and_key(tmp_path: Path) -> None:
    err = _error(
        EXAMPLE.replace("allow_unsandboxed = false", 'allow_unsandboxed = "maybe"'), tmp_path
    )
    assert (err.line, err.key) == (16, "runtime.allow_unsandboxed")
    assert "boolean" in err.message


def test_bad_enum_says_what_was_expected(tmp_path: Path) -> None:
    err = _error(EXAMPLE.replace('provider = "openai"', 'provider = "ollama"'), tmp_path)
    assert (err.line, err.key) == (7, "accounts.local.provider")
    assert "'anthropic'" in err.message and "'openai'" in err.message


def test_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    err = _error('[accounts.x]\nprovider = "openai"\n', tmp_path)
    assert (err.line, err.key) == (1, "accounts.x.model")
    assert "missing" in err.message


def test_bad_duration(tmp_path: Path) -> None:
    err = _error(EXAMPLE.replace('"10m"', '"ten minutes"'), tmp_path)
    assert err.key == "runtime.idle_timeout" and err.line == 17


def test_unknown_account_reference_names_the_key(tmp_path: Path) -> None:
    err = _error(EXAMPLE.replace('account = "personal"', 'account = "persnal"'), tmp_path)
    assert (err.line, err.key) == (12, "workspaces.notes.account")
    assert "'persnal'" in err.message and "personal" in err.message
    err = _error(EXAMPLE + '\n[defaults]\naccount = "work"\n', tmp_path)
    assert err.key == "defaults.account" and err.line == 23


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    c = load_config(tmp_path / "nope.toml")
    assert c.accounts == {} and c.ui.tips is True


def test_pynchy_home_puts_everything_under_one_dir(tmp_path: Path) -> None:
    p = resolve_paths({"PYNCHY_HOME": str(tmp_path)})
    assert p.config_file == tmp_path / "config.toml"
    assert p.data_dir == tmp_path / "data"
    assert p.log_dir == tmp_path / "logs"
    assert p.db_path.parent == tmp_path / "data"


def test_update_keeps_comments_and_writes_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# my pynchy\n" + EXAMPLE)
    path.chmod(0o644)
    update_config(
        path,
        {("ui", "tips"): False, ("ui", "theme"): "ansi-dark", ("limits", "max_steps_per_turn"): 9},
    )
    text = path.read_text()
    assert "# my pynchy" in text
    assert "# any OpenAI-compatible server" in text
    assert "# auto | docker | bubblewrap | process" in text
    c = load_config(path)
    assert c.ui.tips is False and c.ui.theme == "ansi-dark" and c.limits.max_steps_per_turn == 9
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left


def test_update_refuses_to_write_an_invalid_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE)
    with pytest.raises(ConfigError):
        update_config(path, {("runtime", "runtime"): "teleport"})
    assert path.read_text() == EXAMPLE


def test_update_creates_a_new_account_table_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    update_config(path, {("accounts", "work"): {"provider": "openai", "model": "gpt-4o"}})
    assert load_config(path).accounts["work"].model == "gpt-4o"
    update_config(path, {("accounts", "work"): DELETE})
    assert load_config(path).accounts == {}


def test_rename_table_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        EXAMPLE.replace(
            '[workspaces.notes]\naccount = "personal"',
            '[workspaces.notes]\n# mine\naccount = "personal"',
        )
    )
    rename_table(path, "workspaces", "notes", "journal")
    c = load_config(path)
    assert "journal" in c.workspaces and "notes" not in c.workspaces
    assert "# mine" in path.read_text()


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("45s", 45), ("250ms", 0.25), (30, 30)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "10", "m10", "10 minutes", "1x", True, -1])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]


ACCOUNT = '[accounts.a]\nprovider = "openai"\nmodel = "m"\n'


@pytest.mark.parametrize(
    ("text", "key", "line", "message"),
    [
        ("[runtime]\npids = 0\n", "runtime.pids", 2, "must be greater than 0, got 0"),
        ("[runtime]\ncpus = -1\n", "runtime.cpus", 2, "must be greater than 0, got -1"),
        (
            "[limits]\nmax_steps_per_turn = 0\n",
            "limits.max_steps_per_turn",
            2,
            "must be at least 1, got 0",
        ),
        (
            "[limits]\ndaily_budget_usd = -1\n",
            "limits.daily_budget_usd",
            2,
            "must be at least 0, got -1",
        ),
        (
            '[channels.c]\ntype = "fake"\nwebhook_port = 70000\n',
            "channels.c.webhook_port",
            3,
            "must be at most 65535, got 70000",
        ),
        (
            '[runtime]\nmemory = "lots"\n',
            "runtime.memory",
            2,
            "'lots' is not a size like '512m', '2g' or '1.5GiB'",
        ),
        (
            '[channels.c]\ntype = "Telegram"\n',
            "channels.c.type",
            2,
            "'Telegram' is not a channel type like 'telegram'",
        ),
        (
            '[channels.c]\ntype = "fake"\nchats = { "1" = 2 }\n',
            "channels.c.chats.1",
            3,
            "expected a string, got 2",
        ),
        (
            '[channels.c]\ntype = "fake"\ntrusted = "a"\n',
            "channels.c.trusted",
            3,
            "expected a list, got 'a'",
        ),
        (
            '[workspaces.w]\ndirectives = ["a", 2]\n',
            "workspaces.w.directives.1",
            2,
            "expected a string, got 2",
        ),
        (
            '[workspaces.w]\nsync = "squash"\n',
            "workspaces.w.sync",
            2,
            "expected one of 'rebase' or 'merge', got 'squash'",
        ),
        (
            '[workspaces.w]\nruntime = "podman"\n',
            "workspaces.w.runtime",
            2,
            "expected one of 'auto', 'docker', 'bubblewrap' or 'process', got 'podman'",
        ),
        ("runtime = 3\n", "runtime", 1, "expected a table, got 3"),
        (
            "[runtime]\nidle_timeout = [1]\n",
            "runtime.idle_timeout",
            2,
            "expected a duration like '10m', '90s' or a number of seconds, got [1]",
        ),
        (
            "[runtime]\nidle_timeout = -5\n",
            "runtime.idle_timeout",
            2,
            "a duration cannot be negative, got -5",
        ),
        ("[pricing.x]\ninput = 1\n", "pricing.x.output", 1, "required key is missing"),
        (
            "[pricing.x]\ninput = 1\noutput = 2\nextra = 3\n",
            "pricing.x.extra",
            4,
            "unknown key (check the spelling; see docs/configuration.md)",
        ),
        (
            "nonsense = 1\n",
            "nonsense",
            1,
            "unknown key (check the spelling; see docs/configuration.md)",
        ),
    ],
)
def test_validation_messages(text: str, key: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("config.toml"))
    assert (info.value.key, info.value.line, info.value.message) == (key, line, message)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[runtime]\nallow_unsandboxed = 1\n", "runtime.allow_unsandboxed"),  # a bool is not 1
        ('[runtime]\nallow_unsandboxed = "true"\n', "runtime.allow_unsandboxed"),
        ("[runtime]\npids = true\n", "runtime.pids"),  # nor an int a bool
        ("[runtime]\npids = 3.0\n", "runtime.pids"),
        ('[runtime]\npids = "3"\n', "runtime.pids"),
        ("[runtime]\ncpus = true\n", "runtime.cpus"),
        ('[runtime]\ncpus = "2"\n', "runtime.cpus"),
        (ACCOUNT + "base_url = 3\n", "accounts.a.base_url"),
    ],
)
def test_types_are_not_coerced(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("config.toml"))
    assert info.value.key == key


def test_table_names_are_checked(tmp_path: Path) -> None:
    err = _error(EXAMPLE + '\n[workspaces."my notes"]\n', tmp_path)
    assert (err.key, err.line) == ("workspaces.my notes", 22)
    assert "'my notes' is not a valid name" in err.message


def test_numbers_and_durations_load() -> None:
    c = parse_config(
        ACCOUNT
        + 'timeout = "1h30m"\n[runtime]\ncpus = 3\nidle_timeout = 90\nmemory = " 1.5 GiB "\n'
        + "[limits]\ndaily_budget_usd = 0\n[pricing.x]\ninput = 1\noutput = 2.5\n",
        Path("config.toml"),
    )
    assert c.accounts["a"].timeout == 5400 and c.runtime.idle_timeout == 90
    assert c.runtime.cpus == 3.0 and isinstance(c.runtime.cpus, float)
    assert c.limits.daily_budget_usd == 0.0
    assert (c.pricing["x"].input, c.pricing["x"].output) == (1.0, 2.5)


def test_defaults_and_non_defaults() -> None:
    from pynchy_tui.config.models import AccountConfig, Config

    c = Config()
    assert c.accounts == {} and c.runtime.runtime == "auto" and c.limits.max_concurrent_agents == 4
    assert c.default_account() is None and c.account_for("x") is None
    assert Config().runtime is not c.runtime  # no shared mutable defaults
    acc = AccountConfig(provider="openai", model="m", base_url="http://x", max_tokens=4096)
    assert acc.non_defaults() == {"provider": "openai", "model": "m", "base_url": "http://x"}

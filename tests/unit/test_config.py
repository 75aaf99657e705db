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

"""Load config.toml into typed settings, failing with file, line and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pynchy_tui.config.errors import ConfigError
from pynchy_tui.config.locate import locate
from pynchy_tui.config.models import Config
from pynchy_tui.config.schema import Invalid, build

_TOML_POS = r"\(at line (\d+), column (\d+)\)"  # compiled on the first error, not at import


def parse_config(source: str, path: Path) -> Config:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(_TOML_POS, msg)
        line = int(m.group(1)) if m else None
        key = _key_on_line(source, line)
        raise ConfigError(
            path, line, key, f"invalid TOML: {re.sub(_TOML_POS, '', msg).strip()}"
        ) from None
    try:
        config = build(Config, data)
    except Invalid as exc:
        key = ".".join(exc.loc) or None
        raise ConfigError(path, locate(source, exc.loc), key, exc.message) from None
    problem = cross_check(config)
    if problem is not None:
        loc, message = problem
        raise ConfigError(path, locate(source, loc), ".".join(loc), message)
    return config


def cross_check(config: Config) -> tuple[tuple[str, ...], str] | None:
    """References between tables: every account named must exist."""
    known = ", ".join(sorted(config.accounts)) or "none defined"
    for name, ws in config.workspaces.items():
        if ws.account is not None and ws.account not in config.accounts:
            return ("workspaces", name, "account"), f"no account named {ws.account!r} ({known})"
        if ws.review_account is not None and ws.review_account not in config.accounts:
            return (
                ("workspaces", name, "review_account"),
                f"no account named {ws.review_account!r} ({known})",
            )
    account = config.defaults.account
    if account is not None and account not in config.accounts:
        return ("defaults", "account"), f"no account named {account!r} ({known})"
    return None


def load_config(path: Path) -> Config:
    """The config at `path`; a missing file is an empty config (first run)."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    return parse_config(source, path)


def _key_on_line(source: str, line: int | None) -> str | None:
    if not line:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    m = re.match(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=", lines[line - 1])
    return m.group(1) if m else None

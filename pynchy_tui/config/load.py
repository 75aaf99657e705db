"""Load config.toml into typed settings, failing with file, line and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from pynchy_tui.config.errors import ConfigError
from pynchy_tui.config.locate import locate
from pynchy_tui.config.models import Config

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_config(source: str, path: Path) -> Config:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line = int(m.group(1)) if m else None
        key = _key_on_line(source, line)
        raise ConfigError(
            path, line, key, f"invalid TOML: {_TOML_POS.sub('', msg).strip()}"
        ) from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc) if loc else None
        raise ConfigError(path, locate(source, loc), key, _explain(err)) from None
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


def _explain(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/configuration.md)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {err.get('input')!r}"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if "got" in msg or "input" not in err:
        return msg
    return f"{msg}, got {err['input']!r}"


def _key_on_line(source: str, line: int | None) -> str | None:
    if not line:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    m = re.match(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=", lines[line - 1])
    return m.group(1) if m else None

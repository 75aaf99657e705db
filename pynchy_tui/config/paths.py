"""Where pynchy keeps its config, data and logs.

`PYNCHY_HOME=DIR` puts everything under one directory (tests always use it); otherwise the
platform's conventional directories are used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "pynchy"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "pynchy.db"

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def socket_path(self) -> Path:
        """The running host's control socket (`pynchy send` talks to it)."""
        return self.data_dir / "host.sock"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "host.lock"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "pynchy.log"

    def ensure(self) -> None:
        for d in (self.config_dir, self.data_dir, self.log_dir, self.workspaces_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get("PYNCHY_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(config_dir=root, data_dir=root / "data", log_dir=root / "logs")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        log_dir=Path(platformdirs.user_state_dir(APP_NAME)) / "log",
    )

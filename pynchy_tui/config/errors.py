"""A config error that says where: file, line, key, and what was expected."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    def __init__(self, path: Path, line: int | None, key: str | None, message: str) -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.path) + (f", line {self.line}" if self.line else "")
        what = f", key '{self.key}'" if self.key else ""
        return f"config error in {where}{what}: {self.message}"

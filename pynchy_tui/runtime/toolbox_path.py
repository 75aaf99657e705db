"""Where the toolbox source lives: beside the package when installed, else in the repo."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent


def container_dir() -> Path:
    for candidate in (_PKG / "_container", _PKG.parent / "container"):
        if (candidate / "toolbox" / "toolbox.py").is_file():
            return candidate
    raise FileNotFoundError("pynchy's container/ directory (agent image and toolbox) is missing")


def toolbox_script() -> Path:
    return container_dir() / "toolbox" / "toolbox.py"

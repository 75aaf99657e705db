"""Provides the built-in themes and pynchy's semantic theme variables.

Stylesheets use only these variables (never literal colours), so every theme, including
`ansi-dark` and `ansi-light`, stays legible.
"""

from __future__ import annotations

from textual.theme import Theme

PYNCHY_DARK = Theme(
    name="pynchy-dark",
    primary="#7aa2f7",
    secondary="#bb9af7",
    accent="#e0af68",
    foreground="#c0caf5",
    background="#16161e",
    surface="#1f2335",
    panel="#24283b",
    success="#9ece6a",
    warning="#e0af68",
    error="#f7768e",
    dark=True,
)

PYNCHY_LIGHT = Theme(
    name="pynchy-light",
    primary="#2e59c7",
    secondary="#7847bd",
    accent="#b15c00",
    foreground="#24292f",
    background="#f6f8fa",
    surface="#ffffff",
    panel="#eaeef2",
    success="#1a7f37",
    warning="#9a6700",
    error="#cf222e",
    dark=False,
)

PYNCHY_DUSK = Theme(
    name="pynchy-dusk",
    primary="#f38ba8",
    secondary="#89b4fa",
    accent="#f9e2af",
    foreground="#cdd6f4",
    background="#1e1e2e",
    surface="#262637",
    panel="#313244",
    success="#a6e3a1",
    warning="#fab387",
    error="#eba0ac",
    dark=True,
)

BUILTIN_THEMES: dict[str, Theme] = {t.name: t for t in (PYNCHY_DARK, PYNCHY_LIGHT, PYNCHY_DUSK)}
SHIPPED_THEME_NAMES = [*BUILTIN_THEMES, "ansi-dark", "ansi-light"]
DEFAULT_THEME = "pynchy-dark"

"""Configuration: typed models, loading with precise errors, comment-preserving writes."""

from pynchy_tui.config.errors import ConfigError
from pynchy_tui.config.load import load_config, parse_config
from pynchy_tui.config.models import AccountConfig, Config, WorkspaceConfig
from pynchy_tui.config.paths import Paths, resolve_paths
from pynchy_tui.config.save import DELETE, update_config

__all__ = [
    "DELETE",
    "AccountConfig",
    "Config",
    "ConfigError",
    "Paths",
    "WorkspaceConfig",
    "load_config",
    "parse_config",
    "resolve_paths",
    "update_config",
]

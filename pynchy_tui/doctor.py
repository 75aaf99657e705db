"""`pynchy doctor`: is the set-up able to run an agent, and if not, what to do about it."""

from __future__ import annotations

import sys

from pynchy_tui.config import ConfigError, Paths, load_config
from pynchy_tui.providers.accounts import build_provider, missing_key


def _line(status: str, what: str, detail: str) -> None:
    print(f"  [{status:^4}] {what}: {detail}")


async def run_doctor(paths: Paths) -> int:
    from pynchy_tui.plugins.registry import load_plugins
    from pynchy_tui.runtime.manager import RuntimeRefused, select_runtime

    print(f"pynchy doctor ({sys.executable})")
    problems = 0
    try:
        config = load_config(paths.config_file)
    except ConfigError as exc:
        _line("FAIL", "config", str(exc))
        return 2
    exists = "" if paths.config_file.exists() else " (does not exist yet: defaults)"
    _line("ok", "config", f"{paths.config_file}{exists}")
    _line("ok", "data", str(paths.data_dir))
    plugins = load_plugins()
    plugins.collect_all()
    for name, reason in plugins.failures:
        _line("warn", f"plugin {name}", reason)
    factories = plugins.providers()
    reachable = 0
    if not config.accounts:
        _line(
            "FAIL",
            "accounts",
            "none configured: add [accounts.NAME] to config.toml (see docs/configuration.md)",
        )
    for name, account in config.accounts.items():
        label = f"account {name} ({account.provider}, {account.model})"
        problem = missing_key(account)
        if problem is not None:
            _line("FAIL", label, problem)
            continue
        try:
            provider = build_provider(account, factories)
            detail = await provider.check()
            await provider.close()
        except Exception as exc:
            _line("FAIL", label, f"{account.base_url or 'default endpoint'}: {exc}")
            continue
        reachable += 1
        _line("ok", label, f"{account.base_url or 'default endpoint'} {detail}")
    if (config.accounts and not reachable) or not config.accounts:
        problems += 1
    runtimes = plugins.runtimes()
    for name in ("docker", "bubblewrap", "process"):
        rt = runtimes.get(name)
        if rt is None:
            _line("--", f"runtime {name}", "not registered (a plugin replaced or removed it)")
            continue
        ok, why = await rt.available()
        if not ok:
            why += {
                "docker": "; to use it: install Docker Engine or Podman and start it (e.g. "
                "`systemctl --user start podman.socket`), or point DOCKER_HOST at its socket",
                "bubblewrap": "; to use it: install bubblewrap (`apt install bubblewrap`)",
            }.get(name, "")
        _line("ok" if ok else "--", f"runtime {name}", why)
    try:
        _rt, why = await select_runtime(
            config.runtime.runtime, config.runtime.allow_unsandboxed, runtimes
        )
        _line("ok", "selected runtime", why)
    except RuntimeRefused as exc:
        _line("FAIL", "selected runtime", str(exc))
        problems += 1
    if problems:
        print("pynchy cannot run an agent yet: fix the FAIL lines above.")
        return 1
    print("pynchy is ready to run agents.")
    return 0

"""The mount allowlist: host paths a sandbox may see besides its own workspace.

Nothing from the host is mounted into a sandbox unless it is listed in `mount-allowlist.toml`
in the config dir::

    [[mount]]
    path = "~/datasets"              # host path; ~ is expanded, symlinks are resolved
    container_path = "/data/sets"    # optional, default /mnt/<name>
    read_only = true                 # optional, default true
    workspaces = ["research"]        # optional, default every workspace

Some paths are refused even when listed: ~/.ssh, ~/.aws, ~/.gnupg, pynchy's own config, data
and log dirs, and the container engine sockets; so is any directory that contains one of them
(mounting ~ would expose ~/.ssh). Checks run on the resolved path, so a symlink to a refused
path is refused too.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pynchy_tui.runtime.base import SANDBOX_HOME, SANDBOX_TOOLBOX_DIR, SANDBOX_WORKSPACE, Mount

log = logging.getLogger(__name__)

ALLOWLIST_FILE = "mount-allowlist.toml"

# Container paths a listed mount may not take, hide, or sit inside.
RESERVED_CONTAINER_PATHS = (
    SANDBOX_WORKSPACE,
    SANDBOX_TOOLBOX_DIR,
    SANDBOX_HOME,
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/tmp",
    "/run",
    "/var",
    "/boot",
    "/root",
)


def engine_sockets() -> list[Path]:
    """Container engine sockets a sandbox must never see (it would own the host)."""
    out = [
        Path("/var/run/docker.sock"),
        Path("/run/docker.sock"),
        Path("/run/podman/podman.sock"),
    ]
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        out += [Path(xdg) / "podman" / "podman.sock", Path(xdg) / "docker.sock"]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        out.append(Path(host.removeprefix("unix://")))
    return out


def refused_paths(pynchy_dirs: list[Path]) -> list[tuple[Path, str]]:
    home = Path.home()
    out = [
        (home / ".ssh", "SSH keys"),
        (home / ".aws", "AWS credentials"),
        (home / ".gnupg", "GnuPG keys"),
    ]
    out += [(d, "pynchy's own config/data") for d in pynchy_dirs]
    out += [(s, "a container engine socket") for s in engine_sockets()]
    return out


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path.expanduser()))


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def refusal(host_path: Path, pynchy_dirs: list[Path]) -> str | None:
    """Why this host path may not be mounted, or None when it may."""
    real = _real(host_path)
    for bad, what in refused_paths(pynchy_dirs):
        for candidate in {bad.expanduser().absolute(), _real(bad)}:
            if _within(real, candidate):
                return f"{host_path} is refused: it is {what} ({candidate})"
            if _within(candidate, real):
                return f"{host_path} is refused: it contains {what} ({candidate})"
    return None


def _container_path_problem(cpath: str) -> str | None:
    p = PurePosixPath(cpath)
    if not p.is_absolute() or ".." in p.parts:
        return f"container_path {cpath!r} must be an absolute path without '..'"
    norm = str(p)
    if norm == "/":
        return "container_path '/' is not allowed"
    for reserved in RESERVED_CONTAINER_PATHS:
        r = PurePosixPath(reserved)
        if p == r or r in p.parents or p in r.parents:
            return f"container_path {cpath!r} overlaps {reserved}, which the sandbox needs"
    return None


@dataclass
class AllowlistResult:
    mounts: tuple[Mount, ...] = ()
    refused: list[str] = field(default_factory=list)


def mounts_for(workspace: str, config_dir: Path, pynchy_dirs: list[Path]) -> AllowlistResult:
    """The allowlisted mounts for one workspace, and every entry refused (with why)."""
    path = config_dir / ALLOWLIST_FILE
    result = AllowlistResult()
    if not path.is_file():
        return result
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        result.refused.append(f"{path}: cannot read the allowlist ({exc}); nothing is mounted")
        return result
    entries = data.get("mount", [])
    unknown_top = sorted(set(data) - {"mount"})
    if unknown_top:
        result.refused.append(f"{path}: unknown key(s) {', '.join(unknown_top)} ignored")
    if not isinstance(entries, list):
        result.refused.append(f"{path}: 'mount' must be an array of tables ([[mount]])")
        return result
    mounts: list[Mount] = []
    used: set[str] = set()
    for i, entry in enumerate(entries, 1):
        where = f"{path} [[mount]] #{i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            result.refused.append(f'{where}: needs path = "..."')
            continue
        unknown = sorted(set(entry) - {"path", "container_path", "read_only", "workspaces"})
        if unknown:
            result.refused.append(f"{where}: unknown key(s) {', '.join(unknown)}; entry skipped")
            continue
        only = entry.get("workspaces")
        if only is not None and (
            not isinstance(only, list) or not all(isinstance(w, str) for w in only)
        ):
            result.refused.append(f"{where}: workspaces must be a list of names")
            continue
        if only is not None and workspace not in only:
            continue
        host = Path(entry["path"]).expanduser()
        if not host.is_absolute():
            result.refused.append(f"{where}: path {entry['path']!r} must be absolute (or ~/...)")
            continue
        why = refusal(host, pynchy_dirs)
        if why:
            result.refused.append(f"{where}: {why}")
            continue
        real = _real(host)
        if not real.exists():
            result.refused.append(f"{where}: {host} does not exist")
            continue
        cpath = entry.get("container_path") or f"/mnt/{real.name or 'root'}"
        if not isinstance(cpath, str):
            result.refused.append(f"{where}: container_path must be a string")
            continue
        problem = _container_path_problem(cpath)
        if problem:
            result.refused.append(f"{where}: {problem}")
            continue
        cpath = str(PurePosixPath(cpath))
        if any(
            PurePosixPath(cpath) == PurePosixPath(u)
            or PurePosixPath(u) in PurePosixPath(cpath).parents
            or PurePosixPath(cpath) in PurePosixPath(u).parents
            for u in used
        ):
            result.refused.append(f"{where}: container_path {cpath} overlaps another mount")
            continue
        read_only = entry.get("read_only", True)
        if not isinstance(read_only, bool):
            result.refused.append(f"{where}: read_only must be true or false")
            continue
        used.add(cpath)
        mounts.append(Mount(real, cpath, read_only))
    result.mounts = tuple(mounts)
    for line in result.refused:
        log.warning("mount allowlist: %s", line)
    return result


def check_mounts(mounts: tuple[Mount, ...], pynchy_dirs: list[Path]) -> None:
    """Last line of defence in a runtime: refuse a spec whose mounts break the rules."""
    for m in mounts:
        why = refusal(m.host_path, pynchy_dirs) or _container_path_problem(m.container_path)
        if why:
            raise PermissionError(f"mount refused: {why}")

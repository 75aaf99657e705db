"""The `bubblewrap` runtime: the toolbox in a `bwrap` sandbox. Linux, no daemon.

The sandbox gets new user, pid, ipc, uts, cgroup and network namespaces (the network is shared
only when the workspace asks for "full"), a root of its own built from read-only binds of the
system dirs (/usr and the /bin, /lib... links, a few files of /etc; no /home, no /root, no
/sys), the workspace read-write at /workspace (the same path as in a container, so the model
sees the same paths in every isolating runtime), the toolbox read-only at /opt/pynchy/toolbox,
private tmpfs /tmp and home, generated /etc/passwd and /etc/group, no capabilities,
`--die-with-parent` (a host that dies takes its sandboxes with it) and `--new-session`. The
environment is built from scratch: no host variable reaches the sandbox.

When pynchy runs as root the sandbox user is uid 1000 inside its user namespace (mapped to
root outside, so files it writes belong to you). Limits: there is no cgroup, so memory is
capped per process with RLIMIT_DATA (an allocation beyond it fails) and pids with
RLIMIT_NPROC (counted per user namespace on Linux >= 5.14, not set on older kernels); CPU is
not limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from pynchy_tui.runtime.base import (
    LABEL_HOME,
    SANDBOX_HOME,
    SANDBOX_TOOLBOX_DIR,
    SANDBOX_WORKSPACE,
    ManagedSandbox,
    OutputCallback,
    SandboxDied,
    SandboxSpec,
    SandboxStats,
    parse_memory,
)
from pynchy_tui.runtime.mounts import check_mounts
from pynchy_tui.runtime.toolbox_client import MAX_LINE, ToolboxClient
from pynchy_tui.runtime.toolbox_path import toolbox_script

log = logging.getLogger(__name__)

MARKER_ENV = "PYNCHY_SANDBOX"  # bwrap's argv carries it: list_managed finds sandboxes by it
NON_ROOT_UID = 1000
HELLO_TIMEOUT = 20.0
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

# /etc files a shell, python, git and TLS need; nothing else of the host's /etc is visible.
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "protocols",
    "services",
    "mime.types",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "bash.bashrc",
    "profile",
    "inputrc",
    "os-release",
    "debian_version",
    "magic",
    "magic.mime",
)
NET_ETC_FILES = ("resolv.conf", "hosts")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        parts = os.uname().release.split(".")
        return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def _find_python() -> str:
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.realpath(sys.executable)


class BubblewrapSandbox:
    runtime = "bubblewrap"
    root = SANDBOX_WORKSPACE

    def __init__(self, proc: asyncio.subprocess.Process, spec: SandboxSpec) -> None:
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        self.proc = proc
        self.id = f"bwrap-{proc.pid}"
        self.spec = spec
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.client = ToolboxClient(proc.stdout, proc.stdin, spec.workspace)
        self._stderr_task = asyncio.create_task(self._drain_stderr(proc.stderr))
        self._cpu_sample: tuple[float, float] | None = None

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while line := await stream.readline():
                text = line.decode("utf-8", "replace").rstrip("\n")
                self.stderr_tail.append(text)
                log.debug("sandbox %s stderr: %s", self.id, text)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and self.client.alive

    async def call(
        self, op: str, args: dict[str, Any], on_output: OutputCallback | None = None
    ) -> dict[str, Any]:
        try:
            return await self.client.call(op, args, on_output)
        except SandboxDied as exc:
            raise SandboxDied(await self._death_reason(str(exc))) from exc

    async def _death_reason(self, base: str) -> str:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 1.0)
        details = []
        code = self.proc.returncode
        if code is not None:
            if code < 0:
                name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
                details.append(f"bwrap was killed by {name}")
            else:
                details.append(f"bwrap exited with code {code}")
        if self.stderr_tail:
            details.append("stderr: " + " | ".join(list(self.stderr_tail)[-3:]))
        return f"{base}: " + "; ".join(details) if details else base

    async def stats(self) -> SandboxStats | None:
        return await asyncio.to_thread(self._stats)

    def _stats(self) -> SandboxStats | None:
        pids = _descendants(self.proc.pid)
        if not pids:
            return None
        ticks = 0
        rss_pages = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
                with open(f"/proc/{pid}/statm") as f:
                    rss_pages += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        hz = os.sysconf("SC_CLK_TCK")
        cpu_s = ticks / hz
        now = time.monotonic()
        cpu = 0.0
        if self._cpu_sample is not None and now > self._cpu_sample[0]:
            cpu = max(cpu_s - self._cpu_sample[1], 0) / (now - self._cpu_sample[0]) * 100.0
        self._cpu_sample = (now, cpu_s)
        return SandboxStats(round(cpu, 1), rss_pages * os.sysconf("SC_PAGE_SIZE"))

    async def stop(self) -> None:
        """Stop the sandbox (closing stdin lets the toolbox end its commands); files stay."""
        await self.client.close()
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        self._stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._stderr_task

    async def kill(self) -> None:
        """SIGKILL from outside (tests: a sandbox dying mid-turn)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out if os.path.exists(f"/proc/{root}") else []


class BubblewrapRuntime:
    name = "bubblewrap"
    isolated = True

    def __init__(self, bwrap: str | None = None) -> None:
        self._bwrap = bwrap
        self._ok: str | None = None
        self._negative: tuple[float, str] | None = None

    @property
    def bwrap(self) -> str | None:
        return self._bwrap or shutil.which("bwrap")

    def argv(
        self, spec: SandboxSpec, command: list[str], passwd_fd: int, group_fd: int
    ) -> list[str]:
        bwrap = self.bwrap
        assert bwrap is not None
        root = os.getuid() == 0
        marker = f"{spec.labels.get(LABEL_HOME, 'default')}:{spec.workspace}"
        args = [bwrap, "--unshare-all"]
        if root:
            args += ["--unshare-user", "--uid", str(NON_ROOT_UID), "--gid", str(NON_ROOT_UID)]
        if spec.network == "full":
            args.append("--share-net")
        elif spec.network != "none":
            raise ValueError(f"network = {spec.network!r} is not supported by bubblewrap")
        args += [
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            f"pynchy-{spec.workspace}"[:63],
            "--setenv",
            MARKER_ENV,
            marker,
        ]
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                args += ["--ro-bind", d, d]
        python = _find_python()
        if not any(python.startswith(d + "/") for d in SYSTEM_DIRS):
            prefix = str(Path(python).parent.parent)  # e.g. a pyenv or uv interpreter
            args += ["--ro-bind", prefix, prefix]
        etc = [*ETC_FILES, *(NET_ETC_FILES if spec.network == "full" else ())]
        for rel in etc:
            src = f"/etc/{rel}"
            if os.path.exists(src):
                args += ["--ro-bind", src, src]
        args += [
            "--perms",
            "0644",
            "--ro-bind-data",
            str(passwd_fd),
            "/etc/passwd",
            "--perms",
            "0644",
            "--ro-bind-data",
            str(group_fd),
            "/etc/group",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run",
            "--dir",
            "/var/tmp",
            "--tmpfs",
            SANDBOX_HOME,
            "--bind",
            str(spec.workspace_dir.resolve()),
            SANDBOX_WORKSPACE,
            "--ro-bind",
            str(toolbox_script().parent),
            SANDBOX_TOOLBOX_DIR,
        ]
        for m in spec.mounts:
            args += ["--ro-bind" if m.read_only else "--bind", str(m.host_path), m.container_path]
        # The sandbox's own root stays read-only: only /workspace, /tmp, /run and home are
        # writable.
        args += ["--remount-ro", "/", "--chdir", SANDBOX_WORKSPACE, "--", *command]
        return args

    def env(self, spec: SandboxSpec) -> dict[str, str]:
        env = {
            "PATH": SANDBOX_PATH,
            "HOME": SANDBOX_HOME,
            "USER": "agent",
            "LOGNAME": "agent",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "PYNCHY_WORKSPACE": spec.workspace,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(spec.env)
        return env

    def _limits_prefix(self, spec: SandboxSpec) -> str:
        parts = []
        mem_kib = parse_memory(spec.limits.memory) // 1024
        if mem_kib > 0:
            parts.append(f"ulimit -d {mem_kib}")
        if spec.limits.pids > 0 and _kernel_at_least(5, 14) and os.path.exists("/bin/bash"):
            parts.append(f"ulimit -u {spec.limits.pids}")
        return "".join(f"{p} 2>/dev/null; " for p in parts)

    async def _spawn(self, spec: SandboxSpec, command: list[str]) -> asyncio.subprocess.Process:
        uid = NON_ROOT_UID if os.getuid() == 0 else os.getuid()
        gid = NON_ROOT_UID if os.getuid() == 0 else os.getgid()
        passwd = (
            f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"agent:x:{uid}:{gid}:pynchy agent:{SANDBOX_HOME}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        group = f"root:x:0:\nagent:x:{gid}:\nnogroup:x:65534:\n"
        fds = []
        try:
            for data in (passwd, group):
                r, w = os.pipe()
                fds.append(r)
                os.write(w, data.encode())
                os.close(w)
            argv = self.argv(spec, command, fds[0], fds[1])
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env(spec),
                pass_fds=tuple(fds),
                start_new_session=True,
                limit=MAX_LINE,
            )
        finally:
            for fd in fds:
                os.close(fd)

    async def available(self) -> tuple[bool, str]:
        if self._ok is not None:
            return True, self._ok
        if self._negative and time.monotonic() - self._negative[0] < 5:
            return False, self._negative[1]
        ok, why = await self._probe()
        if ok:
            self._ok = why
        else:
            self._negative = (time.monotonic(), why)
        return ok, why

    async def _probe(self) -> tuple[bool, str]:
        if sys.platform != "linux":
            return False, "bubblewrap needs Linux"
        bwrap = self.bwrap
        if bwrap is None:
            return False, "bwrap is not installed (apt install bubblewrap / dnf install bubblewrap)"
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pynchy-bwrap-probe-") as tmp:
            spec = SandboxSpec(workspace="probe", workspace_dir=Path(tmp))
            python = _find_python()
            try:
                check = "import sys; print('ok' if sys.version_info >= (3, 9) else 'old')"
                proc = await self._spawn(spec, [python, "-c", check])
                out, err = await asyncio.wait_for(proc.communicate(), 10)
            except (OSError, TimeoutError) as exc:
                return False, f"{bwrap} does not run: {exc}"
        if out.strip() == b"old":
            return False, f"{python} is older than 3.9, which the toolbox needs"
        if proc.returncode != 0 or out.strip() != b"ok":
            msg = err.decode("utf-8", "replace").strip()[-300:] or f"exit code {proc.returncode}"
            hint = ""
            if "namespace" in msg or "Operation not permitted" in msg:
                hint = (
                    " (unprivileged user namespaces may be disabled: "
                    "sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu allow bwrap in "
                    "AppArmor)"
                )
            return False, f"{bwrap} cannot create a sandbox here: {msg}{hint}"
        version = ""
        with contextlib.suppress(Exception):
            vp = await asyncio.create_subprocess_exec(
                bwrap, "--version", stdout=asyncio.subprocess.PIPE
            )
            version = (await vp.communicate())[0].decode().strip()
        return True, f"{version or bwrap} works (python {python})"

    async def start(self, spec: SandboxSpec) -> BubblewrapSandbox:
        ok, why = await self.available()
        if not ok:
            raise RuntimeError(why)
        check_mounts(spec.mounts, [])
        spec.workspace_dir.mkdir(parents=True, exist_ok=True)
        script = f"{SANDBOX_TOOLBOX_DIR}/{toolbox_script().name}"
        python = _find_python()
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        command = [
            shell,
            "-c",
            f'{self._limits_prefix(spec)}exec "$0" "$1" --root "$2"',
            python,
            script,
            SANDBOX_WORKSPACE,
        ]
        proc = await self._spawn(spec, command)
        box = BubblewrapSandbox(proc, spec)
        try:
            await asyncio.wait_for(box.call("hello", {}), HELLO_TIMEOUT)
        except BaseException as exc:
            await box.kill()
            await box.stop()
            if isinstance(exc, Exception):
                raise RuntimeError(f"bubblewrap sandbox did not come up: {exc}") from exc
            raise
        return box

    async def list_managed(self) -> list[ManagedSandbox]:
        """bwrap processes pynchy started that still run (normally none survive their host:
        --die-with-parent), found by the marker in their argv."""
        return await asyncio.to_thread(_scan_bwrap)

    async def remove(self, sandbox_id: str) -> None:
        if not sandbox_id.startswith("bwrap-"):
            return
        pid = int(sandbox_id.removeprefix("bwrap-"))
        if _marker_of(pid) is None:  # not (or no longer) one of ours
            return
        tree = await asyncio.to_thread(_descendants, pid)
        for p in tree:  # the outer bwrap first; --die-with-parent would get the rest anyway
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)

    async def kill(self, sandbox_id: str) -> None:
        await self.remove(sandbox_id)


def _marker_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if not argv or os.path.basename(argv[0]) != b"bwrap":
        return None
    for i in range(len(argv) - 2):
        if argv[i] == b"--setenv" and argv[i + 1] == MARKER_ENV.encode():
            return argv[i + 2].decode("utf-8", "replace")
    return None


def _scan_bwrap() -> list[ManagedSandbox]:
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        marker = _marker_of(int(entry.name))
        if marker is None:
            continue
        # The outer bwrap has our argv; so does its in-namespace child: keep only the outer.
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if _marker_of(ppid) is not None:
            continue
        home, _, workspace = marker.partition(":")
        out.append(
            ManagedSandbox(
                id=f"bwrap-{entry.name}",
                runtime="bubblewrap",
                workspace=workspace,
                home=home,
                running=True,
                labels={LABEL_HOME: home},
            )
        )
    return out

"""The `docker` runtime: one long-lived container per workspace, through the docker SDK.

Works with Docker Engine and with Podman's Docker-compatible API. The engine is found through
`DOCKER_HOST` (used alone when set, like the docker CLI does), else `/var/run/docker.sock`, the
rootful Podman socket `/run/podman/podman.sock`, and the rootless sockets under
`$XDG_RUNTIME_DIR`. `available()` says which one answered.

Each sandbox runs the toolbox (mounted read-only from container/toolbox, never baked into the
image) as the container's main process and talks JSON lines over the container's attach
stream: stdin carries requests, the multiplexed stdout frames carry replies (stderr frames go to
the log). The attach connection is opened by hand on the engine socket (a hijacked HTTP
connection), so it is a plain asyncio stream with no thread per sandbox. Blocking SDK calls run
in threads.

Isolation: only the workspace (read-write at /workspace), the toolbox (read-only) and mounts
from the user's allowlist are mounted; the root filesystem is read-only with private tmpfs
/tmp and home; no network unless the workspace asks for "full"; CPU, memory and pids limits;
a non-root user; no new privileges; every capability dropped; no host environment.

The docker SDK is imported only inside methods: importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pynchy_tui.runtime.base import (
    LABEL_HOME,
    LABEL_MANAGED,
    LABEL_SPEC,
    LABEL_WORKSPACE,
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

PROBE_TIMEOUT = 3.0
API_TIMEOUT = 60.0
HELLO_TIMEOUT = 20.0
STOP_TIMEOUT = 3
NEGATIVE_CACHE_S = 5.0
NON_ROOT_UID = 1000  # the image's user; used when pynchy itself runs as root
SIGKILL_EXITS = (-9, 137)


def engine_candidates(env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(url, where it came from), in the order they are tried."""
    env = dict(os.environ) if env is None else env
    if env.get("DOCKER_HOST"):
        return [(env["DOCKER_HOST"], "DOCKER_HOST")]
    xdg = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        ("unix:///var/run/docker.sock", "Docker's default socket"),
        ("unix:///run/podman/podman.sock", "the rootful Podman socket"),
        (f"unix://{xdg}/podman/podman.sock", "the rootless Podman socket"),
        (f"unix://{xdg}/docker.sock", "the rootless Docker socket"),
    ]


def container_name(spec: SandboxSpec) -> str:
    home = spec.labels.get(LABEL_HOME, "default")
    return f"pynchy-{home[:8]}-{spec.workspace}"


class EngineError(Exception):
    """The engine refused or failed a request; the message says what and where."""


async def open_attach(
    url: str, api_version: str, container_id: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the container's attach stream (stdin + multiplexed stdout/stderr) as asyncio
    streams: a hand-made hijacked HTTP request on the engine socket."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        reader, writer = await asyncio.open_unix_connection(parsed.path, limit=MAX_LINE)
    elif parsed.scheme in ("tcp", "http"):
        reader, writer = await asyncio.open_connection(
            parsed.hostname, parsed.port or 2375, limit=MAX_LINE
        )
    else:
        raise EngineError(f"cannot attach over {parsed.scheme}:// (use a unix or tcp socket)")
    request = (
        f"POST /v{api_version}/containers/{container_id}/attach"
        "?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
        "Host: docker\r\nUser-Agent: pynchy\r\nContent-Length: 0\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), API_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        writer.close()
        raise EngineError(f"attach to {container_id[:12]} failed: no HTTP answer ({exc})") from exc
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if code not in (101, 200):
        body = b""
        with contextlib.suppress(Exception):
            body = await asyncio.wait_for(reader.read(4096), 2)
        writer.close()
        raise EngineError(f"attach to {container_id[:12]} refused: {status_line} {body[:300]!r}")
    return reader, writer


class DockerSandbox:
    runtime = "docker"
    root = SANDBOX_WORKSPACE

    def __init__(
        self,
        rt: DockerRuntime,
        container_id: str,
        name: str,
        spec: SandboxSpec,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.rt = rt
        self.id = container_id
        self.name = name
        self.spec = spec
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._stdout = asyncio.StreamReader(limit=MAX_LINE)
        self._demux_task = asyncio.create_task(self._demux(reader), name=f"demux-{name}")
        self.client = ToolboxClient(self._stdout, writer, spec.workspace)
        self._cpu_sample: tuple[float, int] | None = None
        self._oom_kills = 0
        self._stopped = False

    @property
    def alive(self) -> bool:
        return self.client.alive and not self._stopped

    async def _demux(self, reader: asyncio.StreamReader) -> None:
        """Split the attach stream's 8-byte-header frames: stdout to the toolbox client,
        stderr to the log. A stream with no frame headers (an engine that does not
        multiplex) is passed through whole."""
        partial = b""
        try:
            while True:
                header = await reader.readexactly(8)
                kind, size = header[0], int.from_bytes(header[4:8], "big")
                if kind > 2 or header[1:4] != b"\0\0\0":
                    self._stdout.feed_data(header)
                    while chunk := await reader.read(65536):
                        self._stdout.feed_data(chunk)
                    return
                payload = await reader.readexactly(size) if size else b""
                if kind == 2:
                    partial += payload
                    *lines, partial = partial.split(b"\n")
                    for line in lines:
                        text = line.decode("utf-8", "replace")
                        self.stderr_tail.append(text)
                        log.debug("sandbox %s stderr: %s", self.name, text)
                else:
                    self._stdout.feed_data(payload)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if partial:
                self.stderr_tail.append(partial.decode("utf-8", "replace"))
            self._stdout.feed_eof()

    async def call(
        self, op: str, args: dict[str, Any], on_output: OutputCallback | None = None
    ) -> dict[str, Any]:
        try:
            result = await self.client.call(op, args, on_output)
        except SandboxDied as exc:
            raise SandboxDied(await self._death_reason(str(exc))) from exc
        if op == "exec" and result.get("exit_code") in SIGKILL_EXITS:
            await self._check_oom(result)
        return result

    async def _check_oom(self, result: dict[str, Any]) -> None:
        """A command died of SIGKILL: was it the memory limit? The sandbox's own cgroup
        counts OOM kills (cgroup v2 memory.events, v1 memory.oom_control)."""
        probe = (
            "cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control "
            "2>/dev/null | grep -E '^oom_kill '"
        )
        try:
            r = await self.client.call("exec", {"command": probe, "timeout": 5})
        except Exception:
            return
        kills = 0
        for line in str(r.get("stdout", "")).splitlines():
            with contextlib.suppress(ValueError, IndexError):
                kills = max(kills, int(line.split()[1]))
        if kills > self._oom_kills:
            self._oom_kills = kills
            result["oom_killed"] = True
            note = (
                "[pynchy: the command was killed by the out-of-memory killer: it reached the "
                f"sandbox memory limit ({self.spec.limits.memory})]"
            )
            result["stderr"] = (str(result.get("stderr") or "").rstrip("\n") + "\n" + note).lstrip()

    async def _death_reason(self, base: str) -> str:
        details = []
        try:
            state = await asyncio.wait_for(
                asyncio.to_thread(self.rt.inspect_state, self.id), PROBE_TIMEOUT + 2
            )
        except Exception as exc:
            state = None
            details.append(f"the engine cannot say why: {exc}")
        if state is not None:
            status = state.get("Status", "?")
            code = state.get("ExitCode")
            desc = f"container {self.name} is {status}"
            if code is not None and status != "running":
                desc += f", exit code {code}"
                if code == 137:
                    desc += " (SIGKILL: killed from outside or by the engine)"
            if state.get("OOMKilled"):
                desc += f", killed at the memory limit ({self.spec.limits.memory})"
            details.append(desc)
        if self.stderr_tail:
            details.append("toolbox stderr: " + " | ".join(list(self.stderr_tail)[-3:]))
        return f"{base}: " + "; ".join(details) if details else base

    async def stats(self) -> SandboxStats | None:
        raw = await asyncio.to_thread(self.rt.raw_stats, self.id)
        if not raw:
            return None
        cpu_ns = int(((raw.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)
        now = time.monotonic()
        cpu = 0.0
        if self._cpu_sample is not None:
            then, before = self._cpu_sample
            if now > then and cpu_ns >= before:
                cpu = (cpu_ns - before) / ((now - then) * 1e9) * 100.0
        self._cpu_sample = (now, cpu_ns)
        mem = raw.get("memory_stats") or {}
        usage = int(mem.get("usage") or 0)
        detail = mem.get("stats") or {}
        cache = int(detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0)
        return SandboxStats(cpu_percent=round(cpu, 1), memory_bytes=max(usage - cache, 0))

    async def _close_stream(self) -> None:
        await self.client.close()
        self._demux_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._demux_task

    async def stop(self) -> None:
        """Hibernate: stop the container, keep it (and the workspace) for the next start."""
        self._stopped = True
        await self._close_stream()
        try:
            await asyncio.to_thread(self.rt.stop_container, self.id)
        except Exception:
            log.warning("stopping sandbox %s failed", self.name, exc_info=True)

    async def kill_stream(self) -> None:
        """Drop the connection only (tests and host-crash simulation)."""
        await self._close_stream()


class DockerRuntime:
    name = "docker"
    isolated = True

    def __init__(self, candidates: list[tuple[str, str]] | None = None) -> None:
        self._candidates = candidates
        self._client: Any = None
        self.url: str | None = None
        self.source = ""
        self.engine = ""
        self.rootless = False
        self.podman = False
        self.api_version = "1.41"
        self._negative: tuple[float, str] | None = None
        self._image_lock: asyncio.Lock | None = None
        self._images: dict[tuple[str, str | None], tuple[str, str, float]] = {}

    # -- finding the engine --------------------------------------------------------------

    def describe(self) -> str:
        mode = "rootless" if self.rootless else "rootful"
        return f"{self.engine} ({mode}) at {self.url}, found through {self.source}"

    async def available(self) -> tuple[bool, str]:
        if self._client is not None:
            return True, self.describe()
        if self._negative and time.monotonic() - self._negative[0] < NEGATIVE_CACHE_S:
            return False, self._negative[1]
        ok, why = await asyncio.to_thread(self._probe)
        if not ok:
            self._negative = (time.monotonic(), why)
        return ok, why

    def _probe(self) -> tuple[bool, str]:
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a dependency
            return False, f"the docker Python SDK is not installed ({exc})"
        tried = []
        for url, source in self._candidates or engine_candidates():
            parsed = urlparse(url)
            if parsed.scheme == "unix" and not Path(parsed.path).exists():
                tried.append(f"{url} ({source}): no socket")
                continue
            if parsed.scheme not in ("unix", "tcp", "http"):
                tried.append(
                    f"{url} ({source}): only local unix or tcp engines can mount the workspace"
                )
                continue
            try:
                client = docker.DockerClient(base_url=url, timeout=PROBE_TIMEOUT)
                client.ping()
                version = client.version()
                info = client.info()
            except Exception as exc:
                tried.append(f"{url} ({source}): {type(exc).__name__}: {exc}")
                continue
            names = [c.get("Name", "") for c in version.get("Components") or []]
            self.podman = any("podman" in n.lower() for n in names)
            product = "Podman" if self.podman else "Docker Engine"
            self.engine = f"{product} {version.get('Version', '?')}"
            self.rootless = any("rootless" in str(o) for o in info.get("SecurityOptions") or [])
            client.api.timeout = API_TIMEOUT
            self.api_version = str(client.api._version)
            self._client, self.url, self.source = client, url, source
            self._negative = None
            return True, self.describe()
        return False, "no container engine answered: " + "; ".join(tried)

    @property
    def client(self) -> Any:
        """The connected docker SDK client (probing the engine first if needed). Blocking."""
        if self._client is None:
            ok, why = self._probe()
            if not ok:
                raise EngineError(why)
        return self._client

    def _lost(self, exc: Exception) -> None:
        """A call failed because the engine went away: probe again next time."""
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError):
            self._client = None

    # -- blocking helpers (run in threads) ----------------------------------------------

    def inspect_state(self, container_id: str) -> dict[str, Any]:
        return dict(self.client.api.inspect_container(container_id).get("State") or {})

    def raw_stats(self, container_id: str) -> dict[str, Any] | None:
        try:
            return self.client.api.stats(container_id, stream=False, one_shot=True)
        except Exception:
            log.debug("stats of %s failed", container_id, exc_info=True)
            return None

    def stop_container(self, container_id: str) -> None:
        """Stop and wait until the engine no longer reports it running."""
        import docker.errors

        try:
            self.client.api.stop(container_id, timeout=STOP_TIMEOUT)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            log.debug("stop %s: %s", container_id[:12], exc)
        deadline = time.monotonic() + STOP_TIMEOUT + 5
        while time.monotonic() < deadline:
            try:
                if not self.inspect_state(container_id).get("Running"):
                    return
            except docker.errors.NotFound:
                return
            time.sleep(0.05)
        log.warning("sandbox %s still runs after stop: killing it", container_id[:12])
        with contextlib.suppress(docker.errors.APIError):
            self.client.api.kill(container_id)

    def _remove(self, container_id: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(container_id, force=True, v=True)

    def user_for(self) -> tuple[str, str | None]:
        """(user, userns mode) for sandboxes: never root inside a rootful engine."""
        uid, gid = os.getuid(), os.getgid()
        if self.rootless and self.podman:
            return f"{uid}:{gid}", "keep-id"  # same uid inside, files owned by you outside
        if self.rootless:
            # Rootless Docker: container root is your own unprivileged user on the host, and
            # the only id that can write your files through the bind mount.
            return "0:0", None
        if uid == 0:
            return f"{NON_ROOT_UID}:{NON_ROOT_UID}", None
        return f"{uid}:{gid}", None

    def spec_hash(self, spec: SandboxSpec, user: str, userns: str | None) -> str:
        data = {
            "v": 1,
            "workspace_dir": str(spec.workspace_dir.resolve()),
            "toolbox": str(toolbox_script().parent),
            "mounts": [[str(m.host_path), m.container_path, m.read_only] for m in spec.mounts],
            "network": spec.network,
            "env": sorted(spec.env.items()),
            "limits": [spec.limits.cpus, spec.limits.memory, spec.limits.pids],
            "user": user,
            "userns": userns,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def _create_kwargs(
        self, spec: SandboxSpec, image_id: str, user: str, userns: str | None, digest: str
    ) -> dict[str, Any]:
        # On an SELinux host a bind mount must be relabelled for the container to use it.
        z = ",z" if _selinux_enforcing() else ""
        volumes = {
            str(spec.workspace_dir.resolve()): {"bind": SANDBOX_WORKSPACE, "mode": "rw" + z},
            str(toolbox_script().parent): {"bind": SANDBOX_TOOLBOX_DIR, "mode": "ro" + z},
        }
        for m in spec.mounts:
            volumes[str(m.host_path)] = {
                "bind": m.container_path,
                "mode": ("ro" if m.read_only else "rw") + z,
            }
        mem = parse_memory(spec.limits.memory)
        env = {"HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "PYNCHY_WORKSPACE": spec.workspace}
        env.update(spec.env)
        kwargs: dict[str, Any] = {
            "image": image_id,
            "command": [
                "python3",
                f"{SANDBOX_TOOLBOX_DIR}/{toolbox_script().name}",
                "--root",
                SANDBOX_WORKSPACE,
            ],
            "name": container_name(spec),
            "labels": {
                **spec.labels,
                LABEL_MANAGED: "true",
                LABEL_WORKSPACE: spec.workspace,
                LABEL_SPEC: digest,
            },
            "stdin_open": True,
            "tty": False,
            "detach": True,
            "environment": env,
            "working_dir": SANDBOX_WORKSPACE,
            "user": user,
            "volumes": volumes,
            "read_only": True,
            "tmpfs": {
                "/tmp": "rw,nosuid,nodev,mode=1777,size=512m",
                SANDBOX_HOME: "rw,nosuid,nodev,mode=1777,size=512m",
            },
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "nano_cpus": int(spec.limits.cpus * 1e9),
            "mem_limit": mem,
            "memswap_limit": mem,
            "pids_limit": spec.limits.pids,
            "hostname": f"pynchy-{spec.workspace}"[:63],
            # Replies travel over the attach stream; the engine must not also keep them on disk.
            "log_config": {"type": "none", "config": {}},
        }
        if spec.network == "none":
            kwargs["network_mode"] = "none"
        elif spec.network != "full":
            raise EngineError(f"network = {spec.network!r} is not supported by the docker runtime")
        if userns:
            kwargs["userns_mode"] = userns
        return kwargs

    def _find_or_create(
        self, spec: SandboxSpec, image_id: str, user: str, userns: str | None
    ) -> tuple[str, str]:
        """(container id, what to do: 'wake' | 'new' | 'running')."""
        import docker.errors

        digest = self.spec_hash(spec, user, userns)
        name = container_name(spec)
        try:
            existing = self.client.api.inspect_container(name)
        except docker.errors.NotFound:
            existing = None
        if existing is not None:
            labels = (existing.get("Config") or {}).get("Labels") or {}
            status = (existing.get("State") or {}).get("Status", "")
            same = labels.get(LABEL_SPEC) == digest and existing.get("Image") == image_id
            if same and status == "running":
                return existing["Id"], "running"
            if same and status in ("created", "exited", "stopped", "configured", "initialized"):
                return existing["Id"], "wake"
            log.info("replacing sandbox %s (%s, spec changed: %s)", name, status, not same)
            self._remove(existing["Id"])
        kwargs = self._create_kwargs(spec, image_id, user, userns, digest)
        container = self.client.containers.create(**kwargs)
        return container.id, "new"

    # -- the Runtime protocol -------------------------------------------------------------

    async def _ensure_image(self, spec: SandboxSpec) -> str:
        from pynchy_tui.runtime.image import base_image as resolve_base
        from pynchy_tui.runtime.image import context_hash, ensure_image
        from pynchy_tui.runtime.toolbox_path import container_dir

        if self._image_lock is None:
            self._image_lock = asyncio.Lock()
        async with self._image_lock:
            key = (spec.image, spec.base_image)
            digest = await asyncio.to_thread(
                context_hash, container_dir(), {"BASE_IMAGE": resolve_base(spec.base_image)}
            )
            cached = self._images.get(key)
            if cached and cached[0] == digest:
                return cached[1]
            image_id, built, digest = await asyncio.to_thread(
                ensure_image, self.client, spec.image, spec.base_image
            )
            if built:
                log.info("built agent image %s (%s)", spec.image, image_id[:19])
            self._images[key] = (digest, image_id, time.time())
            return image_id

    async def build_image(self, spec: SandboxSpec) -> str:
        """Build (or find) the agent image for this spec; returns its id."""
        ok, why = await self.available()
        if not ok:
            raise EngineError(why)
        return await self._ensure_image(spec)

    async def start(self, spec: SandboxSpec) -> DockerSandbox:
        import docker.errors

        ok, why = await self.available()
        if not ok:
            raise EngineError(why)
        check_mounts(spec.mounts, [])
        spec.workspace_dir.mkdir(parents=True, exist_ok=True)
        user, userns = self.user_for()
        if user == f"{NON_ROOT_UID}:{NON_ROOT_UID}" and os.getuid() == 0:
            await asyncio.to_thread(_chown_tree, spec.workspace_dir, NON_ROOT_UID)
        try:
            image_id = await self._ensure_image(spec)
            try:
                cid, how = await asyncio.to_thread(
                    self._find_or_create, spec, image_id, user, userns
                )
            except docker.errors.ImageNotFound:  # removed behind our back: build again
                self._images.clear()
                image_id = await self._ensure_image(spec)
                cid, how = await asyncio.to_thread(
                    self._find_or_create, spec, image_id, user, userns
                )
        except Exception as exc:
            self._lost(exc)
            raise
        log.debug("sandbox %s (%s): %s", container_name(spec), cid[:12], how)
        try:
            return await self._connect(cid, spec, how)
        except EngineError as exc:
            if how == "new":
                raise
            # The old container would not wake (e.g. caught mid-exit): start a fresh one.
            log.info("sandbox %s did not wake (%s: %s); creating a fresh one", cid[:12], how, exc)
            await asyncio.to_thread(self._remove, cid)
            cid, how = await asyncio.to_thread(self._find_or_create, spec, image_id, user, userns)
            return await self._connect(cid, spec, how)

    async def _connect(self, cid: str, spec: SandboxSpec, how: str) -> DockerSandbox:
        """Attach to the container and check the toolbox answers. `how`: "new" (created, not
        started: attach first so nothing is missed), "wake" (stopped: start, then attach;
        Podman cannot attach to an exited container) or "running" (adopt: attach only)."""
        assert self.url is not None
        name = container_name(spec)
        box: DockerSandbox | None = None
        try:
            if how == "wake":
                await asyncio.to_thread(self.client.api.start, cid)
            reader, writer = await open_attach(self.url, self.api_version, cid)
            box = DockerSandbox(self, cid, name, spec, reader, writer)
            if how == "new":
                await asyncio.to_thread(self.client.api.start, cid)
            await asyncio.wait_for(box.call("hello", {}), HELLO_TIMEOUT)
        except BaseException as exc:
            if box is not None:
                await box.kill_stream()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._remove, cid)
            if isinstance(exc, Exception):
                raise EngineError(f"sandbox {name} did not come up: {exc}") from exc
            raise
        return box

    async def adopt(self, found: ManagedSandbox, spec: SandboxSpec) -> DockerSandbox | None:
        """Reconnect to a sandbox an earlier run left running (Docker Engine keeps stdin open
        when the attach connection drops; Podman stops the toolbox instead)."""
        if not found.running:
            return None
        user, userns = self.user_for()
        if found.labels.get(LABEL_SPEC) != self.spec_hash(spec, user, userns):
            return None
        try:
            return await self._connect(found.id, spec, "running")
        except Exception as exc:
            log.info("could not adopt %s: %s", found.id[:12], exc)
            return None

    async def list_managed(self) -> list[ManagedSandbox]:
        ok, _ = await self.available()
        if not ok:
            return []

        def scan() -> list[ManagedSandbox]:
            out = []
            for c in self.client.api.containers(
                all=True, filters={"label": f"{LABEL_MANAGED}=true"}
            ):
                labels = c.get("Labels") or {}
                out.append(
                    ManagedSandbox(
                        id=c["Id"],
                        runtime=self.name,
                        workspace=labels.get(LABEL_WORKSPACE, ""),
                        home=labels.get(LABEL_HOME, ""),
                        running=c.get("State") == "running",
                        labels=dict(labels),
                    )
                )
            return out

        return await asyncio.to_thread(scan)

    async def remove(self, sandbox_id: str) -> None:
        if self._client is None:
            return
        await asyncio.to_thread(self._remove, sandbox_id)

    async def kill(self, sandbox_id: str) -> None:
        """SIGKILL the sandbox from outside (tests: a sandbox dying mid-turn)."""
        await asyncio.to_thread(self.client.api.kill, sandbox_id)

    def exec_once(self, sandbox_id: str, argv: list[str]) -> tuple[int, bytes]:
        """One fresh `docker exec` (the benchmark's baseline). Blocking."""
        api = self.client.api
        exec_id = api.exec_create(sandbox_id, argv, stdout=True, stderr=True)["Id"]
        out = api.exec_start(exec_id)
        code = api.exec_inspect(exec_id).get("ExitCode")
        return int(code if code is not None else -1), out


def _selinux_enforcing() -> bool:
    try:
        return Path("/sys/fs/selinux/enforce").read_text().strip() == "1"
    except OSError:
        return False


def _chown_tree(root: Path, uid: int) -> None:
    """pynchy runs as root but the sandbox user is not: hand it the workspace."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            with contextlib.suppress(OSError):
                st = os.lstat(name)
                if st.st_uid != uid:
                    os.lchown(name, uid, uid)

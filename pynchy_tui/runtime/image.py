"""The agent image: built from container/Dockerfile, rebuilt only when its build context changed.

The context hash covers every file the build sees (the toolbox is excluded: it is mounted at run
time, not baked in) and the build args. It is stored in the image as the label
`pynchy.context-hash`; an image whose label matches is reused as is.

Blocking: these functions call the docker SDK; run them in a thread.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from pynchy_tui.runtime.toolbox_path import container_dir

log = logging.getLogger(__name__)

DEFAULT_BASE_IMAGE = "debian:bookworm-slim"
HASH_LABEL = "pynchy.context-hash"
HASH_VERSION = "1"


class ImageBuildError(Exception):
    """The agent image could not be built; the message carries the build's last lines."""


def base_image(configured: str | None = None) -> str:
    """BASE_IMAGE for the build: [runtime] base_image, else $PYNCHY_BASE_IMAGE, else Debian slim."""
    return configured or os.environ.get("PYNCHY_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def _ignore_patterns(context: Path) -> list[str]:
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return []
    out = []
    for line in ignore.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line.rstrip("/"))
    return out


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        bare = pat.removeprefix("**/")
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, bare):
            return True
        # A pattern naming a directory excludes everything below it.
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pat) or (
                pat.startswith("**/") and fnmatch.fnmatch(parts[i - 1], bare)
            ):
                return True
    return False


def context_files(context: Path) -> list[str]:
    """Relative paths of the files the build context holds (what .dockerignore leaves in)."""
    patterns = _ignore_patterns(context)
    files = []
    for dirpath, dirnames, filenames in os.walk(context):
        rel_dir = os.path.relpath(dirpath, context)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not _ignored(rel_dir + d, patterns))
        for name in sorted(filenames):
            rel = rel_dir + name
            if not _ignored(rel, patterns):
                files.append(rel)
    return sorted(files)


def context_hash(context: Path, build_args: dict[str, str]) -> str:
    h = hashlib.sha256(f"pynchy-image-v{HASH_VERSION}\0".encode())
    for key in sorted(build_args):
        h.update(f"arg {key}={build_args[key]}\0".encode())
    for rel in context_files(context):
        path = context / rel
        mode = path.stat().st_mode & 0o111
        h.update(f"file {rel} {mode:o}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:32]


def ensure_image(
    client: Any, tag: str, configured_base: str | None = None, context: Path | None = None
) -> tuple[str, bool, str]:
    """(image id, whether it was built now, context hash). Builds only when the hash changed."""
    import docker.errors

    context = context or container_dir()
    args = {"BASE_IMAGE": base_image(configured_base)}
    digest = context_hash(context, args)
    try:
        image = client.images.get(tag)
        if (image.labels or {}).get(HASH_LABEL) == digest:
            return image.id, False, digest
        if HASH_LABEL not in (image.labels or {}):
            log.info("image %s was not built by pynchy: using it as is", tag)
            return image.id, False, digest
    except docker.errors.ImageNotFound:
        pass
    log.info("building %s from %s (BASE_IMAGE=%s)", tag, context, args["BASE_IMAGE"])
    tail: list[str] = []
    image_id: str | None = None
    try:
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs=args,
            labels={HASH_LABEL: digest},
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "stream" in chunk:
                text = str(chunk["stream"]).rstrip()
                if text:
                    tail = (tail + text.splitlines())[-15:]
            if "error" in chunk:
                raise ImageBuildError(
                    f"building {tag} failed: {chunk['error']}\n" + "\n".join(tail)
                )
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"building {tag} failed: {exc}\n" + "\n".join(tail)) from exc
    image = client.images.get(tag)
    if (image.labels or {}).get(HASH_LABEL) != digest:
        raise ImageBuildError(
            f"built {tag} (id {image_id or image.id}) but it lacks the {HASH_LABEL} label"
        )
    return image.id, True, digest

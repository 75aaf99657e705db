"""What each tool is, for the policy: its trust role, and which paths hold secrets.

Roles follow the lethal-trifecta model: a *public source* brings in content nobody vetted (a
web page, a message from a stranger), *secret data* is private, a *public sink* can carry data
out (a message that may reach a channel, the network). A session that has seen both of the
first two may not use the third without a person saying yes.
"""

from __future__ import annotations

import fnmatch
import posixpath

PUBLIC_SOURCE = "public_source"
SECRET_DATA = "secret_data"
PUBLIC_SINK = "public_sink"
DANGEROUS_WRITE = "dangerous_write"

BUILTIN_TRUST: dict[str, str] = {
    "web_fetch": PUBLIC_SOURCE,
    "send_message": PUBLIC_SINK,
    "create_workspace": DANGEROUS_WRITE,
}

SECRET_PATTERNS = [
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    "*secret*",
    "*credential*",
    "*token*",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "*.kdbx",
    "shadow",
]


def is_secret_path(path: str) -> bool:
    name = posixpath.basename(path.rstrip("/")).lower()
    if not name:
        return False
    if "/.ssh/" in f"/{path}" or "/.aws/" in f"/{path}" or "/.gnupg/" in f"/{path}":
        return True
    return any(fnmatch.fnmatch(name, p) for p in SECRET_PATTERNS)

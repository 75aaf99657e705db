"""Tests for container/toolbox/toolbox.py, the in-sandbox tool server.

Every test spawns the real toolbox as a subprocess and talks JSON lines to it
over pipes.  Set PYNCHY_TOOLBOX_PYTHON to run the toolbox under another
interpreter (e.g. the oldest supported Python).
"""

from __future__ import annotations

import ast
import glob as globmod
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLBOX = REPO / "container" / "toolbox" / "toolbox.py"
PYTHON = os.environ.get("PYNCHY_TOOLBOX_PYTHON", sys.executable)
WAIT = 10.0  # generous upper bound for any single wait


class Toolbox:
    """A toolbox subprocess with a reader thread collecting its output lines."""

    def __init__(
        self,
        root: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        python: str = PYTHON,
    ) -> None:
        full_env = dict(os.environ)
        full_env.pop("PYNCHY_TOOLBOX_NO_RG", None)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            [python, str(TOOLBOX), "--root", str(root), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        self.messages: list[dict[str, Any]] = []
        self.raw_lines: list[bytes] = []
        self.cond = threading.Condition()
        self.stderr_chunks: list[bytes] = []
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)  # every stdout line must be valid JSON
            with self.cond:
                self.raw_lines.append(line)
                self.messages.append(msg)
                self.cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr_chunks.append(chunk)

    # ---- sending

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, op: str, args: dict[str, Any] | None = None, rid: Any = None) -> Any:
        if rid is None:
            self._next_id += 1
            rid = f"r{self._next_id}"
        req: dict[str, Any] = {"id": rid, "op": op}
        if args is not None:
            req["args"] = args
        self.send_raw(json.dumps(req).encode() + b"\n")
        return rid

    # ---- waiting

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], start: int = 0, timeout: float = WAIT
    ) -> tuple[int, dict[str, Any]]:
        """Index and message of the first message at or after `start` matching pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.messages)):
                    if pred(self.messages[i]):
                        return i, self.messages[i]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "timed out waiting for a message; got {!r}; stderr {!r}".format(
                            self.messages[start:], b"".join(self.stderr_chunks)
                        )
                    )
                self.cond.wait(remaining)

    def reply(self, rid: Any, timeout: float = WAIT) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == rid and "ok" in m, timeout=timeout)[1]

    def reply_index(self, rid: Any, timeout: float = WAIT) -> int:
        return self.wait_for(lambda m: m.get("id") == rid and "ok" in m, timeout=timeout)[0]

    def call(self, op: str, args: dict[str, Any] | None = None, timeout: float = WAIT) -> Any:
        return self.reply(self.send(op, args), timeout=timeout)

    def ok(self, op: str, args: dict[str, Any] | None = None, timeout: float = WAIT) -> Any:
        rep = self.call(op, args, timeout=timeout)
        assert rep["ok"] is True, rep
        return rep["result"]

    def err(self, op: str, args: dict[str, Any] | None = None) -> tuple[str, str]:
        rep = self.call(op, args)
        assert rep["ok"] is False, rep
        assert set(rep) == {"id", "ok", "error", "code"}, rep
        assert isinstance(rep["error"], str) and rep["error"]
        return rep["code"], rep["error"]

    def events(self, rid: Any, kind: str | None = None) -> list[dict[str, Any]]:
        with self.cond:
            return [
                m
                for m in self.messages
                if m.get("id") == rid and "event" in m and (kind is None or m["event"] == kind)
            ]

    def mark(self) -> int:
        with self.cond:
            return len(self.messages)

    def close(self) -> int:
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    d = tmp_path / "ws"
    d.mkdir()
    return d


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("top secret\n")
    return d


@pytest.fixture
def tb(ws: Path):
    box = Toolbox(ws)
    yield box
    box.close()


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until(pred: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------
# startup, hello, CLI


def test_source_is_python39_compatible() -> None:
    ast.parse(TOOLBOX.read_text(), feature_version=(3, 9))
    subprocess.run(
        [sys.executable, "-W", "error", "-m", "py_compile", str(TOOLBOX)],
        check=True,
        capture_output=True,
    )


def test_version_flag() -> None:
    out = subprocess.run(
        [PYTHON, str(TOOLBOX), "--version"], capture_output=True, text=True, timeout=WAIT
    )
    assert out.returncode == 0
    assert out.stdout.startswith("pynchy-toolbox ")


def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [PYTHON, str(TOOLBOX), "--root", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert out.stdout == ""


def test_hello_is_the_first_output(tb: Toolbox, ws: Path) -> None:
    rid = tb.send("hello")
    i, rep = tb.wait_for(lambda m: True)
    assert i == 0, "toolbox printed something before the first request"
    assert rep["id"] == rid and rep["ok"] is True
    res = rep["result"]
    assert res["protocol"] == 1
    assert isinstance(res["version"], str) and res["version"]
    assert res["root"] == str(ws)
    assert res["python"].startswith("3.")
    assert res["pid"] == tb.proc.pid


def test_int_ids_are_echoed(tb: Toolbox) -> None:
    tb.send("hello", rid=42)
    assert tb.reply(42)["ok"] is True


def test_eof_exits_zero(ws: Path) -> None:
    box = Toolbox(ws)
    assert box.ok("hello")["protocol"] == 1
    assert box.close() == 0


def test_eof_kills_running_exec_and_exits_zero(ws: Path) -> None:
    box = Toolbox(ws)
    rid = box.send("exec", {"command": "echo $$ > shell.pid; echo up; sleep 30"})
    box.wait_for(lambda m: m.get("id") == rid and m.get("event") == "stdout")
    pid = int((ws / "shell.pid").read_text())
    assert pid_alive(pid)
    t0 = time.monotonic()
    assert box.close() == 0
    assert time.monotonic() - t0 < 5
    assert wait_until(lambda: not pid_alive(pid), 5)


def test_sigterm_kills_running_exec(ws: Path) -> None:
    box = Toolbox(ws)
    rid = box.send("exec", {"command": "echo $$ > shell.pid; echo up; sleep 30"})
    box.wait_for(lambda m: m.get("id") == rid and m.get("event") == "stdout")
    pid = int((ws / "shell.pid").read_text())
    box.proc.terminate()
    assert box.proc.wait(timeout=WAIT) == 128 + 15
    assert wait_until(lambda: not pid_alive(pid), 5)


def test_requests_pipelined_before_eof_are_answered(ws: Path) -> None:
    reqs = b"".join(
        json.dumps({"id": i, "op": op, "args": args}).encode() + b"\n"
        for i, (op, args) in enumerate(
            [
                ("hello", {}),
                ("write", {"path": "p.txt", "content": "pipelined"}),
                ("read", {"path": "p.txt"}),
            ]
        )
    )
    out = subprocess.run(
        [PYTHON, str(TOOLBOX), "--root", str(ws)],
        input=reqs,
        capture_output=True,
        timeout=WAIT,
    )
    assert out.returncode == 0
    replies = {m["id"]: m for m in map(json.loads, out.stdout.splitlines())}
    assert set(replies) == {0, 1, 2}
    assert replies[2]["result"]["content"] == "pipelined"


# --------------------------------------------------------------------------
# malformed input


def test_malformed_lines_get_errors_and_server_keeps_working(tb: Toolbox) -> None:
    cases: list[tuple[bytes, Any, str]] = [
        (b"this is not json", None, "bad_request"),
        (b"[1, 2, 3]", None, "bad_request"),
        (b'"just a string"', None, "bad_request"),
        (b'{"op": "hello"}', None, "bad_request"),  # no id
        (b'{"id": true, "op": "hello"}', None, "bad_request"),  # unusable id
        (b'{"id": 1.5, "op": "hello"}', None, "bad_request"),
        (b"\xff\xfe{}", None, "bad_request"),  # not UTF-8
        (b'{"id": "m1"}', "m1", "bad_request"),  # missing op
        (b'{"id": "m2", "op": 7}', "m2", "bad_request"),
        (b'{"id": "m3", "op": "frobnicate"}', "m3", "unknown_op"),
        (b'{"id": "m4", "op": "read", "args": [1]}', "m4", "bad_request"),
        (b'{"id": "m5", "op": "read", "args": {"path": 5}}', "m5", "bad_request"),
        (b'{"id": "m6", "op": "read", "args": {}}', "m6", "bad_request"),
        (b'{"id": "m7", "op": "read", "args": {"path": "a", "limit": "x"}}', "m7", "bad_request"),
        (
            b'{"id": "m8", "op": "exec", "args": {"command": "true", "timeout": -1}}',
            "m8",
            "bad_request",
        ),
        (
            b'{"id": "m9", "op": "exec", "args": {"command": "true", "env": {"A": 1}}}',
            "m9",
            "bad_request",
        ),
        (b'{"id": "m10", "op": "ls", "args": {"bogus": 1}}', "m10", "bad_request"),
        (b"[" * 100000, None, "bad_request"),  # deeply nested
    ]
    for line, rid, code in cases:
        start = tb.mark()
        tb.send_raw(line + b"\n")
        _, rep = tb.wait_for(lambda m: "ok" in m, start=start)
        assert rep["id"] == rid, (line[:40], rep)
        assert rep["ok"] is False and rep["code"] == code, (line[:40], rep)
        assert tb.proc.poll() is None
    assert tb.ok("hello")["protocol"] == 1


def test_unencodable_strings_are_bad_requests(tb: Toolbox) -> None:
    assert tb.err("read", {"path": "\ud800.txt"})[0] == "bad_request"
    assert tb.err("exec", {"command": "echo \ud800"})[0] == "bad_request"
    assert tb.ok("write", {"path": "s.txt", "content": "\ud800"})["bytes"] == 1


def test_blank_lines_are_ignored(tb: Toolbox) -> None:
    start = tb.mark()
    tb.send_raw(b"\n   \n\r\n")
    rid = tb.send("hello")
    _i, rep = tb.wait_for(lambda m: True, start=start)
    assert rep["id"] == rid


def test_oversized_line_is_too_large_and_next_request_works(ws: Path) -> None:
    box = Toolbox(ws, "--max-line", "1000")
    try:
        # a line under the limit works
        assert box.ok("write", {"path": "small.txt", "content": "x" * 800})["bytes"] == 800
        for size in (5000, 300_000):
            start = box.mark()
            big = json.dumps(
                {"id": "big", "op": "write", "args": {"path": "big.txt", "content": "y" * size}}
            )
            data = big.encode() + b"\n"
            # deliver in several pieces, as a pipe would
            for k in range(0, len(data), 4096):
                box.send_raw(data[k : k + 4096])
            _, rep = box.wait_for(lambda m: "ok" in m, start=start)
            assert rep == {"id": None, "ok": False, "error": rep["error"], "code": "too_large"}
            assert box.ok("hello")["protocol"] == 1
        assert not (ws / "big.txt").exists()
    finally:
        assert box.close() == 0


def test_oversized_last_line_at_eof(ws: Path) -> None:
    out = subprocess.run(
        [PYTHON, str(TOOLBOX), "--root", str(ws), "--max-line", "100"],
        input=b"x" * 500,
        capture_output=True,
        timeout=WAIT,
    )
    assert out.returncode == 0
    assert json.loads(out.stdout)["code"] == "too_large"


# --------------------------------------------------------------------------
# exec


def test_exec_result_fields_and_exit_code(tb: Toolbox) -> None:
    res = tb.ok("exec", {"command": "echo out; echo err >&2; exit 3"})
    assert res == {
        "exit_code": 3,
        "stdout": "out\n",
        "stderr": "err\n",
        "timed_out": False,
        "cancelled": False,
        "duration_ms": res["duration_ms"],
        "truncated": False,
        "spill_path": None,
    }
    assert isinstance(res["duration_ms"], int) and res["duration_ms"] >= 0
    assert tb.ok("exec", {"command": "true"})["exit_code"] == 0


def test_exec_signal_exit_code_is_negative(tb: Toolbox) -> None:
    res = tb.ok("exec", {"command": "kill -9 $$"})
    assert res["exit_code"] == -9
    assert res["cancelled"] is False and res["timed_out"] is False


def test_exec_streams_events_before_reply(tb: Toolbox) -> None:
    rid = tb.send("exec", {"command": "echo first; sleep 0.3; echo second"})
    idx, ev = tb.wait_for(lambda m: m.get("id") == rid and "event" in m)
    assert ev == {"id": rid, "event": "stdout", "data": "first\n"}
    with tb.cond:
        assert not any(m.get("id") == rid and "ok" in m for m in tb.messages), (
            "reply arrived before the first event was handled"
        )
    rep_idx = tb.reply_index(rid)
    assert idx < rep_idx
    assert "".join(e["data"] for e in tb.events(rid, "stdout")) == "first\nsecond\n"
    assert tb.messages[rep_idx]["result"]["stdout"] == "first\nsecond\n"


def test_exec_stderr_events_and_utf8_split_across_chunks(tb: Toolbox) -> None:
    # "é" is two bytes, written in two separate writes
    cmd = "printf '\\303' >&2; sleep 0.1; printf '\\251\\n' >&2"
    rid = tb.send("exec", {"command": cmd})
    res = tb.reply(rid)["result"]
    assert res["stderr"] == "é\n"
    assert "".join(e["data"] for e in tb.events(rid, "stderr")) == "é\n"
    assert tb.events(rid, "stdout") == []


def test_exec_invalid_utf8_is_replaced(tb: Toolbox) -> None:
    res = tb.ok("exec", {"command": "printf 'a\\377b'"})
    assert res["stdout"] == "a\ufffdb"


def test_exec_cwd_env_stdin(tb: Toolbox, ws: Path) -> None:
    (ws / "sub").mkdir()
    res = tb.ok("exec", {"command": "pwd -P", "cwd": "sub"})
    assert res["stdout"].strip() == str((ws / "sub").resolve())
    res = tb.ok("exec", {"command": "pwd -P", "cwd": str(ws / "sub")})
    assert res["stdout"].strip() == str((ws / "sub").resolve())
    res = tb.ok("exec", {"command": "pwd -P"})
    assert res["stdout"].strip() == str(ws.resolve())
    res = tb.ok("exec", {"command": 'echo "$FOO-$BAR"', "env": {"FOO": "foo", "BAR": "b a r"}})
    assert res["stdout"] == "foo-b a r\n"
    res = tb.ok("exec", {"command": "tr a-z A-Z", "stdin": "hello\nworld\n"})
    assert res["stdout"] == "HELLO\nWORLD\n"
    # no stdin given: reads EOF immediately instead of hanging
    res = tb.ok("exec", {"command": "cat; echo done", "timeout": 5})
    assert res["stdout"] == "done\n" and res["timed_out"] is False


def test_exec_cwd_errors(tb: Toolbox, ws: Path, outside: Path) -> None:
    (ws / "f.txt").write_text("x")
    (ws / "linkdir").symlink_to(outside)
    assert tb.err("exec", {"command": "true", "cwd": "nope"})[0] == "not_found"
    assert tb.err("exec", {"command": "true", "cwd": "f.txt"})[0] == "not_a_directory"
    for cwd in ("..", str(outside), "linkdir", "/"):
        code, msg = tb.err("exec", {"command": "touch pwned", "cwd": cwd})
        assert code == "path_escape"
        assert cwd in msg
    assert not (outside / "pwned").exists()
    assert tb.err("exec", {})[0] == "bad_request"


def test_exec_timeout_kills_process_group(tb: Toolbox, ws: Path) -> None:
    t0 = time.monotonic()
    res = tb.ok(
        "exec",
        {"command": "sleep 30 & echo $! > child.pid; echo started; sleep 30", "timeout": 0.5},
    )
    elapsed = time.monotonic() - t0
    assert res["timed_out"] is True
    assert res["cancelled"] is False
    assert res["exit_code"] < 0
    assert res["stdout"] == "started\n"
    assert elapsed < 5
    assert 400 <= res["duration_ms"] < 5000
    child = int((ws / "child.pid").read_text())
    assert wait_until(lambda: not pid_alive(child), 5), "background child survived the timeout"


def test_exec_timeout_escalates_to_sigkill(tb: Toolbox, ws: Path) -> None:
    cmd = "trap '' TERM; sleep 30 & echo $! > child.pid; trap '' TERM; while :; do sleep 0.05; done"
    res = tb.ok("exec", {"command": cmd, "timeout": 0.3})
    assert res["timed_out"] is True
    assert res["exit_code"] == -9
    assert 1000 <= res["duration_ms"] < 4000  # SIGKILL comes 1 s after SIGTERM
    child = int((ws / "child.pid").read_text())
    assert wait_until(lambda: not pid_alive(child), 5)


def test_exec_cancel(tb: Toolbox, ws: Path) -> None:
    rid = tb.send("exec", {"command": "sleep 30 & echo $! > child.pid; echo started; sleep 30"})
    tb.wait_for(lambda m: m.get("id") == rid and m.get("event") == "stdout")
    t0 = time.monotonic()
    assert tb.ok("cancel", {"target": rid}) == {"cancelled": True}
    res = tb.reply(rid)["result"]
    assert time.monotonic() - t0 < 3
    assert res["cancelled"] is True
    assert res["timed_out"] is False
    assert res["exit_code"] < 0
    assert res["stdout"] == "started\n"
    child = int((ws / "child.pid").read_text())
    assert wait_until(lambda: not pid_alive(child), 5)
    # the exec is finished now: cancelling again finds nothing
    assert tb.ok("cancel", {"target": rid}) == {"cancelled": False}


def test_cancel_unknown_target_and_bad_args(tb: Toolbox) -> None:
    assert tb.ok("cancel", {"target": "nope"}) == {"cancelled": False}
    assert tb.ok("cancel", {"target": 12345}) == {"cancelled": False}
    assert tb.err("cancel", {})[0] == "bad_request"
    assert tb.err("cancel", {"target": [1]})[0] == "bad_request"


def test_cancel_pipelined_right_after_exec(tb: Toolbox) -> None:
    rid = tb.send("exec", {"command": "sleep 30"})
    crid = tb.send("cancel", {"target": rid})
    assert tb.reply(crid)["result"] == {"cancelled": True}
    res = tb.reply(rid, timeout=5)["result"]
    assert res["cancelled"] is True


def test_other_ops_answered_while_exec_runs(tb: Toolbox, ws: Path) -> None:
    (ws / "a.txt").write_text("hi\n")
    rid = tb.send("exec", {"command": "echo running; sleep 30"})
    tb.wait_for(lambda m: m.get("id") == rid and m.get("event") == "stdout")
    t0 = time.monotonic()
    assert tb.ok("hello")["protocol"] == 1
    assert tb.ok("read", {"path": "a.txt"})["content"] == "hi\n"
    assert tb.ok("exec", {"command": "echo nested"})["stdout"] == "nested\n"
    assert time.monotonic() - t0 < 5
    with tb.cond:
        assert not any(m.get("id") == rid and "ok" in m for m in tb.messages)
    assert tb.ok("cancel", {"target": rid})["cancelled"] is True
    assert tb.reply(rid)["result"]["cancelled"] is True


def test_exec_duplicate_running_id_rejected(tb: Toolbox) -> None:
    tb.send("exec", {"command": "sleep 30"}, rid="dup")
    tb.send("exec", {"command": "true"}, rid="dup")
    rep = tb.reply("dup")
    assert rep["ok"] is False and rep["code"] == "bad_request"
    assert tb.ok("cancel", {"target": "dup"})["cancelled"] is True
    start = tb.mark()
    _, rep = tb.wait_for(lambda m: m.get("id") == "dup" and "ok" in m, start=start)
    assert rep["result"]["cancelled"] is True


def test_exec_background_process_does_not_hold_reply(tb: Toolbox) -> None:
    t0 = time.monotonic()
    res = tb.ok("exec", {"command": "sleep 5 & echo bg"})
    assert time.monotonic() - t0 < 3
    assert res["stdout"] == "bg\n"
    assert res["exit_code"] == 0


def test_exec_long_output_truncated_with_spill(ws: Path) -> None:
    box = Toolbox(ws, "--max-output", "1000")
    try:
        n = 20000
        script = (
            f"import sys\nfor i in range(1, {n + 1}):\n    sys.stdout.write('line-%05d\\n' % i)\n"
        )
        (ws / "gen.py").write_text(script)
        cmd = f"echo small-err >&2; {sys.executable} gen.py"
        rid = box.send("exec", {"command": cmd})
        res = box.reply(rid)["result"]
        full = "".join(f"line-{i:05d}\n" for i in range(1, n + 1))
        assert res["exit_code"] == 0
        assert res["truncated"] is True
        assert res["stderr"] == "small-err\n"  # small stream kept whole
        out = res["stdout"]
        budget = 1000 - len("small-err\n")
        assert out.startswith(full[: budget // 2])
        assert out.endswith(full[-(budget - budget // 2) :])
        spill = res["spill_path"]
        assert spill.startswith(".pynchy/spill/exec-") and spill.endswith(".log")
        cut = len(full) - budget
        assert f"\n... [{cut} characters truncated; full output: {spill}] ...\n" in out
        assert len(out) < 1200
        # the spill file holds everything, stdout and stderr
        text = (ws / spill).read_text()
        assert len(text) == len(full) + len("small-err\n")
        assert "small-err\n" in text
        assert text.replace("small-err\n", "", 1) == full
        assert (ws / ".pynchy" / ".gitignore").read_text().strip() == "*"
        # readable through the toolbox
        rd = box.ok("read", {"path": spill, "offset": n - 1, "limit": 10})
        assert rd["total_lines"] == n + 1
        assert rd["content"].endswith(f"line-{n:05d}\n")
        # streamed events are capped (4x max-output, plus at most one chunk)
        streamed = "".join(e["data"] for e in box.events(rid, "stdout"))
        assert len(streamed) < 4000 + 65536 < len(full)
        assert full.startswith(streamed)
        # a second long exec gets its own spill file
        res2 = box.ok("exec", {"command": cmd})
        assert res2["spill_path"] != spill
        assert (ws / res2["spill_path"]).is_file()
    finally:
        box.close()


def test_exec_both_streams_large_truncated(ws: Path) -> None:
    box = Toolbox(ws, "--max-output", "100")
    try:
        res = box.ok("exec", {"command": "seq 1 1000; seq 5001 6000 >&2"})
        assert res["truncated"] is True
        assert res["stdout"].startswith("1\n2\n") and res["stdout"].endswith("999\n1000\n")
        assert res["stderr"].startswith("5001\n") and res["stderr"].endswith("6000\n")
        assert "characters truncated" in res["stdout"] and "characters truncated" in res["stderr"]
        spill = (ws / res["spill_path"]).read_text()
        full_out = "".join(f"{i}\n" for i in range(1, 1001))
        full_err = "".join(f"{i}\n" for i in range(5001, 6001))
        assert len(spill) == len(full_out) + len(full_err)
        assert full_out in spill and full_err in spill
    finally:
        box.close()


def test_exec_output_at_budget_not_truncated(ws: Path) -> None:
    box = Toolbox(ws, "--max-output", "100")
    try:
        res = box.ok("exec", {"command": "printf '%0100d' 0"})
        assert res["stdout"] == "0" * 100
        assert res["truncated"] is False and res["spill_path"] is None
        assert not (ws / ".pynchy").exists()
    finally:
        box.close()


def test_exec_spill_refuses_pynchy_symlink_outside(ws: Path, outside: Path) -> None:
    (ws / ".pynchy").symlink_to(outside)
    box = Toolbox(ws, "--max-output", "100")
    try:
        res = box.ok("exec", {"command": "seq 1 1000"})
        assert res["truncated"] is True
        assert res["spill_path"] is None
        assert sorted(os.listdir(outside)) == ["secret.txt"]
    finally:
        box.close()


# --------------------------------------------------------------------------
# path confinement


@pytest.fixture
def escape_setup(ws: Path, outside: Path) -> Path:
    (ws / "inside.txt").write_text("inside\n")
    (ws / "linkfile").symlink_to(outside / "secret.txt")
    (ws / "linkdir").symlink_to(outside)
    (ws / "dangling").symlink_to(outside / "new-file.txt")
    (ws / "sub").mkdir()
    (ws / "sub" / "up").symlink_to("../..")
    return outside


ESCAPING_PATHS = [
    "../outside/secret.txt",
    "sub/../../outside/secret.txt",
    "/etc/passwd",
    "OUTSIDE/secret.txt",  # placeholder: absolute path outside, filled in below
    "linkfile",
    "linkdir/secret.txt",
    "linkdir",
    "dangling",
    "sub/up/outside/secret.txt",
]


def _fill(path: str, outside: Path) -> str:
    return path.replace("OUTSIDE", str(outside))


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_escapes_are_refused_for_every_op(
    tb: Toolbox, ws: Path, escape_setup: Path, path: str
) -> None:
    outside = escape_setup
    path = _fill(path, outside)
    before = snapshot(outside)
    calls = [
        ("read", {"path": path}),
        ("write", {"path": path, "content": "pwned"}),
        ("write", {"path": path, "content": "pwned", "append": True}),
        ("write", {"path": path + "/x/y.txt", "content": "pwned"}),
        ("edit", {"path": path, "old": "secret", "new": "pwned"}),
        ("ls", {"path": path}),
        ("glob", {"pattern": "*", "path": path}),
        ("grep", {"pattern": "secret", "path": path}),
        ("stat", {"path": path}),
        ("exec", {"command": "touch pwned", "cwd": path}),
    ]
    for op, args in calls:
        code, msg = tb.err(op, args)
        assert code == "path_escape", (op, args, code, msg)
        assert path in msg, msg
    assert snapshot(outside) == before
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (ws / "inside.txt").read_text() == "inside\n"


def test_absolute_path_inside_root_is_accepted(tb: Toolbox, ws: Path) -> None:
    (ws / "a.txt").write_text("abs\n")
    assert tb.ok("read", {"path": str(ws / "a.txt")})["content"] == "abs\n"
    assert tb.ok("stat", {"path": str(ws)})["type"] == "dir"
    assert tb.ok("ls", {"path": str(ws)})["entries"][0]["name"] == "a.txt"


def test_dotdot_that_stays_inside_is_fine(tb: Toolbox, ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "a.txt").write_text("ok\n")
    assert tb.ok("read", {"path": "d/../a.txt"})["content"] == "ok\n"
    assert tb.ok("stat", {"path": "."})["type"] == "dir"


def test_symlinks_inside_root_are_followed(tb: Toolbox, ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "real" / "f.txt").write_text("target\n")
    (ws / "alias").symlink_to("real")
    (ws / "flink").symlink_to("real/f.txt")
    assert tb.ok("read", {"path": "alias/f.txt"})["content"] == "target\n"
    tb.ok("write", {"path": "flink", "content": "via link\n"})
    assert (ws / "flink").is_symlink()  # the link is kept, its target is written
    assert (ws / "real" / "f.txt").read_text() == "via link\n"


def test_walking_ops_do_not_follow_symlinks_out(tb: Toolbox, ws: Path, escape_setup: Path) -> None:
    (ws / "sub" / "mine.txt").write_text("secret but mine\n")
    matches = tb.ok("glob", {"pattern": "**/*"})["matches"]
    assert not any(m.startswith("linkdir/") for m in matches)
    assert "linkfile" not in matches and "dangling" not in matches
    assert "linkdir" not in matches
    assert not any("outside" in m for m in matches)
    assert "sub/mine.txt" in matches and "inside.txt" in matches
    for env in ({"PYNCHY_TOOLBOX_NO_RG": "1"}, {}):
        box = Toolbox(ws, env=env)
        try:
            hits = box.ok("grep", {"pattern": "secret"})["matches"]
            assert [h["path"] for h in hits] == ["sub/mine.txt"]
        finally:
            box.close()
    # ls lists links as links, without following them
    entries = {e["name"]: e for e in tb.ok("ls", {})["entries"]}
    assert entries["linkdir"]["type"] == "symlink"
    assert entries["linkfile"]["type"] == "symlink"
    assert entries["dangling"]["type"] == "symlink"


# --------------------------------------------------------------------------
# read


def test_read_basics(tb: Toolbox, ws: Path) -> None:
    (ws / "f.txt").write_text("".join(f"l{i}\n" for i in range(1, 11)))
    res = tb.ok("read", {"path": "f.txt"})
    assert res == {
        "content": "".join(f"l{i}\n" for i in range(1, 11)),
        "total_lines": 10,
        "offset": 1,
        "lines": 10,
        "truncated": False,
    }
    res = tb.ok("read", {"path": "f.txt", "offset": 3, "limit": 2})
    assert res["content"] == "l3\nl4\n"
    assert (res["offset"], res["lines"], res["total_lines"]) == (3, 2, 10)
    res = tb.ok("read", {"path": "f.txt", "offset": 50})
    assert res["content"] == "" and res["lines"] == 0 and res["total_lines"] == 10
    assert tb.err("read", {"path": "f.txt", "offset": 0})[0] == "bad_request"
    assert tb.err("read", {"path": "f.txt", "limit": 0})[0] == "bad_request"


def test_read_no_trailing_newline_crlf_and_empty(tb: Toolbox, ws: Path) -> None:
    (ws / "a.txt").write_bytes(b"one\r\ntwo")
    res = tb.ok("read", {"path": "a.txt"})
    assert res["content"] == "one\r\ntwo" and res["total_lines"] == 2
    (ws / "e.txt").write_bytes(b"")
    res = tb.ok("read", {"path": "e.txt"})
    assert res["content"] == "" and res["total_lines"] == 0 and res["lines"] == 0


def test_read_errors(tb: Toolbox, ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "bin.dat").write_bytes(b"abc\x00def" * 10)
    assert tb.err("read", {"path": "missing.txt"})[0] == "not_found"
    assert tb.err("read", {"path": "d"})[0] == "is_directory"
    code, msg = tb.err("read", {"path": "bin.dat"})
    assert code == "binary" and "bin.dat" in msg


def test_read_nul_after_sniff_window_is_text(tb: Toolbox, ws: Path) -> None:
    (ws / "late.txt").write_bytes(b"a" * 9000 + b"\n\x00\n")
    assert tb.ok("read", {"path": "late.txt"})["total_lines"] == 2


def test_read_long_lines_cut(tb: Toolbox, ws: Path) -> None:
    (ws / "long.txt").write_text("x" * 5000 + "\nshort\n")
    res = tb.ok("read", {"path": "long.txt"})
    assert res["content"] == "x" * 2000 + "…[line truncated]\nshort\n"
    assert res["truncated"] is True
    assert res["lines"] == 2


def test_read_total_content_capped(ws: Path) -> None:
    (ws / "many.txt").write_text("".join(f"{i:04d}\n" for i in range(1000)))
    box = Toolbox(ws, "--max-output", "100")
    try:
        res = box.ok("read", {"path": "many.txt"})
        assert res["truncated"] is True
        assert res["lines"] == 20
        assert res["content"] == "".join(f"{i:04d}\n" for i in range(20))
        assert res["total_lines"] == 1000
    finally:
        box.close()


def test_read_invalid_utf8_replaced(tb: Toolbox, ws: Path) -> None:
    (ws / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert tb.ok("read", {"path": "latin1.txt"})["content"] == "caf\ufffd\n"


# --------------------------------------------------------------------------
# write


def test_write_create_overwrite_append(tb: Toolbox, ws: Path) -> None:
    res = tb.ok("write", {"path": "deep/er/f.txt", "content": "héllo\n"})
    assert res == {"bytes": len("héllo\n".encode()), "created": True}
    assert (ws / "deep" / "er" / "f.txt").read_text() == "héllo\n"
    assert tb.ok("write", {"path": "deep/er/f.txt", "content": "new"}) == {
        "bytes": 3,
        "created": False,
    }
    assert tb.ok("write", {"path": "deep/er/f.txt", "content": "+more", "append": True}) == {
        "bytes": 5,
        "created": False,
    }
    assert (ws / "deep" / "er" / "f.txt").read_text() == "new+more"
    assert tb.ok("write", {"path": "app.txt", "content": "a", "append": True})["created"] is True
    # no temp files left behind
    assert sorted(os.listdir(ws / "deep" / "er")) == ["f.txt"]
    assert tb.ok("write", {"path": "empty.txt", "content": ""}) == {"bytes": 0, "created": True}
    assert (ws / "empty.txt").read_bytes() == b""


def test_write_preserves_mode_and_uses_umask_for_new_files(tb: Toolbox, ws: Path) -> None:
    script = ws / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    tb.ok("write", {"path": "run.sh", "content": "#!/bin/sh\necho hi\n"})
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    tb.ok("write", {"path": "fresh.txt", "content": "x"})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((ws / "fresh.txt").stat().st_mode) == 0o666 & ~umask


def test_write_errors(tb: Toolbox, ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "f.txt").write_text("x")
    assert tb.err("write", {"path": "d", "content": "x"})[0] == "is_directory"
    assert tb.err("write", {"path": ".", "content": "x"})[0] == "is_directory"
    assert tb.err("write", {"path": "f.txt/inner.txt", "content": "x"})[0] == "not_a_directory"
    assert tb.err("write", {"path": "x.txt"})[0] == "bad_request"
    assert tb.err("write", {"path": "", "content": "x"})[0] == "bad_request"
    assert tb.err("write", {"path": "x.txt", "content": "x", "append": "yes"})[0] == "bad_request"
    assert (ws / "f.txt").read_text() == "x"


# --------------------------------------------------------------------------
# edit


def test_edit_single_and_replace_all(tb: Toolbox, ws: Path) -> None:
    f = ws / "code.py"
    f.write_text("a = 1\nb = 2\na = 1\n")
    f.chmod(0o640)
    assert tb.ok("edit", {"path": "code.py", "old": "b = 2", "new": "b = 3"}) == {"replacements": 1}
    assert f.read_text() == "a = 1\nb = 3\na = 1\n"
    res = tb.ok("edit", {"path": "code.py", "old": "a = 1", "new": "a = 9", "replace_all": True})
    assert res == {"replacements": 2}
    assert f.read_text() == "a = 9\nb = 3\na = 9\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert sorted(os.listdir(ws)) == ["code.py"]


def test_edit_errors_leave_file_unchanged(tb: Toolbox, ws: Path) -> None:
    f = ws / "code.py"
    f.write_text("x\nx\ny\n")
    assert tb.err("edit", {"path": "code.py", "old": "zzz", "new": "q"})[0] == "no_match"
    code, msg = tb.err("edit", {"path": "code.py", "old": "x", "new": "q"})
    assert code == "ambiguous" and "2" in msg
    assert tb.err("edit", {"path": "code.py", "old": "", "new": "q"})[0] == "bad_request"
    assert tb.err("edit", {"path": "code.py", "old": "y"})[0] == "bad_request"
    assert tb.err("edit", {"path": "nope.py", "old": "y", "new": "z"})[0] == "not_found"
    (ws / "b.bin").write_bytes(b"\x00x")
    assert tb.err("edit", {"path": "b.bin", "old": "x", "new": "z"})[0] == "binary"
    assert f.read_text() == "x\nx\ny\n"


def test_edit_keeps_non_utf8_bytes(tb: Toolbox, ws: Path) -> None:
    f = ws / "mixed.txt"
    f.write_bytes(b"caf\xe9 old\n")
    assert tb.ok("edit", {"path": "mixed.txt", "old": "old", "new": "new"})["replacements"] == 1
    assert f.read_bytes() == b"caf\xe9 new\n"


# --------------------------------------------------------------------------
# ls, glob, stat


def test_ls(tb: Toolbox, ws: Path) -> None:
    (ws / "b.txt").write_text("12345")
    (ws / "a_dir").mkdir()
    (ws / "c_link").symlink_to("b.txt")
    (ws / ".hidden").write_text("")
    res = tb.ok("ls", {})
    assert res["truncated"] is False
    assert [e["name"] for e in res["entries"]] == [".hidden", "a_dir", "b.txt", "c_link"]
    by = {e["name"]: e for e in res["entries"]}
    assert by["b.txt"] == {"name": "b.txt", "type": "file", "size": 5}
    assert by["a_dir"]["type"] == "dir"
    assert by["c_link"]["type"] == "symlink"
    assert tb.ok("ls", {"path": "a_dir"}) == {"entries": [], "truncated": False}
    assert tb.err("ls", {"path": "nope"})[0] == "not_found"
    assert tb.err("ls", {"path": "b.txt"})[0] == "not_a_directory"


def test_ls_truncates_at_1000(tb: Toolbox, ws: Path) -> None:
    d = ws / "many"
    d.mkdir()
    for i in range(1005):
        (d / f"f{i:04d}").touch()
    res = tb.ok("ls", {"path": "many"})
    assert res["truncated"] is True
    assert len(res["entries"]) == 1000
    assert res["entries"][0]["name"] == "f0000" and res["entries"][-1]["name"] == "f0999"


def test_glob(tb: Toolbox, ws: Path) -> None:
    for p in ["a.py", "b.txt", "pkg/c.py", "pkg/sub/d.py", ".git/e.py", ".pynchy/f.py", ".h.py"]:
        (ws / p).parent.mkdir(parents=True, exist_ok=True)
        (ws / p).write_text("")
    res = tb.ok("glob", {"pattern": "**/*.py"})
    assert res == {
        "matches": [".h.py", "a.py", "pkg/c.py", "pkg/sub/d.py"],
        "truncated": False,
    }
    assert tb.ok("glob", {"pattern": "*.py"})["matches"] == [".h.py", "a.py"]
    assert tb.ok("glob", {"pattern": "*/*.py"})["matches"] == ["pkg/c.py"]
    assert tb.ok("glob", {"pattern": "**/*.py", "path": "pkg"})["matches"] == [
        "pkg/c.py",
        "pkg/sub/d.py",
    ]
    assert tb.ok("glob", {"pattern": "pkg/**"})["matches"] == ["pkg", "pkg/sub"]
    assert tb.ok("glob", {"pattern": "*.rs"})["matches"] == []
    assert tb.err("glob", {"pattern": "../*"})[0] == "bad_request"
    assert tb.err("glob", {"pattern": "/etc/*"})[0] == "bad_request"
    assert tb.err("glob", {"pattern": "*", "path": "a.py"})[0] == "not_a_directory"
    assert tb.err("glob", {"pattern": "*", "path": "nope"})[0] == "not_found"


def test_glob_truncates_at_1000(tb: Toolbox, ws: Path) -> None:
    for i in range(1003):
        (ws / f"f{i:04d}.txt").touch()
    res = tb.ok("glob", {"pattern": "*.txt"})
    assert res["truncated"] is True and len(res["matches"]) == 1000


def test_stat(tb: Toolbox, ws: Path) -> None:
    f = ws / "f.txt"
    f.write_text("abc")
    f.chmod(0o604)
    res = tb.ok("stat", {"path": "f.txt"})
    assert res["exists"] is True and res["type"] == "file" and res["size"] == 3
    assert res["mode"] == "0o604"
    assert abs(res["mtime"] - f.stat().st_mtime) < 1e-3
    assert tb.ok("stat", {"path": "."})["type"] == "dir"
    (ws / "ln").symlink_to("f.txt")
    assert tb.ok("stat", {"path": "ln"})["type"] == "symlink"
    missing = {"exists": False, "type": None, "size": None, "mtime": None, "mode": None}
    assert tb.ok("stat", {"path": "nope/deeper"}) == missing
    assert tb.ok("stat", {"path": "f.txt/child"}) == missing
    assert tb.err("stat", {"path": "../../x"})[0] == "path_escape"


# --------------------------------------------------------------------------
# grep

ENGINES = ["python"] + (["rg"] if shutil.which("rg") else [])


@pytest.fixture(params=ENGINES)
def grep_box(request: pytest.FixtureRequest, ws: Path):
    env = {"PYNCHY_TOOLBOX_NO_RG": "1"} if request.param == "python" else {}
    box = Toolbox(ws, env=env)
    box.engine = request.param  # type: ignore[attr-defined]
    yield box
    box.close()


def _grep_tree(ws: Path) -> None:
    files = {
        "src/a.py": "def foo():\n    return FOO\n",
        "src/b.txt": "foo bar\nnothing\n",
        "src/deep/c.py": "x = 1\nfoo = 2\n",
        "README.md": "Foo is documented\r\n",
        ".git/config": "foo in git\n",
        ".pynchy/spill/x.log": "foo in spill\n",
        "long.txt": "foo" + "z" * 1000 + "\n",
    }
    for p, text in files.items():
        (ws / p).parent.mkdir(parents=True, exist_ok=True)
        (ws / p).write_text(text)
    (ws / "blob.bin").write_bytes(b"foo\x00foo\n")


def test_grep_basics(grep_box: Toolbox, ws: Path) -> None:
    _grep_tree(ws)
    res = grep_box.ok("grep", {"pattern": "foo"})
    assert res["engine"] == grep_box.engine  # type: ignore[attr-defined]
    assert res["truncated"] is False
    got = [(m["path"], m["line"]) for m in res["matches"]]
    assert got == [("long.txt", 1), ("src/a.py", 1), ("src/b.txt", 1), ("src/deep/c.py", 2)]
    long_hit = res["matches"][0]
    assert long_hit["text"] == ("foo" + "z" * 1000)[:500]
    assert res["matches"][1]["text"] == "def foo():"


def test_grep_options(grep_box: Toolbox, ws: Path) -> None:
    _grep_tree(ws)
    res = grep_box.ok("grep", {"pattern": "foo", "ignore_case": True, "glob": "*.py"})
    got = [(m["path"], m["line"]) for m in res["matches"]]
    assert got == [("src/a.py", 1), ("src/a.py", 2), ("src/deep/c.py", 2)]
    res = grep_box.ok("grep", {"pattern": "^foo", "ignore_case": True, "path": "."})
    assert ("README.md", 1) in [(m["path"], m["line"]) for m in res["matches"]]
    readme = next(m for m in res["matches"] if m["path"] == "README.md")
    assert readme["text"] == "Foo is documented"
    res = grep_box.ok("grep", {"pattern": r"foo\b", "path": "src/deep"})
    assert [(m["path"], m["line"]) for m in res["matches"]] == [("src/deep/c.py", 2)]
    res = grep_box.ok("grep", {"pattern": "foo", "path": "src/b.txt"})
    assert [(m["path"], m["line"]) for m in res["matches"]] == [("src/b.txt", 1)]
    res = grep_box.ok("grep", {"pattern": "foo", "max_results": 2})
    assert res["truncated"] is True and len(res["matches"]) == 2
    assert grep_box.ok("grep", {"pattern": "no-such-text"}) == {
        "matches": [],
        "truncated": False,
        "engine": grep_box.engine,  # type: ignore[attr-defined]
    }


def test_grep_empty_lines_and_last_line(grep_box: Toolbox, ws: Path) -> None:
    (ws / "e.txt").write_text("a\n\nb\n")
    (ws / "noeol.txt").write_text("x\nlast")
    res = grep_box.ok("grep", {"pattern": "^$"})
    assert [(m["path"], m["line"]) for m in res["matches"]] == [("e.txt", 2)]
    res = grep_box.ok("grep", {"pattern": "last$"})
    assert [(m["path"], m["line"], m["text"]) for m in res["matches"]] == [("noeol.txt", 2, "last")]


def test_grep_errors(grep_box: Toolbox, ws: Path) -> None:
    assert grep_box.err("grep", {"pattern": "("})[0] == "bad_request"
    assert grep_box.err("grep", {"pattern": ""})[0] == "bad_request"
    assert grep_box.err("grep", {"pattern": "x", "path": "nope"})[0] == "not_found"
    assert grep_box.err("grep", {"pattern": "x", "max_results": 0})[0] == "bad_request"


def test_grep_python_only_regex_falls_back(grep_box: Toolbox, ws: Path) -> None:
    (ws / "f.txt").write_text("foobar\nfoobaz\n")
    # lookahead: Python re supports it, ripgrep's default engine does not
    res = grep_box.ok("grep", {"pattern": "foo(?=baz)"})
    assert [(m["path"], m["line"]) for m in res["matches"]] == [("f.txt", 2)]
    assert res["engine"] == "python"


# --------------------------------------------------------------------------
# old interpreters


def _old_pythons() -> list[str]:
    candidates = [os.environ.get("PYNCHY_TOOLBOX_OLD_PYTHON", "")]
    candidates += [shutil.which("python3.9") or "", shutil.which("python3.10") or ""]
    candidates += sorted(globmod.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3")))
    found = []
    for c in candidates:
        if not c:
            continue
        try:
            out = subprocess.run(
                [c, "-c", "import sys; print(sys.version_info >= (3, 9))"],
                capture_output=True,
                text=True,
                timeout=WAIT,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            found.append(c)
    return found[:1]


def test_runs_on_oldest_supported_python(ws: Path) -> None:
    olds = _old_pythons()
    if not olds:
        pytest.skip("no Python 3.9/3.10 interpreter found")
    box = Toolbox(ws, python=olds[0])
    try:
        hello = box.ok("hello")
        assert hello["python"].startswith("3.")
        res = box.ok("exec", {"command": "echo old"})
        assert res["stdout"] == "old\n"
        box.ok("write", {"path": "o.txt", "content": "a b a"})
        assert box.ok("edit", {"path": "o.txt", "old": "a", "new": "c", "replace_all": True}) == {
            "replacements": 2
        }
        assert box.ok("glob", {"pattern": "**/*.txt"})["matches"] == ["o.txt"]
    finally:
        assert box.close() == 0

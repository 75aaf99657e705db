#!/usr/bin/env python3
"""pynchy toolbox: the in-sandbox tool server.

Runs inside the agent's sandbox (a container, a bubblewrap sandbox, or a plain
local subprocess) as::

    python3 toolbox.py --root /workspace

and speaks JSON lines over stdin/stdout.  See README.md next to this file for
the protocol.  Standard library only; runs on Python >= 3.9.

Design notes
------------
* The main thread reads stdin in chunks and splits lines itself, so that an
  oversized request line is never held in memory (it is discarded up to the
  next newline and answered with ``too_large``).
* ``hello`` and ``cancel`` are answered directly on the reader thread.  Every
  ``exec`` runs in its own thread.  File operations (read, write, edit, ls,
  glob, grep, stat) run one at a time, in arrival order, on a single worker
  thread, so pipelined file operations keep their order while execs run.
* All output to the host goes through one lock, one JSON object per line,
  ASCII only (non-ASCII is \\u-escaped), flushed after every line.  File
  descriptor 1 is redirected to stderr at start so that nothing else can ever
  corrupt the protocol stream.
"""

import argparse
import codecs
import collections
import fnmatch
import io
import json
import os
import platform
import queue
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

VERSION = "0.1.0"
PROTOCOL = 1

DEFAULT_MAX_OUTPUT = 30000
DEFAULT_MAX_LINE = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024

DEFAULT_EXEC_TIMEOUT = 120.0
KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
EXIT_PIPE_GRACE = 0.5  # keep reading pipes this long after the shell exited
POLL_INTERVAL = 0.05

READ_DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
LINE_TRUNCATED_MARK = "\u2026[line truncated]"
BINARY_SNIFF = 8192

MAX_ENTRIES = 1000
GREP_DEFAULT_MAX = 200
GREP_HARD_MAX = 100000
GREP_TEXT_CHARS = 500
GREP_MAX_FILE = 5 * 1024 * 1024

SKIP_DIRS = (".git", ".pynchy")
PYNCHY_DIR = ".pynchy"
SPILL_DIR = ".pynchy/spill"


# --------------------------------------------------------------------------
# errors and small helpers


class ToolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message


def bad_request(message: str) -> ToolError:
    return ToolError("bad_request", message)


def os_error(exc: OSError, path: str) -> ToolError:
    """Map an OSError to a protocol error; `path` is the path as the caller gave it."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return ToolError("not_found", "%s: no such file or directory" % path)
    if isinstance(exc, IsADirectoryError):
        return ToolError("is_directory", "%s: is a directory" % path)
    if isinstance(exc, NotADirectoryError):
        return ToolError("not_a_directory", "%s: not a directory" % path)
    if isinstance(exc, FileExistsError):
        return ToolError("exists", "%s: already exists" % path)
    return ToolError("io_error", "%s: %s" % (path, reason))


def log(message: str) -> None:
    """One line to stderr; never raises."""
    try:
        line = "pynchy-toolbox: " + message.replace("\n", " | ")
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def valid_id(value: Any) -> bool:
    return (isinstance(value, str) or isinstance(value, int)) and not isinstance(value, bool)


def encode_text(text: str) -> bytes:
    """UTF-8 encode text that came from JSON (may hold lone surrogates)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def file_type(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def sanitize_for_filename(value: Any) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", str(value))[:64]
    return text.strip(".") or "x"


class Args:
    """Typed access to a request's args, rejecting unknown keys."""

    def __init__(self, op: str, args: Dict[str, Any], allowed: Tuple[str, ...]) -> None:
        unknown = sorted(k for k in args if k not in allowed)
        if unknown:
            raise bad_request("%s: unknown argument(s): %s" % (op, ", ".join(unknown)))
        self.op = op
        self.args = args

    def _get(self, name: str) -> Any:
        return self.args.get(name)

    def string(self, name: str, default: Optional[str] = None, required: bool = False) -> Any:
        value = self._get(name)
        if value is None:
            if required:
                raise bad_request("%s: missing required argument %r" % (self.op, name))
            return default
        if not isinstance(value, str):
            raise bad_request("%s: argument %r must be a string" % (self.op, name))
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise bad_request("%s: argument %r must be a boolean" % (self.op, name))
        return value

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request("%s: argument %r must be an integer" % (self.op, name))
        if value < minimum:
            raise bad_request("%s: argument %r must be >= %d" % (self.op, name, minimum))
        return value

    def number(self, name: str, default: float) -> float:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_request("%s: argument %r must be a number" % (self.op, name))
        value = float(value)
        if not (value > 0) or value != value or value == float("inf"):
            raise bad_request("%s: argument %r must be a positive finite number" % (self.op, name))
        return value


# --------------------------------------------------------------------------
# glob matching (segment-wise, pathlib-like semantics, "**" = any depth)


class GlobPattern:
    def __init__(self, pattern: str) -> None:
        if not pattern:
            raise bad_request("glob pattern must not be empty")
        if "\x00" in pattern:
            raise bad_request("glob pattern must not contain NUL")
        if pattern.startswith("/"):
            raise bad_request("glob pattern must be relative (use the 'path' argument)")
        segs = [s for s in pattern.split("/") if s not in ("", ".")]
        if not segs:
            raise bad_request("glob pattern %r matches nothing" % pattern)
        if ".." in segs:
            raise bad_request("glob pattern must not contain '..'")
        self.segs: List[Optional[Any]] = []
        for seg in segs:
            if seg == "**":
                if self.segs and self.segs[-1] is None:
                    continue  # "**/**" == "**"
                self.segs.append(None)
            else:
                self.segs.append(re.compile(fnmatch.translate(seg)))
        self.recursive = any(s is None for s in self.segs)
        self.dirs_only = self.segs[-1] is None
        self.depth = len(self.segs)

    def match(self, parts: List[str]) -> bool:
        segs = self.segs
        memo: Dict[Tuple[int, int], bool] = {}

        def rec(i: int, j: int) -> bool:
            key = (i, j)
            if key in memo:
                return memo[key]
            if i == len(segs):
                res = j == len(parts)
            elif segs[i] is None:
                res = rec(i + 1, j) or (j < len(parts) and rec(i, j + 1))
            else:
                res = j < len(parts) and segs[i].match(parts[j]) is not None and rec(i + 1, j + 1)
            memo[key] = res
            return res

        return rec(0, 0)


# --------------------------------------------------------------------------
# exec output collection


class OutputCollector:
    """Collects an exec's stdout/stderr within a char budget.

    Keeps the first `budget` chars and the last >= `budget` chars of each
    stream in memory.  Once the combined output exceeds the budget, a spill
    file is opened (lazily) and everything -- what came before and all that
    follows -- is written to it, interleaved in arrival order.
    """

    def __init__(self, budget: int, open_spill: Callable[[], Tuple[Any, str]]) -> None:
        self.budget = budget
        self._open_spill = open_spill
        self.head: Dict[str, List[str]] = {"stdout": [], "stderr": []}
        self.head_len = {"stdout": 0, "stderr": 0}
        self.tail: Dict[str, Any] = {"stdout": collections.deque(), "stderr": collections.deque()}
        self.tail_len = {"stdout": 0, "stderr": 0}
        self.total = {"stdout": 0, "stderr": 0}
        self.combined = 0
        self.pending: Optional[List[Tuple[str, str]]] = []
        self.spill: Any = None
        self.spill_path: Optional[str] = None
        self.spill_failed = False

    def feed(self, stream: str, text: str) -> None:
        if not text:
            return
        n = len(text)
        self.total[stream] += n
        self.combined += n
        room = self.budget - self.head_len[stream]
        if room > 0:
            piece = text[:room]
            self.head[stream].append(piece)
            self.head_len[stream] += len(piece)
        dq = self.tail[stream]
        dq.append(text)
        self.tail_len[stream] += n
        while len(dq) > 1 and self.tail_len[stream] - len(dq[0]) >= self.budget:
            self.tail_len[stream] -= len(dq.popleft())
        if self.spill is not None:
            self._spill_write(text)
        elif self.pending is not None:
            self.pending.append((stream, text))
            if self.combined > self.budget:
                self._start_spill()

    def _start_spill(self) -> None:
        pending = self.pending or []
        self.pending = None
        try:
            self.spill, self.spill_path = self._open_spill()
        except Exception as exc:
            self.spill_failed = True
            log("cannot create spill file: %s" % (exc,))
            return
        for _stream, text in pending:
            self._spill_write(text)

    def _spill_write(self, text: str) -> None:
        try:
            self.spill.write(text)
        except Exception as exc:
            log("cannot write spill file: %s" % (exc,))
            self._close_spill()
            self.spill_failed = True
            self.spill_path = None

    def _close_spill(self) -> None:
        if self.spill is not None:
            try:
                self.spill.close()
            except Exception as exc:
                log("cannot close spill file: %s" % (exc,))
                self.spill_path = None
            self.spill = None

    def finish(self) -> Tuple[str, str, bool, Optional[str]]:
        self._close_spill()
        a = self.total["stdout"]
        b = self.total["stderr"]
        if a + b <= self.budget:
            return "".join(self.head["stdout"]), "".join(self.head["stderr"]), False, None
        half = self.budget // 2
        if a <= half:
            alloc = {"stdout": a, "stderr": self.budget - a}
        elif b <= half:
            alloc = {"stdout": self.budget - b, "stderr": b}
        else:
            alloc = {"stdout": self.budget - half, "stderr": half}
        out = {}
        for stream in ("stdout", "stderr"):
            size = self.total[stream]
            keep = alloc[stream]
            head_text = "".join(self.head[stream])
            if size <= keep:
                out[stream] = head_text
                continue
            h = keep // 2
            t = keep - h
            tail_text = "".join(self.tail[stream])
            cut = size - h - t
            if self.spill_path:
                marker = "\n... [%d characters truncated; full output: %s] ...\n" % (
                    cut,
                    self.spill_path,
                )
            else:
                marker = "\n... [%d characters truncated] ...\n" % cut
            out[stream] = head_text[:h] + marker + (tail_text[-t:] if t > 0 else "")
        return out["stdout"], out["stderr"], True, self.spill_path


class ExecState:
    def __init__(self, rid: Any) -> None:
        self.rid = rid
        self.stop = threading.Event()
        self.stop_reason: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.thread: Optional[threading.Thread] = None

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    except OSError as exc:
        log("killpg(%d, %d) failed: %s" % (pgid, sig, exc))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------
# the server


class Server:
    def __init__(self, root: str, max_output: int, max_line: int, out_fd: int) -> None:
        self.root = os.path.abspath(root)
        self.root_real = os.path.realpath(root)
        self.max_output = max_output
        self.max_line = max_line
        self.out = os.fdopen(out_fd, "wb", buffering=0)
        self.out_lock = threading.Lock()
        self.out_broken = False
        self.running: Dict[Any, ExecState] = {}
        self.running_lock = threading.Lock()
        self.spill_lock = threading.Lock()
        self.spill_counter = 0
        self.work: "queue.Queue[Any]" = queue.Queue()
        self.worker = threading.Thread(target=self._worker_loop, name="file-ops", daemon=True)
        self.worker.start()
        old = os.umask(0o022)
        os.umask(old)
        self.umask = old
        self.shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        self.use_rg = bool(shutil.which("rg")) and not os.environ.get("PYNCHY_TOOLBOX_NO_RG")
        self.file_ops: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
            "read": self.op_read,
            "write": self.op_write,
            "edit": self.op_edit,
            "ls": self.op_ls,
            "glob": self.op_glob,
            "grep": self.op_grep,
            "stat": self.op_stat,
        }

    # ---- output

    def send(self, obj: Dict[str, Any]) -> None:
        try:
            data = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            log("cannot encode reply: %s" % (exc,))
            data = json.dumps(
                {
                    "id": obj.get("id"),
                    "ok": False,
                    "error": "internal error: cannot encode reply",
                    "code": "internal",
                }
            )
        raw = (data + "\n").encode("ascii")
        with self.out_lock:
            if self.out_broken:
                return
            try:
                view = memoryview(raw)
                while view:
                    n = self.out.write(view)
                    view = view[n:]
            except (BrokenPipeError, OSError) as exc:
                self.out_broken = True
                log("stdout closed: %s" % (exc,))

    def reply_ok(self, rid: Any, result: Dict[str, Any]) -> None:
        self.send({"id": rid, "ok": True, "result": result})

    def reply_error(self, rid: Any, code: str, message: str) -> None:
        self.send({"id": rid, "ok": False, "error": message, "code": code})

    # ---- request intake

    def handle_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.reply_error(None, "bad_request", "request line is not valid UTF-8")
            return
        try:
            req = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.reply_error(None, "bad_request", "malformed JSON: %s" % (exc,))
            return
        if not isinstance(req, dict):
            self.reply_error(None, "bad_request", "request must be a JSON object")
            return
        rid = req.get("id")
        if not valid_id(rid):
            self.reply_error(None, "bad_request", "request needs an 'id' (string or integer)")
            return
        op = req.get("op")
        if not isinstance(op, str) or not op:
            self.reply_error(rid, "bad_request", "request needs an 'op' (string)")
            return
        args = req.get("args")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            self.reply_error(rid, "bad_request", "'args' must be a JSON object")
            return
        try:
            self.dispatch(rid, op, args)
        except ToolError as exc:
            self.reply_error(rid, exc.code, exc.message)
        except Exception as exc:
            log("internal error in %s: %s" % (op, traceback.format_exc()))
            self.reply_error(rid, "internal", "internal error: %s" % (exc,))

    def dispatch(self, rid: Any, op: str, args: Dict[str, Any]) -> None:
        if op == "hello":
            Args(op, args, ())
            self.reply_ok(
                rid,
                {
                    "protocol": PROTOCOL,
                    "version": VERSION,
                    "root": self.root,
                    "python": platform.python_version(),
                    "pid": os.getpid(),
                },
            )
        elif op == "cancel":
            self.reply_ok(rid, self.op_cancel(args))
        elif op == "exec":
            self.start_exec(rid, args)
        elif op in self.file_ops:
            self.work.put((rid, op, args))
        else:
            raise ToolError("unknown_op", "unknown op %r" % (op,))

    def _worker_loop(self) -> None:
        while True:
            item = self.work.get()
            if item is None:
                return
            rid, op, args = item
            self.run_op(rid, op, self.file_ops[op], args)

    def run_op(self, rid: Any, op: str, fn: Callable[[Dict[str, Any]], Dict[str, Any]],
               args: Dict[str, Any]) -> None:
        try:
            result = fn(args)
        except ToolError as exc:
            self.reply_error(rid, exc.code, exc.message)
        except RecursionError:
            self.reply_error(rid, "internal", "internal error: recursion too deep")
        except Exception as exc:
            log("internal error in %s: %s" % (op, traceback.format_exc()))
            self.reply_error(rid, "internal", "internal error: %s" % (exc,))
        else:
            self.reply_ok(rid, result)

    # ---- paths

    def inside(self, real: str) -> bool:
        if real == self.root_real:
            return True
        try:
            return os.path.commonpath([self.root_real, real]) == self.root_real
        except ValueError:
            return False

    def resolve(self, path: Any, name: str = "path") -> Tuple[str, str]:
        """Return (lexical absolute path, resolved real path); refuse escapes."""
        if not isinstance(path, str):
            raise bad_request("argument %r must be a string" % name)
        if path == "":
            raise bad_request("argument %r must not be empty" % name)
        if "\x00" in path:
            raise bad_request("argument %r must not contain NUL" % name)
        try:
            os.fsencode(path)
        except UnicodeError as exc:  # e.g. a lone surrogate
            raise bad_request("argument %r is not a valid path: %s" % (name, exc)) from exc
        if os.path.isabs(path):
            lexical = path
        else:
            lexical = os.path.join(self.root, path)
        try:
            real = os.path.realpath(lexical)
        except ValueError as exc:  # e.g. a lone surrogate the OS cannot encode
            raise bad_request("argument %r is not a valid path: %s" % (name, exc)) from exc
        except OSError as exc:
            raise ToolError("io_error", "%s: cannot resolve path: %s" % (path, exc)) from exc
        if not self.inside(real):
            raise ToolError(
                "path_escape",
                "path %r resolves outside the workspace root %s" % (path, self.root),
            )
        return lexical, real

    def rel(self, real: str) -> str:
        r = os.path.relpath(real, self.root_real)
        return "." if r == "." else r

    # ---- exec

    def start_exec(self, rid: Any, args: Dict[str, Any]) -> None:
        a = Args("exec", args, ("command", "timeout", "cwd", "env", "stdin"))
        command = a.string("command", required=True)
        timeout = a.number("timeout", DEFAULT_EXEC_TIMEOUT)
        cwd_arg = a.string("cwd", ".")
        stdin_text = a.string("stdin")
        env_arg = args.get("env")
        env = dict(os.environ)
        if env_arg is not None:
            if not isinstance(env_arg, dict):
                raise bad_request("exec: argument 'env' must be an object of strings")
            for k, v in env_arg.items():
                if not isinstance(v, str) or not k or "=" in k or "\x00" in k or "\x00" in v:
                    raise bad_request("exec: invalid env entry %r" % (k,))
                env[k] = v
        if "\x00" in command:
            raise bad_request("exec: command must not contain NUL")
        _lexical, cwd = self.resolve(cwd_arg, "cwd")
        try:
            st = os.stat(cwd)
        except OSError as exc:
            raise os_error(exc, cwd_arg) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ToolError("not_a_directory", "%s: not a directory" % cwd_arg)
        state = ExecState(rid)
        with self.running_lock:
            if rid in self.running:
                raise bad_request("exec: id %r is already used by a running exec" % (rid,))
            self.running[rid] = state
        thread = threading.Thread(
            target=self._exec_thread,
            args=(state, command, timeout, cwd, env, stdin_text),
            name="exec-%s" % (rid,),
            daemon=True,
        )
        state.thread = thread
        try:
            thread.start()
        except Exception:
            with self.running_lock:
                self.running.pop(rid, None)
            raise

    def _exec_thread(self, state: ExecState, command: str, timeout: float, cwd: str,
                     env: Dict[str, str], stdin_text: Optional[str]) -> None:
        rid = state.rid
        result = None  # type: Optional[Dict[str, Any]]
        error = None  # type: Optional[Tuple[str, str]]
        try:
            result = self._run_exec(state, command, timeout, cwd, env, stdin_text)
        except ToolError as exc:
            error = (exc.code, exc.message)
        except Exception as exc:
            log("internal error in exec: %s" % (traceback.format_exc(),))
            error = ("internal", "internal error: %s" % (exc,))
        finally:
            # Off the running table before the reply: once the caller has the result, a
            # cancel of this id must find nothing.
            with self.running_lock:
                if self.running.get(rid) is state:
                    del self.running[rid]
        if error is not None:
            self.reply_error(rid, error[0], error[1])
        else:
            self.reply_ok(rid, result)

    def _open_spill(self, rid: Any) -> Tuple[Any, str]:
        pdir = os.path.join(self.root_real, PYNCHY_DIR)
        sdir = os.path.join(self.root_real, SPILL_DIR)
        for d in (pdir, sdir):
            if not self.inside(os.path.realpath(d)):
                raise OSError("%s resolves outside the workspace" % d)
        with self.spill_lock:
            os.makedirs(sdir, exist_ok=True)
            gi = os.path.join(pdir, ".gitignore")
            if not os.path.lexists(gi):
                try:
                    with open(gi, "x") as f:
                        f.write("*\n")
                except FileExistsError:
                    pass
            base = "exec-" + sanitize_for_filename(rid)
            while True:
                self.spill_counter += 1
                name = "%s-%d.log" % (base, self.spill_counter)
                path = os.path.join(sdir, name)
                try:
                    f = open(path, "x", encoding="utf-8", errors="replace", newline="")
                except FileExistsError:
                    continue
                return f, SPILL_DIR + "/" + name

    def _run_exec(self, state: ExecState, command: str, timeout: float, cwd: str,
                  env: Dict[str, str], stdin_text: Optional[str]) -> Dict[str, Any]:
        rid = state.rid
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [self.shell, "-c", command],
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ToolError("io_error", "exec: cannot start %s: %s" % (self.shell, exc)) from exc
        except ValueError as exc:  # e.g. text that cannot be encoded for the OS
            raise bad_request("exec: invalid command, cwd or env: %s" % (exc,)) from exc
        state.proc = proc
        pgid = proc.pid
        if stdin_text is not None:
            threading.Thread(
                target=self._feed_stdin, args=(proc.stdin, encode_text(stdin_text)), daemon=True
            ).start()

        collector = OutputCollector(self.max_output, lambda: self._open_spill(rid))
        stream_cap = 4 * self.max_output
        streamed = 0
        decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }
        sel = selectors.DefaultSelector()
        pipes = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        for fd, name in pipes.items():
            sel.register(fd, selectors.EVENT_READ, name)
        open_fds = set(pipes)
        deadline = start + timeout
        timed_out = False
        term_at: Optional[float] = None
        killed_hard = False
        cancelled = False
        exited_at: Optional[float] = None

        def take(name: str, text: str, nbytes: int) -> None:
            nonlocal streamed
            if not text:
                return
            collector.feed(name, text)
            if streamed < stream_cap:
                streamed += nbytes
                self.send({"id": rid, "event": name, "data": text})

        try:
            while True:
                now = time.monotonic()
                rc = proc.poll()
                if rc is not None and exited_at is None:
                    exited_at = now
                if term_at is None:
                    if rc is None and state.stop.is_set():
                        cancelled = True
                        kill_group(pgid, signal.SIGTERM)
                        term_at = now
                    elif rc is None and now >= deadline:
                        timed_out = True
                        kill_group(pgid, signal.SIGTERM)
                        term_at = now
                elif not killed_hard and now - term_at >= KILL_GRACE:
                    kill_group(pgid, signal.SIGKILL)
                    killed_hard = True
                if not open_fds:
                    if rc is not None:
                        break
                    time.sleep(POLL_INTERVAL)
                    continue
                if exited_at is not None and now - exited_at >= EXIT_PIPE_GRACE:
                    break  # something in the background still holds the pipes
                if killed_hard and now - term_at >= KILL_GRACE * (2 if rc is not None else 5):
                    break  # pipes held by something that escaped the process group
                for key, _mask in sel.select(POLL_INTERVAL):
                    fd = key.fd
                    name = key.data
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if data:
                        take(name, decoders[name].decode(data), len(data))
                    else:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        take(name, decoders[name].decode(b"", True), 0)
            for fd in list(open_fds):
                take(pipes[fd], decoders[pipes[fd]].decode(b"", True), 0)
        finally:
            sel.close()
            for pipe in (proc.stdout, proc.stderr):
                try:
                    pipe.close()
                except Exception:
                    pass
            if proc.poll() is None:
                # only reachable on an unexpected error: do not leave it running
                kill_group(pgid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except Exception:
                pass
            if term_at is not None and not killed_hard and group_alive(pgid):
                remaining = term_at + KILL_GRACE - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
                kill_group(pgid, signal.SIGKILL)

        stdout, stderr, truncated, spill_path = collector.finish()
        duration_ms = int((time.monotonic() - start) * 1000)
        return {
            "exit_code": proc.returncode if proc.returncode is not None else -signal.SIGKILL,
            "stdout": stdout,
            "stderr": stderr,
            "timed_out": timed_out,
            "cancelled": cancelled,
            "duration_ms": duration_ms,
            "truncated": truncated,
            "spill_path": spill_path,
        }

    @staticmethod
    def _feed_stdin(pipe: Any, data: bytes) -> None:
        try:
            pipe.write(data)
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            try:
                pipe.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def op_cancel(self, args: Dict[str, Any]) -> Dict[str, Any]:
        Args("cancel", args, ("target",))
        target = args.get("target")
        if not valid_id(target):
            raise bad_request("cancel: argument 'target' must be a string or integer id")
        with self.running_lock:
            state = self.running.get(target)
        if state is None:
            return {"cancelled": False}
        state.request_stop("cancel")
        return {"cancelled": True}

    def shutdown(self) -> None:
        """stdin EOF: stop running execs, finish queued file ops, exit."""
        with self.running_lock:
            states = list(self.running.values())
        for st in states:
            st.request_stop("shutdown")
        self.work.put(None)
        end = time.monotonic() + KILL_GRACE + 2.0
        for st in states:
            if st.thread is not None:
                st.thread.join(max(0.0, end - time.monotonic()))
        for st in states:
            if st.proc is not None and st.thread is not None and st.thread.is_alive():
                kill_group(st.proc.pid, signal.SIGKILL)
        self.worker.join(10.0)

    def kill_all(self) -> None:
        # called from a signal handler: must not take running_lock
        try:
            states = list(self.running.values())
        except RuntimeError:
            return
        for st in states:
            if st.proc is not None:
                kill_group(st.proc.pid, signal.SIGKILL)

    # ---- file ops

    def _open_text_file(self, path_arg: str, real: str) -> Any:
        try:
            st = os.stat(real)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        if stat.S_ISDIR(st.st_mode):
            raise ToolError("is_directory", "%s: is a directory" % path_arg)
        if not stat.S_ISREG(st.st_mode):
            raise ToolError("io_error", "%s: not a regular file" % path_arg)
        try:
            return open(real, "rb")
        except OSError as exc:
            raise os_error(exc, path_arg) from exc

    def op_read(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("read", args, ("path", "offset", "limit"))
        path_arg = a.string("path", required=True)
        offset = a.integer("offset", 1, minimum=1)
        limit = a.integer("limit", READ_DEFAULT_LIMIT, minimum=1)
        _lexical, real = self.resolve(path_arg)
        f = self._open_text_file(path_arg, real)
        parts: List[str] = []
        chars = 0
        total = 0
        taken = 0
        truncated = False
        full = False
        try:
            head = f.read(BINARY_SNIFF)
            if b"\x00" in head:
                raise ToolError("binary", "%s: binary file (contains NUL bytes)" % path_arg)
            f.seek(0)
            reader = io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline="")
            for line in reader:
                total += 1
                if total < offset or full or taken >= limit:
                    continue
                body = line.rstrip("\r\n")
                if len(body) > MAX_LINE_CHARS:
                    line = body[:MAX_LINE_CHARS] + LINE_TRUNCATED_MARK + line[len(body):]
                    truncated = True
                if chars + len(line) > self.max_output:
                    if taken == 0:
                        parts.append(line[: self.max_output])
                        taken = 1
                    truncated = True
                    full = True
                    continue
                parts.append(line)
                chars += len(line)
                taken += 1
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        finally:
            f.close()
        return {
            "content": "".join(parts),
            "total_lines": total,
            "offset": offset,
            "lines": taken,
            "truncated": truncated,
        }

    def _atomic_write(self, real: str, data: bytes, mode: Optional[int]) -> None:
        directory, name = os.path.split(real)
        try:
            fd, tmp = tempfile.mkstemp(prefix="." + name[:40] + ".", suffix=".tmp", dir=directory)
        except PermissionError:
            if mode is None:
                raise
            # directory not writable but the file is: fall back to in-place
            with open(real, "r+b") as f:
                f.write(data)
                f.truncate()
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode if mode is not None else (0o666 & ~self.umask))
            os.replace(tmp, real)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def op_write(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("write", args, ("path", "content", "append"))
        path_arg = a.string("path", required=True)
        content = a.string("content", required=True)
        append = a.boolean("append", False)
        _lexical, real = self.resolve(path_arg)
        data = encode_text(content)
        if real == self.root_real or os.path.isdir(real):
            raise ToolError("is_directory", "%s: is a directory" % path_arg)
        parent = os.path.dirname(real)
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ToolError("not_a_directory", "%s: a parent is not a directory" % path_arg) from None
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        try:
            st: Optional[os.stat_result] = os.stat(real)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise ToolError("io_error", "%s: not a regular file" % path_arg)
        try:
            if append:
                with open(real, "ab") as f:
                    f.write(data)
            else:
                self._atomic_write(real, data, stat.S_IMODE(st.st_mode) if st else None)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        return {"bytes": len(data), "created": st is None}

    def op_edit(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("edit", args, ("path", "old", "new", "replace_all"))
        path_arg = a.string("path", required=True)
        old = a.string("old", required=True)
        new = a.string("new", required=True)
        replace_all = a.boolean("replace_all", False)
        if old == "":
            raise bad_request("edit: 'old' must not be empty")
        _lexical, real = self.resolve(path_arg)
        f = self._open_text_file(path_arg, real)
        try:
            raw = f.read()
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        finally:
            f.close()
        if b"\x00" in raw[:BINARY_SNIFF]:
            raise ToolError("binary", "%s: binary file (contains NUL bytes)" % path_arg)
        text = raw.decode("utf-8", "surrogateescape")
        count = text.count(old)
        if count == 0:
            raise ToolError("no_match", "%s: old text not found" % path_arg)
        if count > 1 and not replace_all:
            raise ToolError(
                "ambiguous",
                "%s: old text found %d times; add context to make it unique or set replace_all"
                % (path_arg, count),
            )
        updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        try:
            self._atomic_write(real, encode_text(updated), mode)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        return {"replacements": count if replace_all else 1}

    def op_ls(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("ls", args, ("path",))
        path_arg = a.string("path", ".")
        _lexical, real = self.resolve(path_arg)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ToolError("not_a_directory", "%s: not a directory" % path_arg)
        try:
            with os.scandir(real) as it:
                names = sorted(e.name for e in it)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        entries = []
        for name in names[:MAX_ENTRIES]:
            try:
                est = os.lstat(os.path.join(real, name))
                entries.append({"name": name, "type": file_type(est.st_mode), "size": est.st_size})
            except OSError:
                entries.append({"name": name, "type": "other", "size": 0})
        return {"entries": entries, "truncated": len(names) > MAX_ENTRIES}

    def _walk(self, top: str, max_depth: Optional[int] = None):
        """os.walk without following symlinks, pruning .git/.pynchy, sorted."""
        top_depth = top.rstrip(os.sep).count(os.sep)
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            filenames.sort()
            if max_depth is not None and dirpath.rstrip(os.sep).count(os.sep) - top_depth >= max_depth - 1:
                yield dirpath, list(dirnames), filenames
                dirnames[:] = []
                continue
            yield dirpath, dirnames, filenames

    def op_glob(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("glob", args, ("pattern", "path"))
        pattern = GlobPattern(a.string("pattern", required=True))
        path_arg = a.string("path", ".")
        _lexical, real = self.resolve(path_arg)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ToolError("not_a_directory", "%s: not a directory" % path_arg)
        matches: List[str] = []
        truncated = False
        max_depth = None if pattern.recursive else pattern.depth
        for dirpath, dirnames, filenames in self._walk(real, max_depth):
            relbase = os.path.relpath(dirpath, real)
            base_parts = [] if relbase == "." else relbase.split(os.sep)
            for name in list(dirnames) + filenames:
                full = os.path.join(dirpath, name)
                if pattern.dirs_only and not os.path.isdir(full):
                    continue
                if not pattern.match(base_parts + [name]):
                    continue
                if os.path.islink(full) and not self.inside(os.path.realpath(full)):
                    continue
                matches.append(self.rel(full))
                if len(matches) > MAX_ENTRIES:
                    truncated = True
                    break
            if truncated:
                break
        matches.sort()
        return {"matches": matches[:MAX_ENTRIES], "truncated": truncated}

    def op_grep(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("grep", args, ("pattern", "path", "glob", "ignore_case", "max_results"))
        pattern = a.string("pattern", required=True)
        path_arg = a.string("path", ".")
        glob_filter = a.string("glob")
        ignore_case = a.boolean("ignore_case", False)
        max_results = min(a.integer("max_results", GREP_DEFAULT_MAX, minimum=1), GREP_HARD_MAX)
        if pattern == "":
            raise bad_request("grep: 'pattern' must not be empty")
        try:
            rx = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except (re.error, OverflowError, RecursionError) as exc:
            raise bad_request("grep: invalid regex %r: %s" % (pattern, exc)) from exc
        if glob_filter == "":
            glob_filter = None
        name_glob = None
        path_glob = None
        if glob_filter is not None:
            if "/" in glob_filter:
                path_glob = GlobPattern(glob_filter)
            else:
                name_glob = re.compile(fnmatch.translate(glob_filter))
        _lexical, real = self.resolve(path_arg)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        if self.use_rg and stat.S_ISDIR(st.st_mode):
            result = self._grep_rg(pattern, real, glob_filter, ignore_case, max_results)
            if result is not None:
                return result
        return self._grep_python(rx, real, stat.S_ISDIR(st.st_mode), name_glob, path_glob, max_results)

    def _grep_python(self, rx: Any, real: str, is_dir: bool, name_glob: Any, path_glob: Any,
                     max_results: int) -> Dict[str, Any]:
        matches: List[Dict[str, Any]] = []
        truncated = False

        def files():
            if not is_dir:
                yield real, os.path.basename(real), [os.path.basename(real)]
                return
            for dirpath, _dirnames, filenames in self._walk(real):
                relbase = os.path.relpath(dirpath, real)
                base_parts = [] if relbase == "." else relbase.split(os.sep)
                for name in filenames:
                    yield os.path.join(dirpath, name), name, base_parts + [name]

        for full, name, parts in files():
            if name_glob is not None and not name_glob.match(name):
                continue
            if path_glob is not None and not path_glob.match(parts):
                continue
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > GREP_MAX_FILE:
                continue
            try:
                with open(full, "rb") as f:
                    raw = f.read(GREP_MAX_FILE + 1)
            except OSError:
                continue
            if b"\x00" in raw[:BINARY_SNIFF]:
                continue
            text = raw.decode("utf-8", "replace")
            relpath = self.rel(full)
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()  # the newline ends the last line; no empty line after it
            for lineno, line in enumerate(lines, 1):
                if line.endswith("\r"):
                    line = line[:-1]
                if rx.search(line):
                    if len(matches) >= max_results:
                        truncated = True
                        break
                    matches.append({"path": relpath, "line": lineno, "text": line[:GREP_TEXT_CHARS]})
            if truncated:
                break
        matches.sort(key=lambda m: (m["path"], m["line"]))
        return {"matches": matches, "truncated": truncated, "engine": "python"}

    def _grep_rg(self, pattern: str, real: str, glob_filter: Optional[str], ignore_case: bool,
                 max_results: int) -> Optional[Dict[str, Any]]:
        """ripgrep fast path; returns None to fall back to pure Python."""
        cmd = [
            "rg", "--json", "--no-config", "--hidden", "--no-ignore", "--no-follow",
            "--sort", "path", "--max-filesize", str(GREP_MAX_FILE),
            "-g", "!.git", "-g", "!.pynchy",
        ]
        if ignore_case:
            cmd.append("-i")
        else:
            cmd.append("-s")
        if glob_filter is not None:
            cmd += ["-g", glob_filter]
        cmd += ["-e", pattern, "--", real]
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except (OSError, ValueError):
            return None
        matches: List[Dict[str, Any]] = []
        truncated = False
        try:
            for raw in proc.stdout:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if msg.get("type") != "match":
                    continue
                data = msg.get("data") or {}
                path = (data.get("path") or {}).get("text")
                text = (data.get("lines") or {}).get("text")
                lineno = data.get("line_number")
                if path is None or text is None or not isinstance(lineno, int):
                    continue
                # rg never searches NUL-containing files in our mode; keep parity
                if "\x00" in text:
                    continue
                full = os.path.join(real, path) if not os.path.isabs(path) else path
                if not self.inside(os.path.realpath(full)):
                    continue
                if len(matches) >= max_results:
                    truncated = True
                    break
                text = text.rstrip("\n")
                if text.endswith("\r"):
                    text = text[:-1]
                matches.append({"path": self.rel(full), "line": lineno, "text": text[:GREP_TEXT_CHARS]})
        finally:
            if truncated:
                proc.kill()
            try:
                proc.stdout.close()
            except OSError:
                pass
            rc = proc.wait()
        if not truncated and rc not in (0, 1):
            return None  # e.g. regex syntax rg does not support
        matches.sort(key=lambda m: (m["path"], m["line"]))
        return {"matches": matches, "truncated": truncated, "engine": "rg"}

    def op_stat(self, args: Dict[str, Any]) -> Dict[str, Any]:
        a = Args("stat", args, ("path",))
        path_arg = a.string("path", required=True)
        lexical, _real = self.resolve(path_arg)
        try:
            st = os.lstat(lexical)
        except (FileNotFoundError, NotADirectoryError):
            return {"exists": False, "type": None, "size": None, "mtime": None, "mode": None}
        except OSError as exc:
            raise os_error(exc, path_arg) from exc
        return {
            "exists": True,
            "type": file_type(st.st_mode),
            "size": st.st_size,
            "mtime": st.st_mtime,
            "mode": oct(stat.S_IMODE(st.st_mode)),
        }


# --------------------------------------------------------------------------
# stdin loop


def serve(server: Server, in_fd: int) -> None:
    max_line = server.max_line
    buf = bytearray()
    discarding = False

    def too_large() -> None:
        server.reply_error(
            None, "too_large", "request line exceeds the limit of %d bytes" % max_line
        )

    while True:
        try:
            chunk = os.read(in_fd, READ_CHUNK)
        except InterruptedError:
            continue
        except OSError as exc:
            log("stdin read failed: %s" % (exc,))
            break
        if not chunk:
            break
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                if not discarding:
                    buf += chunk[start:]
                    if len(buf) > max_line:
                        discarding = True
                        buf = bytearray()
                break
            piece = chunk[start:nl]
            start = nl + 1
            if discarding:
                discarding = False
                too_large()
                continue
            if buf:
                buf += piece
                line = bytes(buf)
                buf = bytearray()
            else:
                line = piece
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > max_line:
                too_large()
                continue
            try:
                server.handle_line(line)
            except Exception:
                log("internal error handling a line: %s" % (traceback.format_exc(),))
    if discarding:
        too_large()
    elif buf.strip():
        try:
            server.handle_line(bytes(buf))
        except Exception:
            log("internal error handling a line: %s" % (traceback.format_exc(),))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="toolbox.py", description="pynchy in-sandbox tool server")
    parser.add_argument("--root", help="workspace root directory (required)")
    parser.add_argument("--max-output", type=int, default=DEFAULT_MAX_OUTPUT,
                        help="max chars of output per result (default %(default)s)")
    parser.add_argument("--max-line", type=int, default=DEFAULT_MAX_LINE,
                        help="max bytes per request line (default %(default)s)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    ns = parser.parse_args(argv)
    if ns.version:
        sys.stdout.write("pynchy-toolbox %s (protocol %d)\n" % (VERSION, PROTOCOL))
        sys.stdout.flush()
        return 0
    if not ns.root:
        parser.error("--root is required")
    if ns.max_output < 1:
        parser.error("--max-output must be >= 1")
    if ns.max_line < 1:
        parser.error("--max-line must be >= 1")
    if not os.path.isdir(ns.root):
        parser.error("--root %s is not a directory" % ns.root)

    # Keep a private copy of the protocol channel and point fd 1 at stderr so
    # that nothing else (a stray print, a library) can write to the protocol.
    out_fd = os.dup(1)
    try:
        os.dup2(2, 1)
    except OSError:
        pass

    server = Server(ns.root, ns.max_output, ns.max_line, out_fd)

    def on_term(signum: int, _frame: Any) -> None:
        server.kill_all()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    # a Ctrl-C meant for the host must not kill us; a handler (unlike SIG_IGN)
    # is not inherited by the commands we run
    signal.signal(signal.SIGINT, lambda _s, _f: None)

    try:
        serve(server, 0)
        server.shutdown()
    except Exception:
        log("fatal: %s" % (traceback.format_exc(),))
        server.kill_all()
        os._exit(1)
    try:
        server.out.close()
    except OSError:
        pass
    os._exit(0)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

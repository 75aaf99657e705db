"""Parse POSIX sh / bash command lines into the simple commands they would run.

The command classifier (`classify.py`) must judge what a command line *does*, and matching the
text can't tell: ``echo "rm -rf /"`` runs only ``echo``, while ``ls $(rm -rf ~)`` runs ``rm``.
This module tokenizes and parses the part of bash that agents write:

* quoting: ``'…'``, ``"…"``, ``$'…'`` (escapes decoded), ``$"…"``, backslashes, line
  continuations, comments;
* lists and pipelines: ``;`` ``&&`` ``||`` ``|`` ``|&`` ``&`` and newlines, ``!`` and ``time``;
* subshells ``( … )``, brace groups ``{ …; }``, ``if``/``while``/``until``/``for``/``select``/
  ``case``, ``[[ … ]]``, ``(( … ))``, function definitions (``f() { …; }``, ``function f``);
* command substitution ``$( … )`` and backticks (nested), process substitution ``<( … )`` and
  ``>( … )``, arithmetic ``$(( … ))`` (not a command, though substitutions in it run),
  parameter expansion ``$x`` / ``${x:-…}``, array assignments ``a=( … )``;
* redirections (``>`` ``>>`` ``>|`` ``<`` ``<>`` ``2>&1`` ``&>`` ``&>>`` ``<<<`` and heredocs
  ``<<EOF`` / ``<<-EOF`` with their bodies) and env-assignment prefixes (``FOO=bar cmd``).

:func:`split` flattens the tree into :class:`SimpleCommand` records in the order they would run,
each with its argv, redirections, env prefix and context: inside a substitution, piped from /
into, backgrounded, which pipeline stage, inside which function. Flattening also looks *through*
whatever runs other commands:

* wrappers (``env``, ``command``, ``builtin``, ``exec``, ``nohup``, ``time``, ``nice``,
  ``timeout``, ``xargs``, ``sudo``, ``doas``, ``pkexec``, ``stdbuf``, ``setsid``, ``ionice``,
  ``busybox``, ``uv run``/``poetry run``/... ): the wrapped command is what is emitted, and the
  chain is kept in ``SimpleCommand.wrappers`` (so ``sudo ls`` is ``ls`` wrapped by ``sudo``);
* shell code held in strings (``bash -c``, ``sh -c``, ``su -c``, ``env -S``, ``eval``,
  ``trap``, ``watch``, ``alias``, heredocs and here-strings fed to a shell) is parsed and
  flattened as well, tagged with ``via``; ``find -exec`` commands are emitted on their own.

This is static analysis, nothing is executed: variables assigned earlier in the same line are
substituted -- and word-split when unquoted, as the shell would (``x='rm -rf /'; $x``) --
``$HOME`` reads as ``~``, ``$TMPDIR`` as ``/tmp``, the arguments after ``sh -c 'code'`` bind
``$0``, ``$1`` …, a ``for`` over a few literal words is flattened once per word, ``cd`` is
followed (``SimpleCommand.cwd``, relative to where the line starts), and whatever can only be
known at run time is marked per word in ``SimpleCommand.kinds`` (``"param"`` or ``"cmdsub"``).
Malformed input raises :class:`ParseError`; nested code that doesn't parse is reported in
:attr:`Flat.errors`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

__all__ = [
    "SHELLS",
    "Flat",
    "ParseError",
    "Redirect",
    "SimpleCommand",
    "command_name",
    "home_path",
    "parse",
    "shell_invocation",
    "split",
]

MAX_CODE_DEPTH = 6  # nested code strings: bash -c "eval 'sh -c …'"
MAX_NESTING = 80  # syntactic nesting: ( ( ( … ) ) ), $( $( … ) )
MAX_LOOP_UNROLL = 4  # a `for` over up to this many literal words is flattened once per word
MAX_COMMANDS = 2000

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"})


class ParseError(ValueError):
    """The text isn't a complete shell command (unbalanced quote, missing ``fi``, …)."""


# --------------------------------------------------------------------------- syntax tree


@dataclass
class Part:
    """One piece of a word. ``kind`` is one of: ``lit`` (unquoted text), ``quoted`` (text that
    was quoted or escaped), ``param`` (``$x``, ``${x}``; ``name`` set), ``xparam`` (any other
    ``${…}``), ``cmdsub`` (``$( … )`` or backticks; ``body`` set), ``procsub`` (``<( … )`` /
    ``>( … )``; ``body`` and ``proc`` set) and ``arith`` (``$(( … ))``). ``text`` is the literal
    text, or the raw source of an expansion. ``nested`` holds substitutions inside an
    ``xparam`` or ``arith`` part."""

    kind: str
    text: str
    name: str = ""
    body: ListNode | None = None
    proc: str = ""
    nested: list[Part] = field(default_factory=list)
    quoted: bool = False  # a parameter inside double quotes (not word-split)


@dataclass
class Word:
    parts: list[Part]
    raw: str

    def literal(self) -> str | None:
        """The text when the word is a single unquoted literal (reserved words need that)."""
        if len(self.parts) == 1 and self.parts[0].kind == "lit":
            return self.parts[0].text
        return None


@dataclass
class Redir:
    op: str
    fd: int | None
    word: Word
    body: str | None = None  # heredoc body
    body_parts: list[Part] = field(default_factory=list)  # expansions in an unquoted heredoc
    strip_tabs: bool = False
    delimiter: str = ""
    quoted: bool = False


@dataclass
class SimpleNode:
    assigns: list[Word]
    words: list[Word]
    redirs: list[Redir]
    text: str


@dataclass
class CompoundNode:
    kind: str  # subshell group if while until for select case arith cond function
    bodies: list[ListNode]
    words: list[Word]
    redirs: list[Redir]
    text: str
    name: str = ""  # function name, loop variable
    nested: list[Part] = field(default_factory=list)  # substitutions in (( )) / for (( ))


Node = SimpleNode | CompoundNode


@dataclass
class PipelineNode:
    commands: list[Node]
    text: str


@dataclass
class AndOrNode:
    pipelines: list[PipelineNode]
    ops: list[str]


@dataclass
class ListNode:
    items: list[tuple[AndOrNode, bool]]  # (and-or list, run in the background)


# --------------------------------------------------------------------------- tokens

_OPERATORS = (
    "&&",
    "||",
    ";;&",
    ";;",
    ";&",
    "|&",
    "&>>",
    "&>",
    "<<<",
    "<<-",
    "<<",
    "<>",
    "<&",
    ">>",
    ">&",
    ">|",
    ";",
    "&",
    "|",
    "(",
    ")",
    "<",
    ">",
)
_REDIR_OPS = frozenset({"&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">"})
_WORD_STOP = frozenset(" \t\n;&|()<>")
_RESERVED = frozenset(
    {
        "if",
        "then",
        "elif",
        "else",
        "fi",
        "do",
        "done",
        "case",
        "esac",
        "while",
        "until",
        "for",
        "select",
        "function",
        "{",
        "}",
        "!",
        "[[",
        "time",
    }
)
_CLOSERS = frozenset({"then", "elif", "else", "fi", "do", "done", "esac", "}"})
_IO_NUMBER = re.compile(r"(\d+)(?=[<>])")
_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!\-]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?)=")
_ARRAY_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_ANSI = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


@dataclass
class _Tok:
    kind: str  # word op redir nl eof
    value: str
    start: int
    end: int
    word: Word | None = None
    fd: int | None = None

    def reserved(self) -> str | None:
        if self.kind == "word" and self.word is not None:
            lit = self.word.literal()
            if lit in _RESERVED:
                return lit
        return None

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of input"
        if self.kind == "nl":
            return "newline"
        return f"`{self.value}`"


class _Parser:
    def __init__(self, src: str, nesting: int = 0) -> None:
        self.src = src
        self.n = len(src)
        self.pos = 0
        self.nesting = nesting
        self._tok: _Tok | None = None
        self.pending: list[Redir] = []

    # ---------------------------------------------------------------- lexer

    def peek(self) -> _Tok:
        if self._tok is None:
            self._tok = self._lex()
        return self._tok

    def next(self) -> _Tok:
        tok = self.peek()
        self._tok = None
        return tok

    def _enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ParseError("nested too deeply")

    def _leave(self) -> None:
        self.nesting -= 1

    def _skip_blanks(self) -> None:
        src = self.src
        while self.pos < self.n:
            c = src[self.pos]
            if c in " \t":
                self.pos += 1
            elif src.startswith("\\\n", self.pos):
                self.pos += 2
            else:
                break

    def _lex(self) -> _Tok:
        src = self.src
        while True:
            self._skip_blanks()
            if self.pos < self.n and src[self.pos] == "#":
                end = src.find("\n", self.pos)
                self.pos = self.n if end < 0 else end
                continue
            break
        start = self.pos
        if self.pos >= self.n:
            return _Tok("eof", "", self.n, self.n)
        c = src[self.pos]
        if c == "\n":
            self.pos += 1
            self._read_heredocs()
            return _Tok("nl", "\n", start, start + 1)
        if c in "<>" and src.startswith("(", self.pos + 1):
            return self._word_token()
        fd = None
        m = _IO_NUMBER.match(src, self.pos)
        if m:
            fd = int(m.group(1))
            self.pos = m.end(1)
        for op in _OPERATORS:
            if src.startswith(op, self.pos):
                if fd is not None and op not in _REDIR_OPS:
                    break
                self.pos += len(op)
                kind = "redir" if op in _REDIR_OPS else "op"
                return _Tok(kind, op, start, self.pos, fd=fd)
        self.pos = start
        return self._word_token()

    def _word_token(self, cond: bool = False) -> _Tok:
        start = self.pos
        parts = self._lex_word(cond)
        if self.pos == start:
            raise ParseError(f"unexpected `{self.src[start]}`")
        raw = self.src[start : self.pos]
        return _Tok("word", raw, start, self.pos, word=Word(parts, raw))

    def _lex_word(self, cond: bool = False) -> list[Part]:
        src = self.src
        parts: list[Part] = []
        buf: list[str] = []
        depth = 0

        def flush() -> None:
            if buf:
                parts.append(Part("lit", "".join(buf)))
                buf.clear()

        while self.pos < self.n:
            c = src[self.pos]
            if cond:
                if c in " \t\n":
                    break
                if c == "(":
                    depth += 1
                elif c == ")":
                    if not depth:
                        break
                    depth -= 1
                elif c in ";&|<>" and not depth:
                    break
                if c in "()" or c in ";&|<>":
                    buf.append(c)
                    self.pos += 1
                    continue
            elif c in _WORD_STOP:
                at_start = not buf and not parts
                if c in "<>" and at_start and src.startswith("(", self.pos + 1):
                    parts.append(self._procsub())
                    continue
                if c == "(" and not parts and _ARRAY_START.fullmatch("".join(buf)):
                    flush()
                    parts.extend(self._array_literal())
                    continue
                break
            if c == "\\":
                if self.pos + 1 < self.n:
                    d = src[self.pos + 1]
                    self.pos += 2
                    if d != "\n":
                        flush()
                        parts.append(Part("quoted", d))
                    continue
                buf.append("\\")
                self.pos += 1
                continue
            if c == "'":
                flush()
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ParseError("unterminated single quote")
                parts.append(Part("quoted", src[self.pos + 1 : end]))
                self.pos = end + 1
                continue
            if c == '"':
                flush()
                self.pos += 1
                parts.extend(self._lex_dq())
                continue
            if c == "$":
                flush()
                parts.extend(self._lex_dollar(in_dq=False))
                continue
            if c == "`":
                flush()
                parts.append(self._backtick(in_dq=False))
                continue
            buf.append(c)
            self.pos += 1
        flush()
        return parts

    def _array_literal(self) -> list[Part]:
        self.pos += 1  # (
        parts = [Part("lit", "(")]
        while True:
            while self.pos < self.n and self.src[self.pos] in " \t\n":
                self.pos += 1
            if self.pos >= self.n:
                raise ParseError("unterminated array assignment")
            if self.src[self.pos] == ")":
                self.pos += 1
                parts.append(Part("lit", ")"))
                return parts
            before = self.pos
            parts.extend(self._lex_word())
            if self.pos == before:
                raise ParseError(f"unexpected `{self.src[self.pos]}` in an array")
            parts.append(Part("lit", " "))

    def _lex_dq(self, heredoc: bool = False) -> list[Part]:
        """Inside double quotes (or an unquoted heredoc body, which runs to the end)."""
        src = self.src
        parts: list[Part] = []
        buf: list[str] = []
        escapable = "$`\\\n" if heredoc else '$`"\\\n'

        def flush() -> None:
            if buf:
                parts.append(Part("quoted", "".join(buf)))
                buf.clear()

        while True:
            if self.pos >= self.n:
                if heredoc:
                    break
                raise ParseError("unterminated double quote")
            c = src[self.pos]
            if c == '"' and not heredoc:
                self.pos += 1
                break
            if c == "\\" and self.pos + 1 < self.n and src[self.pos + 1] in escapable:
                if src[self.pos + 1] != "\n":
                    buf.append(src[self.pos + 1])
                self.pos += 2
                continue
            if c == "$":
                flush()
                parts.extend(self._lex_dollar(in_dq=True))
                continue
            if c == "`":
                flush()
                parts.append(self._backtick(in_dq=True))
                continue
            buf.append(c)
            self.pos += 1
        flush()
        return parts or [Part("quoted", "")]

    def _lex_dollar(self, in_dq: bool) -> list[Part]:
        src = self.src
        start = self.pos
        nxt = src[self.pos + 1] if self.pos + 1 < self.n else ""
        if nxt == "'" and not in_dq:
            self.pos += 2
            return [Part("quoted", self._ansi())]
        if nxt == '"' and not in_dq:
            self.pos += 2
            return self._lex_dq()
        if src.startswith("$((", self.pos):
            end = self._scan_arith(self.pos + 3)
            if end is not None:
                raw = src[start:end]
                nested = self._scan_expansions(raw[3:-2])
                self.pos = end
                return [Part("arith", raw, nested=nested)]
        if nxt == "(":
            self.pos += 2
            body = self._sub_list("`$(`")
            return [Part("cmdsub", src[start : self.pos], body=body)]
        if nxt == "[":  # legacy $[ arithmetic ]
            end = src.find("]", self.pos)
            if end < 0:
                raise ParseError("unterminated `$[`")
            self.pos = end + 1
            return [Part("arith", src[start : self.pos])]
        if nxt == "{":
            part = self._braced_param()
            part.quoted = in_dq
            return [part]
        m = _PARAM.match(src, self.pos + 1)
        if m:
            self.pos = m.end()
            return [Part("param", src[start : self.pos], name=m.group(), quoted=in_dq)]
        self.pos += 1
        return [Part("quoted" if in_dq else "lit", "$")]

    def _braced_param(self) -> Part:
        src = self.src
        start = self.pos
        self.pos += 2
        nested: list[Part] = []
        while True:
            if self.pos >= self.n:
                raise ParseError("unterminated `${`")
            c = src[self.pos]
            if c == "}":
                self.pos += 1
                break
            if c == "\\":
                self.pos += 2
            elif c == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ParseError("unterminated single quote")
                self.pos = end + 1
            elif c == '"':
                self.pos += 1
                nested.extend(p for p in self._lex_dq() if p.kind not in ("lit", "quoted"))
            elif c == "$":
                nested.extend(p for p in self._lex_dollar(True) if p.kind not in ("lit", "quoted"))
            elif c == "`":
                nested.append(self._backtick(in_dq=True))
            else:
                self.pos += 1
        raw = src[start : self.pos]
        inner = raw[2:-1]
        if (
            _NAME.fullmatch(inner)
            or inner in ("@", "*", "#", "?", "$", "!", "-")
            or inner.isdigit()
        ):
            return Part("param", raw, name=inner)
        m = _NAME.match(inner.lstrip("#!"))
        return Part("xparam", raw, name=m.group() if m else "", nested=nested)

    def _ansi(self) -> str:
        src = self.src
        out: list[str] = []
        while True:
            if self.pos >= self.n:
                raise ParseError("unterminated `$'`")
            c = src[self.pos]
            if c == "'":
                self.pos += 1
                return "".join(out)
            if c != "\\" or self.pos + 1 >= self.n:
                out.append(c)
                self.pos += 1
                continue
            d = src[self.pos + 1]
            self.pos += 2
            if d in _ANSI:
                out.append(_ANSI[d])
            elif d in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[d]
                m = re.match(f"[0-9A-Fa-f]{{1,{width}}}", src[self.pos :])
                if m:
                    out.append(chr(min(int(m.group(), 16), 0x10FFFF)))
                    self.pos += m.end()
                else:
                    out.append("\\" + d)
            elif d in "01234567":
                m = re.match(r"[0-7]{0,2}", src[self.pos :])
                digits = d + (m.group() if m else "")
                self.pos += len(digits) - 1
                out.append(chr(int(digits, 8) & 0xFF))
            elif d == "c" and self.pos < self.n:
                out.append(chr(ord(src[self.pos]) & 0x1F))
                self.pos += 1
            else:
                out.append("\\" + d)

    def _backtick(self, in_dq: bool) -> Part:
        src = self.src
        self.pos += 1
        buf: list[str] = []
        while True:
            if self.pos >= self.n:
                raise ParseError("unterminated backquote")
            c = src[self.pos]
            if c == "\\" and self.pos + 1 < self.n:
                d = src[self.pos + 1]
                if d in "$`\\" or (in_dq and d == '"'):
                    buf.append(d)
                    self.pos += 2
                    continue
            if c == "`":
                self.pos += 1
                break
            buf.append(c)
            self.pos += 1
        code = "".join(buf)
        body = _Parser(code, self.nesting + 1).parse_program()
        return Part("cmdsub", "`" + code + "`", body=body)

    def _procsub(self) -> Part:
        start = self.pos
        proc = self.src[self.pos]
        self.pos += 2
        body = self._sub_list(f"`{proc}(`")
        return Part("procsub", self.src[start : self.pos], body=body, proc=proc)

    def _sub_list(self, what: str) -> ListNode:
        self._enter()
        body = self.parse_list()
        tok = self.next()
        if tok.kind != "op" or tok.value != ")":
            raise ParseError(f"unterminated {what} (found {tok.describe()})")
        self._leave()
        return body

    def _scan_arith(self, i: int) -> int | None:
        """End (after the closing ``))``) of arithmetic starting at ``i``, or None when the
        text is not arithmetic (``$((ls) | wc)`` is a command substitution of a subshell)."""
        src = self.src
        depth = 0
        while i < self.n:
            c = src[i]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    return i + 2 if src.startswith("))", i) else None
                depth -= 1
            elif c in "'\"":
                end = src.find(c, i + 1)
                if end < 0:
                    return None
                i = end
            i += 1
        return None

    def _scan_expansions(self, text: str) -> list[Part]:
        if "$" not in text and "`" not in text:
            return []
        sub = _Parser(text, self.nesting + 1)
        return [p for p in sub._lex_dq(heredoc=True) if p.kind not in ("lit", "quoted")]

    def _read_heredocs(self) -> None:
        src = self.src
        for r in self.pending:
            lines: list[str] = []
            while self.pos < self.n:
                eol = src.find("\n", self.pos)
                line = src[self.pos :] if eol < 0 else src[self.pos : eol]
                self.pos = self.n if eol < 0 else eol + 1
                if r.strip_tabs:
                    line = line.lstrip("\t")
                if line == r.delimiter:
                    break
                lines.append(line)
            r.body = "".join(line + "\n" for line in lines)
            if not r.quoted:
                r.body_parts = self._scan_expansions(r.body)
        self.pending.clear()

    # ---------------------------------------------------------------- grammar

    def parse_program(self) -> ListNode:
        node = self.parse_list()
        tok = self.peek()
        if tok.kind != "eof":
            raise ParseError(f"unexpected {tok.describe()}")
        for r in self.pending:  # a heredoc on the last line, never terminated
            r.body = ""
        self.pending.clear()
        return node

    def skip_newlines(self) -> None:
        while self.peek().kind == "nl":
            self.next()

    def at_list_end(self) -> bool:
        tok = self.peek()
        if tok.kind == "eof":
            return True
        if tok.kind == "op" and tok.value in (")", ";;", ";&", ";;&"):
            return True
        return tok.reserved() in _CLOSERS

    def parse_list(self) -> ListNode:
        items: list[tuple[AndOrNode, bool]] = []
        self.skip_newlines()
        while not self.at_list_end():
            node = self.parse_and_or()
            tok = self.peek()
            background = False
            if tok.kind == "op" and tok.value in (";", "&"):
                self.next()
                background = tok.value == "&"
            elif tok.kind == "nl":
                self.next()
            elif not self.at_list_end():
                raise ParseError(f"unexpected {tok.describe()}")
            items.append((node, background))
            self.skip_newlines()
        return ListNode(items)

    def parse_and_or(self) -> AndOrNode:
        pipelines = [self.parse_pipeline()]
        ops: list[str] = []
        while self.peek().kind == "op" and self.peek().value in ("&&", "||"):
            ops.append(self.next().value)
            self.skip_newlines()
            pipelines.append(self.parse_pipeline())
        return AndOrNode(pipelines, ops)

    def parse_pipeline(self) -> PipelineNode:
        start = self.peek().start
        while True:
            word = self.peek().reserved()
            if word == "!":
                self.next()
            elif word == "time":
                self.next()
                tok = self.peek()
                if tok.kind == "word" and tok.word is not None and tok.word.literal() == "-p":
                    self.next()
            else:
                break
        commands = [self.parse_command()]
        end = self._last_end
        while self.peek().kind == "op" and self.peek().value in ("|", "|&"):
            self.next()
            self.skip_newlines()
            commands.append(self.parse_command())
            end = self._last_end
        return PipelineNode(commands, self.src[start:end])

    _last_end = 0

    def expect_op(self, op: str) -> _Tok:
        tok = self.next()
        if tok.kind != "op" or tok.value != op:
            raise ParseError(f"expected `{op}`, found {tok.describe()}")
        self._last_end = tok.end
        return tok

    def expect_word(self, word: str) -> _Tok:
        tok = self.next()
        if tok.reserved() != word and not (tok.kind == "word" and tok.value == word):
            raise ParseError(f"expected `{word}`, found {tok.describe()}")
        self._last_end = tok.end
        return tok

    def parse_command(self) -> Node:
        self._enter()
        try:
            return self._parse_command()
        finally:
            self._leave()

    def _parse_command(self) -> Node:
        tok = self.peek()
        start = tok.start
        if tok.kind == "op" and tok.value == "(":
            if self.src.startswith("(", tok.end):
                end = self._scan_arith(tok.end + 1)
                if end is not None:
                    self._tok = None
                    self.pos = end
                    raw = self.src[start:end]
                    self._last_end = end
                    nested = self._scan_expansions(raw[2:-2])
                    node = CompoundNode("arith", [], [], [], raw, nested=nested)
                    return self._finish_compound(node, start)
            self.next()
            body = self.parse_list()
            self.expect_op(")")
            return self._finish_compound(CompoundNode("subshell", [body], [], [], ""), start)
        word = tok.reserved()
        if word == "{":
            self.next()
            body = self.parse_list()
            self.expect_word("}")
            return self._finish_compound(CompoundNode("group", [body], [], [], ""), start)
        if word == "if":
            return self._finish_compound(self._parse_if(), start)
        if word in ("while", "until"):
            self.next()
            cond = self.parse_list()
            self.expect_word("do")
            body = self.parse_list()
            self.expect_word("done")
            return self._finish_compound(CompoundNode(word, [cond, body], [], [], ""), start)
        if word in ("for", "select"):
            return self._finish_compound(self._parse_for(word), start)
        if word == "case":
            return self._finish_compound(self._parse_case(), start)
        if word == "function":
            self.next()
            name_tok = self.next()
            if name_tok.kind != "word":
                raise ParseError("expected a function name")
            if self.peek().kind == "op" and self.peek().value == "(":
                self.next()
                self.expect_op(")")
            return self._function(name_tok.value, start)
        if word == "[[":
            self.next()
            words: list[Word] = []
            while True:
                w = self._cond_word()
                if w is None:
                    break
                words.append(w)
            self._last_end = self.pos
            return self._finish_compound(CompoundNode("cond", [], words, [], ""), start)
        if tok.kind in ("word", "redir"):
            return self._parse_simple()
        raise ParseError(f"unexpected {tok.describe()}")

    def _finish_compound(self, node: CompoundNode, start: int) -> CompoundNode:
        while self.peek().kind == "redir":
            node.redirs.append(self._parse_redir(self.next()))
        node.text = self.src[start : self._last_end]
        return node

    def _function(self, name: str, start: int) -> CompoundNode:
        self.skip_newlines()
        body = self.parse_command()
        wrapped = ListNode([(AndOrNode([PipelineNode([body], "")], []), False)])
        return CompoundNode("function", [wrapped], [], [], self.src[start : self._last_end], name)

    def _cond_word(self) -> Word | None:
        """One word of ``[[ … ]]``, where ``<``, ``>``, ``(``, ``&&`` … are operands."""
        self._tok = None
        while True:
            self._skip_blanks()
            if self.pos < self.n and self.src[self.pos] == "\n":
                self.pos += 1
                self._read_heredocs()
                continue
            break
        src = self.src
        if self.pos >= self.n:
            raise ParseError("unterminated `[[`")
        if src.startswith("]]", self.pos) and (
            self.pos + 2 >= self.n or src[self.pos + 2] in _WORD_STOP
        ):
            self.pos += 2
            return None
        for op in ("&&", "||", "(", ")", "<", ">"):
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return Word([Part("lit", op)], op)
        tok = self._word_token(cond=True)
        assert tok.word is not None
        return tok.word

    def _parse_if(self) -> CompoundNode:
        self.next()
        bodies = [self.parse_list()]
        self.expect_word("then")
        bodies.append(self.parse_list())
        while self.peek().reserved() == "elif":
            self.next()
            bodies.append(self.parse_list())
            self.expect_word("then")
            bodies.append(self.parse_list())
        if self.peek().reserved() == "else":
            self.next()
            bodies.append(self.parse_list())
        self.expect_word("fi")
        return CompoundNode("if", bodies, [], [], "")

    def _parse_for(self, kind: str) -> CompoundNode:
        self.next()
        self._skip_blanks()
        nested: list[Part] = []
        name = ""
        words: list[Word] = []
        if self.src.startswith("((", self.pos):
            end = self._scan_arith(self.pos + 2)
            if end is None:
                raise ParseError("unterminated `for ((`")
            nested = self._scan_expansions(self.src[self.pos + 2 : end - 2])
            self.pos = end
        else:
            tok = self.next()
            if tok.kind != "word":
                raise ParseError(f"expected a loop variable, found {tok.describe()}")
            name = tok.value
            self.skip_newlines()
            tok = self.peek()
            if tok.kind == "word" and tok.word is not None and tok.word.literal() == "in":
                self.next()
                while self.peek().kind == "word":
                    w = self.next().word
                    assert w is not None
                    words.append(w)
        tok = self.peek()
        if tok.kind == "op" and tok.value == ";":
            self.next()
        self.skip_newlines()
        if self.peek().reserved() == "{":
            self.next()
            body = self.parse_list()
            self.expect_word("}")
        else:
            self.expect_word("do")
            body = self.parse_list()
            self.expect_word("done")
        return CompoundNode(kind, [body], words, [], "", name=name, nested=nested)

    def _parse_case(self) -> CompoundNode:
        self.next()
        subject = self.next()
        if subject.kind != "word" or subject.word is None:
            raise ParseError("expected a word after `case`")
        words = [subject.word]
        bodies: list[ListNode] = []
        self.skip_newlines()
        self.expect_word("in")
        self.skip_newlines()
        while True:
            tok = self.peek()
            if tok.reserved() == "esac":
                self.next()
                self._last_end = tok.end
                break
            if tok.kind == "op" and tok.value == "(":
                self.next()
            while True:
                pat = self.next()
                if pat.kind != "word" or pat.word is None:
                    raise ParseError(f"expected a case pattern, found {pat.describe()}")
                words.append(pat.word)
                if self.peek().kind == "op" and self.peek().value == "|":
                    self.next()
                    continue
                break
            self.expect_op(")")
            bodies.append(self.parse_list())
            tok = self.peek()
            if tok.kind == "op" and tok.value in (";;", ";&", ";;&"):
                self.next()
                self.skip_newlines()
            elif tok.reserved() != "esac":
                raise ParseError(f"expected `;;` or `esac`, found {tok.describe()}")
        return CompoundNode("case", bodies, words, [], "")

    def _parse_simple(self) -> Node:
        assigns: list[Word] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        start = self.peek().start
        end = start
        while True:
            tok = self.peek()
            if tok.kind == "redir":
                self.next()
                r = self._parse_redir(tok)
                redirs.append(r)
                end = self._last_end
                continue
            if tok.kind != "word" or tok.word is None:
                break
            self.next()
            end = tok.end
            if (
                not words
                and _ASSIGN_PREFIX.match(tok.word.parts[0].text)
                and (tok.word.parts[0].kind == "lit")
            ):
                assigns.append(tok.word)
                continue
            words.append(tok.word)
            nxt = self.peek()
            first = len(words) == 1 and not assigns and not redirs
            if first and nxt.kind == "op" and nxt.value == "(" and _is_function_name(tok.word):
                self.next()
                self.expect_op(")")
                return self._function(tok.value, start)
        self._last_end = end
        if not (assigns or words or redirs):
            raise ParseError(f"unexpected {self.peek().describe()}")
        return SimpleNode(assigns, words, redirs, self.src[start:end])

    def _parse_redir(self, tok: _Tok) -> Redir:
        target = self.next()
        if target.kind != "word" or target.word is None:
            raise ParseError(f"missing target after `{tok.value}`")
        self._last_end = target.end
        r = Redir(tok.value, tok.fd, target.word)
        if tok.value in ("<<", "<<-"):
            r.strip_tabs = tok.value == "<<-"
            r.delimiter = "".join(p.text for p in target.word.parts)
            r.quoted = any(p.kind != "lit" for p in target.word.parts)
            self.pending.append(r)
        return r


def _is_function_name(word: Word) -> bool:
    lit = word.literal()
    return bool(lit) and lit not in _RESERVED and not re.search(r"[=$`'\"\\]", lit or "")


def parse(src: str) -> ListNode:
    """Parse a command line into a syntax tree; raises :class:`ParseError`."""
    try:
        return _Parser(src).parse_program()
    except RecursionError as e:  # pragma: no cover - MAX_NESTING should stop it first
        raise ParseError("nested too deeply") from e


# --------------------------------------------------------------------------- flat commands


@dataclass(frozen=True)
class Redirect:
    """A redirection with its target resolved. For heredocs ``target`` is the delimiter and
    ``body`` the text; for here-strings (``<<<``) ``target`` is the text."""

    op: str
    fd: int | None
    target: str
    kind: str = "static"  # static | param | cmdsub
    body: str | None = None
    quoted: bool = False

    @property
    def is_fd_dup(self) -> bool:
        return self.op in (">&", "<&") and (self.target.isdigit() or self.target == "-")

    @property
    def writes(self) -> bool:
        if self.op in (">", ">>", ">|", "&>", "&>>", "<>"):
            return True
        return self.op == ">&" and not self.is_fd_dup

    @property
    def reads(self) -> bool:
        return self.op in ("<", "<>") or (self.op == "<&" and not self.is_fd_dup)

    @property
    def stdin_text(self) -> str | None:
        """Text fed on stdin by a heredoc or here-string."""
        if self.op in ("<<", "<<-"):
            return self.body or ""
        if self.op == "<<<":
            return self.target
        return None


@dataclass(frozen=True)
class SimpleCommand:
    """One command that would run.

    ``argv`` holds words with quotes removed, known variables substituted and unknown ones left
    as written (``$X``, ``$(…)``); ``kinds[i]`` says whether ``argv[i]`` is fully known
    (``static``), depends on a variable (``param``) or on a command's output (``cmdsub``).
    ``cwd`` is the directory it runs in relative to where the line started (``.``), absolute,
    ``~…``, or None when unknown. ``wrappers`` lists the argv of each wrapper it runs under,
    outermost first; ``extra_args`` means a wrapper (``xargs``, ``find -exec``) appends
    arguments known only at run time. ``via`` names the code strings it came from (``bash -c``).
    A command with an empty ``argv`` is a bare assignment or redirection (``synthetic`` when it
    stands for the redirections of a compound command such as ``{ …; } > f``).
    """

    argv: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    assignments: tuple[tuple[str, str], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    text: str = ""
    cwd: str | None = "."
    wrappers: tuple[tuple[str, ...], ...] = ()
    extra_args: bool = False
    in_substitution: bool = False
    piped_from: bool = False
    piped_into: bool = False
    background: bool = False
    pipes: tuple[tuple[int, int], ...] = ()  # (pipeline id, stage) for each enclosing pipeline
    pipeline_text: str = ""
    function: str | None = None
    via: tuple[str, ...] = ()
    synthetic: bool = False

    @property
    def name(self) -> str:
        return command_name(self.argv[0]) if self.argv else ""


@dataclass
class Flat:
    commands: list[SimpleCommand]
    functions: dict[str, str]  # name -> definition text
    errors: list[str]


@dataclass(frozen=True)
class _Ctx:
    in_substitution: bool = False
    piped_from: bool = False
    piped_into: bool = False
    background: bool = False
    pipes: tuple[tuple[int, int], ...] = ()
    pipeline_text: str = ""
    function: str | None = None
    wrappers: tuple[tuple[str, ...], ...] = ()
    via: tuple[str, ...] = ()
    depth: int = 0


_VERSIONED = re.compile(r"^(python|pypy|pip|perl|ruby|node|php|lua)(\d+(\.\d+)*)?$")
_TOOL_SUFFIX = re.compile(r"^(gcc|g\+\+|cc|c\+\+|clang|clang\+\+|clang-format|clang-tidy)-\d+$")


def command_name(word: str) -> str:
    """The name a command is known by: ``/usr/bin/python3.11`` -> ``python``."""
    name = word.rsplit("/", 1)[-1]
    m = _VERSIONED.match(name)
    if m:
        return m.group(1)
    m = _TOOL_SUFFIX.match(name)
    if m:
        return m.group(1)
    if name.startswith("mkfs."):
        return "mkfs"
    return name


def shell_invocation(argv: tuple[str, ...] | list[str]) -> tuple[str, int | None]:
    """How a shell is asked to get its code: ``("code", i)`` for ``-c`` with the string at
    ``argv[i]`` (None when missing), ``("script", i)`` for a script file, ``("stdin", None)``
    when it reads commands from standard input (no operand, ``-s``, ``-i``)."""
    seen_c = False
    stdin = False
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if a.startswith("--"):
            i += 1
            continue
        if len(a) > 1 and a[0] in "-+":
            seen_c = seen_c or "c" in a[1:]
            stdin = stdin or "s" in a[1:]
            i += 1
            continue
        break
    if seen_c:
        return ("code", i if i < len(argv) else None)
    if stdin or i >= len(argv):
        return ("stdin", None)
    return ("script", i)


# Wrappers: each returns the index in argv of the command it runs, or None when it runs none.

_ASSIGN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _skip(
    argv: list[str],
    i: int,
    short_arg: str = "",
    long_arg: frozenset[str] = frozenset(),
    assigns: bool = False,
    positional: int = 0,
    dash_is_flag: bool = False,
) -> int | None:
    j = i + 1
    n = len(argv)
    while j < n:
        a = argv[j]
        if a == "--":
            j += 1
            break
        if assigns and _ASSIGN_WORD.match(a):
            j += 1
            continue
        if a == "-" and dash_is_flag:
            j += 1
            continue
        if a.startswith("--") and len(a) > 2:
            j += 2 if "=" not in a and a[2:] in long_arg else 1
            continue
        if a.startswith("-") and len(a) > 1:
            rest = a[1:]
            for k, ch in enumerate(rest):
                if ch in short_arg:
                    if k == len(rest) - 1:
                        j += 1
                    break
            j += 1
            continue
        break
    while assigns and j < n and _ASSIGN_WORD.match(argv[j]):
        j += 1
    j += positional
    return j if j < n else None


def _w_env(argv: list[str], i: int) -> int | None:
    if any(
        a == "-S" or a.startswith("--split-string") or re.fullmatch(r"-\w*S.*", a)
        for a in argv[i + 1 : i + 3]
    ):
        return None  # the string is shell-like words: handled as code
    return _skip(argv, i, "uC", frozenset({"unset", "chdir"}), assigns=True, dash_is_flag=True)


def _w_sudo(argv: list[str], i: int) -> int | None:
    for a in argv[i + 1 :]:
        if not a.startswith("-"):
            break
        if a in ("-l", "-v", "-k", "-K", "-e", "-V", "--list", "--validate", "--edit"):
            return None
    return _skip(
        argv,
        i,
        "CDghpRrTtUu",
        frozenset(
            {
                "user",
                "group",
                "host",
                "prompt",
                "role",
                "type",
                "chdir",
                "other-user",
                "close-from",
                "command-timeout",
            }
        ),
        assigns=True,
    )


def _w_command(argv: list[str], i: int) -> int | None:
    for a in argv[i + 1 :]:
        if not a.startswith("-"):
            break
        if "v" in a or "V" in a:
            return None
    return _skip(argv, i)


def _w_run(sub: str, short_arg: str = "", long_arg: frozenset[str] = frozenset()) -> Callable:
    def skip(argv: list[str], i: int) -> int | None:
        j = i + 1
        while j < len(argv) and argv[j].startswith("-"):  # global options before `run`
            j += 1
        if j >= len(argv) or argv[j] != sub:
            return None
        return _skip(argv, j, short_arg, long_arg)

    return skip


_UV_RUN_ARGS = frozenset(
    {
        "with",
        "with-requirements",
        "python",
        "project",
        "directory",
        "package",
        "extra",
        "group",
        "env-file",
        "index",
        "index-url",
        "extra-index-url",
        "from",
        "module",
    }
)

_WRAPPERS: dict[str, Callable[[list[str], int], int | None]] = {
    "env": _w_env,
    "command": _w_command,
    "builtin": lambda a, i: _skip(a, i),
    "exec": lambda a, i: _skip(a, i, "a"),
    "nohup": lambda a, i: _skip(a, i),
    "chronic": lambda a, i: _skip(a, i),
    "unbuffer": lambda a, i: _skip(a, i),
    "time": lambda a, i: _skip(a, i, "fo", frozenset({"format", "output"})),
    "nice": lambda a, i: _skip(a, i, "n", frozenset({"adjustment"})),
    "timeout": lambda a, i: _skip(a, i, "sk", frozenset({"signal", "kill-after"}), positional=1),
    "stdbuf": lambda a, i: _skip(a, i, "ioe", frozenset({"input", "output", "error"})),
    "setsid": lambda a, i: _skip(a, i),
    "ionice": lambda a, i: _skip(a, i, "cn", frozenset({"class", "classdata"})),
    "xargs": lambda a, i: _skip(
        a,
        i,
        "aEdILnPs",
        frozenset(
            {
                "arg-file",
                "delimiter",
                "max-lines",
                "max-args",
                "max-procs",
                "max-chars",
                "process-slot-var",
            }
        ),
    ),
    "sudo": _w_sudo,
    "doas": lambda a, i: _skip(a, i, "Cu"),
    "pkexec": lambda a, i: _skip(a, i, "", frozenset({"user"})),
    "busybox": lambda a, i: i + 1 if i + 1 < len(a) else None,
    "uv": _w_run("run", "p", _UV_RUN_ARGS),
    "poetry": _w_run("run"),
    "pipenv": _w_run("run"),
    "pdm": _w_run("run"),
    "hatch": _w_run("run"),
    "bundle": _w_run("exec"),
    "conda": _w_run("run", "np", frozenset({"name", "prefix"})),
}


class _Flattener:
    def __init__(self, cwd: str | None = ".") -> None:
        self.commands: list[SimpleCommand] = []
        self.functions: dict[str, str] = {}
        self.errors: list[str] = []
        self.vars: dict[str, str] = {}
        self.cwd = cwd
        self._pid = 0

    @contextmanager
    def scope(self) -> Iterator[None]:
        saved = (dict(self.vars), self.cwd)
        try:
            yield
        finally:
            self.vars, self.cwd = saved

    # ---------------------------------------------------------------- tree walk

    def list(self, node: ListNode, ctx: _Ctx) -> None:
        for and_or, background in node.items:
            c = replace(ctx, background=True) if background else ctx
            for p in and_or.pipelines:
                self.pipeline(p, c)

    def pipeline(self, node: PipelineNode, ctx: _Ctx) -> None:
        if len(node.commands) == 1:
            self.node(node.commands[0], ctx)
            return
        self._pid += 1
        pid = self._pid
        last = len(node.commands) - 1
        for i, cmd in enumerate(node.commands):
            c = replace(
                ctx,
                pipes=(*ctx.pipes, (pid, i)),
                pipeline_text=node.text,
                piped_from=ctx.piped_from or i > 0,
                piped_into=ctx.piped_into or i < last,
            )
            with self.scope():  # every stage runs in a subshell
                self.node(cmd, c)

    def node(self, node: Node, ctx: _Ctx) -> None:
        if len(self.commands) > MAX_COMMANDS:
            raise ParseError("too many commands")
        if isinstance(node, SimpleNode):
            self.simple(node, ctx)
        else:
            self.compound(node, ctx)

    def compound(self, node: CompoundNode, ctx: _Ctx) -> None:
        if node.redirs:
            for r in node.redirs:
                self.redir_subs(r, ctx)
            redirects = tuple(self.redirect(r) for r in node.redirs)
            self.add(SimpleCommand((), (), (), redirects, node.text, synthetic=True), ctx)
        for p in node.nested:
            self.part_subs(p, ctx)
        for w in node.words:
            self.word_subs(w, ctx)
        kind = node.kind
        if kind == "subshell":
            with self.scope():
                self.list(node.bodies[0], ctx)
        elif kind in ("group", "if", "while", "until", "case"):
            for body in node.bodies:
                self.list(body, ctx)
        elif kind in ("for", "select"):
            values = [r for w in node.words for r in self.resolve_words(w)]
            literal = all(k == "static" for _, k in values)
            if node.name and values and literal and len(values) <= MAX_LOOP_UNROLL:
                for v, _ in values:
                    self.vars[node.name] = v
                    self.list(node.bodies[0], ctx)
            else:
                self.vars.pop(node.name, None)
                self.list(node.bodies[0], ctx)
        elif kind == "arith":
            self.add(SimpleCommand(("((",), ("static",), text=node.text), ctx)
        elif kind == "cond":
            resolved = [self.resolve(w) for w in node.words]
            argv = ("[[", *(v for v, _ in resolved))
            kinds = ("static", *(k for _, k in resolved))
            self.add(SimpleCommand(argv, kinds, text=node.text), ctx)
        elif kind == "function":
            self.functions[node.name] = node.text
            with self.scope():
                self.list(node.bodies[0], replace(ctx, function=node.name))

    def simple(self, node: SimpleNode, ctx: _Ctx) -> None:
        for w in node.assigns + node.words:
            self.word_subs(w, ctx)
        for r in node.redirs:
            self.redir_subs(r, ctx)
        assigns = [self.assignment(w) for w in node.assigns]
        resolved = [r for w in node.words for r in self.resolve_words(w)]
        redirects = tuple(self.redirect(r) for r in node.redirs)
        if not resolved:
            for name, value, kind in assigns:
                if kind == "static":
                    self.vars[name] = value
                else:
                    self.vars.pop(name, None)
            pairs = tuple((n, v) for n, v, _ in assigns)
            self.add(SimpleCommand((), (), pairs, redirects, node.text), ctx)
            return
        argv = [v for v, _ in resolved]
        kinds = [k for _, k in resolved]
        self.emit(argv, kinds, [(n, v) for n, v, _ in assigns], redirects, node.text, ctx)

    def emit(
        self,
        argv: list[str],
        kinds: list[str],
        assigns: list[tuple[str, str]],
        redirects: tuple[Redirect, ...],
        text: str,
        ctx: _Ctx,
        extra: bool = False,
    ) -> None:
        wrappers = list(ctx.wrappers)
        i = 0
        while i < len(argv) and kinds[i] == "static":
            name = command_name(argv[i])
            skip = _WRAPPERS.get(name)
            j = skip(argv, i) if skip else None
            if j is None or j >= len(argv):
                break
            if name in ("env", "sudo"):
                assigns += [
                    tuple(a.split("=", 1)) for a in argv[i + 1 : j] if _ASSIGN_WORD.match(a)
                ]
            wrappers.append(tuple(argv[i:j]))
            extra = extra or name == "xargs"
            i = j
        cmd = SimpleCommand(
            tuple(argv[i:]),
            tuple(kinds[i:]),
            tuple(assigns),
            redirects,
            text,
            wrappers=tuple(wrappers),
            extra_args=extra,
        )
        cmd = self.add(cmd, replace(ctx, wrappers=()))
        self.track(cmd)
        self.nested(cmd, ctx)

    def add(self, cmd: SimpleCommand, ctx: _Ctx) -> SimpleCommand:
        cmd = replace(
            cmd,
            cwd=self.cwd,
            wrappers=(*ctx.wrappers, *cmd.wrappers),
            in_substitution=ctx.in_substitution,
            piped_from=ctx.piped_from,
            piped_into=ctx.piped_into,
            background=ctx.background,
            pipes=ctx.pipes,
            pipeline_text=ctx.pipeline_text,
            function=ctx.function,
            via=ctx.via,
        )
        self.commands.append(cmd)
        return cmd

    # ---------------------------------------------------------------- words

    def word_subs(self, word: Word, ctx: _Ctx) -> None:
        for p in word.parts:
            self.part_subs(p, ctx)

    def part_subs(self, part: Part, ctx: _Ctx) -> None:
        if part.body is not None:
            sub = _Ctx(
                in_substitution=True,
                piped_from=part.proc == ">",
                piped_into=part.proc == "<",
                function=ctx.function,
                via=ctx.via,
                depth=ctx.depth,
            )
            with self.scope():
                self.list(part.body, sub)
        for p in part.nested:
            self.part_subs(p, ctx)

    def redir_subs(self, r: Redir, ctx: _Ctx) -> None:
        self.word_subs(r.word, ctx)
        for p in r.body_parts:
            self.part_subs(p, ctx)

    def lookup(self, name: str) -> str | None:
        if name in self.vars:
            return self.vars[name]
        if name == "HOME":
            return "~"
        if name == "TMPDIR":
            return "/tmp"
        if name == "PWD":
            return self.cwd
        return None

    def resolve(self, word: Word) -> tuple[str, str]:
        out: list[str] = []
        kind = "static"
        for p in word.parts:
            if p.kind in ("lit", "quoted"):
                out.append(p.text)
            elif p.kind == "param":
                value = self.lookup(p.name)
                if value is None:
                    out.append(p.text)
                    kind = "param" if kind == "static" else kind
                else:
                    out.append(value)
            elif p.kind in ("cmdsub", "procsub"):
                out.append(p.text)
                kind = "cmdsub"
            else:  # xparam, arith
                out.append(p.text)
                if any(n.kind in ("cmdsub", "procsub") for n in p.nested):
                    kind = "cmdsub"
                elif kind == "static":
                    kind = "param"
        return "".join(out), kind

    def resolve_words(self, word: Word) -> list[tuple[str, str]]:
        """Like :meth:`resolve`, with the word splitting the shell does on an unquoted
        parameter whose value is known: ``x='rm -rf /'; $x`` runs ``rm`` with two arguments."""
        splits = [
            p
            for p in word.parts
            if p.kind == "param" and not p.quoted and re.search(r"\s", self.lookup(p.name) or "")
        ]
        if not splits:
            return [self.resolve(word)]
        words: list[tuple[str, str]] = []
        current: list[Part] = []
        for p in word.parts:
            if p not in splits:
                current.append(p)
                continue
            value = self.lookup(p.name) or ""
            pieces = value.split()
            if value[:1].isspace() and current:
                words.append(self.resolve(Word(current, word.raw)))
                current = []
            for k, piece in enumerate(pieces):
                if k:
                    words.append(self.resolve(Word(current, word.raw)))
                    current = []
                current.append(Part("quoted", piece))
            if value[-1:].isspace() and current:
                words.append(self.resolve(Word(current, word.raw)))
                current = []
        if current:
            words.append(self.resolve(Word(current, word.raw)))
        return words

    def assignment(self, word: Word) -> tuple[str, str, str]:
        first = word.parts[0]
        m = _ASSIGN_PREFIX.match(first.text)
        assert m is not None
        rest = Word([Part("lit", first.text[m.end() :]), *word.parts[1:]], word.raw)
        value, kind = self.resolve(rest)
        name = m.group(1)
        if m.group(2):  # arr[i]=x: the array as a whole is no longer known
            kind = "param"
        if m.group(3):  # +=
            base = self.vars.get(name)
            value, kind = (base + value, kind) if base is not None else (value, "param")
        return name, value, kind

    def redirect(self, r: Redir) -> Redirect:
        target, kind = self.resolve(r.word)
        if r.op in ("<<", "<<-"):
            if any(p.kind in ("cmdsub", "procsub") for p in r.body_parts):
                kind = "cmdsub"
            elif r.body_parts:
                kind = "param"
            else:
                kind = "static"
            return Redirect(r.op, r.fd, r.delimiter, kind, r.body or "", r.quoted)
        return Redirect(r.op, r.fd, target, kind)

    # ---------------------------------------------------------------- state

    def track(self, cmd: SimpleCommand) -> None:
        """Follow `cd` and variable assignments the way the shell would."""
        name = cmd.name
        args = list(zip(cmd.argv[1:], cmd.kinds[1:], strict=True))
        if name in ("cd", "pushd"):
            operands = [(a, k) for a, k in args if not (a.startswith("-") and len(a) > 1)]
            if not operands:
                self.cwd = "~"
            elif operands[0][1] != "static" or operands[0][0] == "-":
                self.cwd = None
            else:
                self.cwd = _join_cwd(self.cwd, operands[0][0])
        elif name == "popd":
            self.cwd = None
        elif name in ("export", "declare", "typeset", "local", "readonly"):
            for a, k in args:
                m = _ASSIGN_PREFIX.match(a)
                if m and not m.group(2) and not m.group(3):
                    if k == "static":
                        self.vars[m.group(1)] = a[m.end() :]
                    else:
                        self.vars.pop(m.group(1), None)
        elif name in ("read", "mapfile", "readarray", "unset", "getopts"):
            for a, _ in args:
                if _NAME.fullmatch(a):
                    self.vars.pop(a, None)

    # ---------------------------------------------------------------- nested code

    def nested(self, cmd: SimpleCommand, ctx: _Ctx) -> None:
        argv = cmd.argv
        if not argv or cmd.kinds[0] != "static":
            return
        name = cmd.name
        code: list[tuple[str, str, bool]] = []  # (source, label, own scope)
        bind: dict[str, str] = {}
        if name in SHELLS:
            how, idx = shell_invocation(argv)
            if how == "code" and idx is not None and cmd.kinds[idx] != "cmdsub":
                code.append((argv[idx], f"{name} -c", True))
                for n, (a, k) in enumerate(zip(argv[idx + 1 :], cmd.kinds[idx + 1 :], strict=True)):
                    if k == "static":
                        bind[str(n)] = a
            elif how == "stdin":
                for r in cmd.redirects:
                    text = r.stdin_text
                    if text is not None and r.kind != "cmdsub":
                        code.append((text, f"{name} {r.op}", True))
        elif name in ("source", ".", "at", "batch") and (
            name in ("at", "batch") or (len(argv) > 1 and argv[1] in ("/dev/stdin", "-"))
        ):
            for r in cmd.redirects:
                text = r.stdin_text
                if text is not None and r.kind != "cmdsub":
                    code.append((text, f"{name} {r.op}", name in ("at", "batch")))
        elif name == "eval" and len(argv) > 1 and "cmdsub" not in cmd.kinds[1:]:
            code.append((" ".join(argv[1:]), "eval", False))
        elif name in ("su", "runuser"):
            for k, a in enumerate(argv[1:-1], start=1):
                if a in ("-c", "--command") and cmd.kinds[k + 1] != "cmdsub":
                    code.append((argv[k + 1], f"{name} -c", True))
                elif a.startswith("--command="):
                    code.append((a.split("=", 1)[1], f"{name} -c", True))
        elif name == "env":
            for k, a in enumerate(argv[1:], start=1):
                if a.startswith("--split-string="):
                    code.append(
                        (a.split("=", 1)[1] + " " + " ".join(argv[k + 1 :]), "env -S", True)
                    )
                    break
                if re.fullmatch(r"-\w*S.*", a):
                    rest = a[a.index("S") + 1 :]
                    s = rest if rest else (argv[k + 1] if k + 1 < len(argv) else "")
                    tail = argv[k + 1 :] if rest else argv[k + 2 :]
                    code.append((" ".join([s, *tail]), "env -S", True))
                    break
        elif (
            name == "trap"
            and len(argv) > 2
            and argv[1] not in ("-", "")
            and cmd.kinds[1] != "cmdsub"
        ):
            if not argv[1].startswith("-"):
                code.append((argv[1], "trap", False))
        elif name == "watch":
            j = _skip(list(argv), 0, "nd", frozenset({"interval", "differences"}))
            if j is not None:
                code.append((" ".join(argv[j:]), "watch", True))
        elif name == "alias":
            for a in argv[1:]:
                if "=" in a:
                    code.append((a.split("=", 1)[1], "alias", True))
        elif name == "find":
            self.find_exec(cmd, ctx)
        for src, label, own_scope in code:
            self.code(src, label, cmd, ctx, own_scope, bind)

    def code(
        self,
        src: str,
        label: str,
        cmd: SimpleCommand,
        ctx: _Ctx,
        own_scope: bool,
        bind: dict[str, str] | None = None,
    ) -> None:
        if ctx.depth >= MAX_CODE_DEPTH:
            self.errors.append(f"{label}: shell code nested more than {MAX_CODE_DEPTH} deep")
            return
        try:
            tree = _Parser(src).parse_program()
        except (ParseError, RecursionError) as e:
            self.errors.append(f"{label}: {e}")
            return
        inner = replace(ctx, wrappers=cmd.wrappers, via=(*ctx.via, label), depth=ctx.depth + 1)
        if own_scope:
            with self.scope():
                self.vars.update(bind or {})
                self.list(tree, inner)
        else:
            self.list(tree, inner)

    def find_exec(self, cmd: SimpleCommand, ctx: _Ctx) -> None:
        argv, kinds = list(cmd.argv), list(cmd.kinds)
        i = 1
        while i < len(argv):
            if argv[i] in ("-exec", "-execdir", "-ok", "-okdir"):
                flag = argv[i]
                j = i + 1
                while j < len(argv) and argv[j] not in (";", "+"):
                    j += 1
                if j > i + 1:
                    inner = replace(ctx, wrappers=(*cmd.wrappers, ("find", flag)))
                    self.emit(argv[i + 1 : j], kinds[i + 1 : j], [], (), cmd.text, inner, True)
                i = j + 1
            else:
                i += 1


def _join_cwd(cwd: str | None, target: str) -> str | None:
    if target.startswith(("/", "~")):
        base = target
    elif cwd is None:
        return None
    else:
        base = posixpath.join(cwd, target)
    if base.startswith("~"):
        return home_path(base)
    return posixpath.normpath(re.sub("/+", "/", base))


def home_path(path: str) -> str:
    """Normalize a ``~``-relative path: ``~/a/../b`` -> ``~/b``, ``~user/x`` -> ``~/x``."""
    rest = path[1:]
    if not rest.startswith("/"):
        rest = "/" + rest.partition("/")[2]
    norm = posixpath.normpath(re.sub("/+", "/", rest))
    return "~" if norm == "/" else "~" + norm


def split(src: str, cwd: str | None = ".") -> Flat:
    """Parse ``src`` and flatten it into the simple commands it runs.

    Raises :class:`ParseError` when ``src`` itself doesn't parse; code nested in strings that
    doesn't parse is reported in ``Flat.errors`` instead."""
    tree = parse(src)
    flat = _Flattener(cwd)
    try:
        flat.list(tree, _Ctx())
    except RecursionError as e:  # pragma: no cover - depth limits should stop it first
        raise ParseError("nested too deeply") from e
    return Flat(flat.commands, flat.functions, flat.errors)

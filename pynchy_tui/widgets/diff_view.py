"""Provides the diff view: a workspace's patch, syntax-highlighted, one row per line.

It renders only the rows on screen (Textual's line API), and highlights each visible line on
its own with the file's lexer, so a diff of 100,000 lines scrolls as fast as one of ten. Each
file shows at most `per_file` lines until you expand it (Enter on its "more" row, or click).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from pynchy_tui.gitops.diff import DiffSnapshot, FileDiff


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
STATUS_WORD = {"A": "added", "D": "deleted", "R": "renamed", "M": "", "T": "type changed"}


@dataclass(frozen=True)
class Row:
    kind: str  # file | hunk | add | del | ctx | meta | more | load | blank
    file: int
    text: str = ""
    old: int | None = None  # line numbers, for the gutter
    new: int | None = None
    hidden: int = 0


def build_rows(files: tuple[FileDiff, ...], per_file: int | None, expanded: set[str]) -> list[Row]:
    rows: list[Row] = []
    for i, f in enumerate(files):
        if rows:
            rows.append(Row("blank", i))
        rows.append(Row("file", i))
        if f.lines is None:
            rows.append(Row("load", i))
            continue
        limit = None if per_file is None or f.path in expanded else per_file
        old = new = 0
        for n, line in enumerate(f.lines):
            if limit is not None and n >= limit:
                rows.append(Row("more", i, hidden=len(f.lines) - n))
                break
            if line.startswith("@@"):
                m = _HUNK.match(line)
                if m:
                    old, new = int(m.group(1)), int(m.group(2))
                rows.append(Row("hunk", i, line))
            elif line.startswith("+"):
                rows.append(Row("add", i, line[1:], None, new))
                new += 1
            elif line.startswith("-"):
                rows.append(Row("del", i, line[1:], old, None))
                old += 1
            elif line.startswith(" "):
                rows.append(Row("ctx", i, line[1:], old, new))
                old += 1
                new += 1
            else:  # "\ No newline at end of file", "Binary files ... differ"
                rows.append(Row("meta", i, line))
        else:
            shrinkable = per_file is not None and len(f.lines) > per_file
            if limit is None and f.path in expanded and shrinkable:
                rows.append(Row("more", i, hidden=-1))  # "show less"
    return rows


def _lexer_for(path: str) -> Any:
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


class DiffView(ScrollView, can_focus=True):
    """The rows of a diff. `show(snapshot)` replaces them and keeps the scroll position."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--file",
        "diff-view--hunk",
        "diff-view--add",
        "diff-view--del",
        "diff-view--add-mark",
        "diff-view--del-mark",
        "diff-view--gutter",
        "diff-view--meta",
        "diff-view--more",
        "diff-view--cursor",
        "diff-view--uncommitted",
    }
    DEFAULT_CSS = """
    DiffView { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    DiffView > .diff-view--file { background: $panel; text-style: bold; color: $foreground; }
    DiffView > .diff-view--hunk { color: $secondary; }
    DiffView > .diff-view--add { background: $success 14%; }
    DiffView > .diff-view--del { background: $error 14%; }
    DiffView > .diff-view--add-mark { color: $success; text-style: bold; }
    DiffView > .diff-view--del-mark { color: $error; text-style: bold; }
    DiffView > .diff-view--gutter { color: $foreground-muted; }
    DiffView > .diff-view--meta { color: $foreground-muted; text-style: italic; }
    DiffView > .diff-view--more { color: $primary; }
    DiffView > .diff-view--cursor { background: $primary 25%; }
    DiffView > .diff-view--uncommitted { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
        Binding("enter", "toggle", "Expand", show=False),
        Binding("right,l", "scroll_right", "Right", show=False),
        Binding("left,h", "scroll_left", "Left", show=False),
    ]

    class LoadFile(Message):
        """A file whose patch was not read yet (huge diff) wants to be shown."""

        def __init__(self, view: DiffView, path: str) -> None:
            super().__init__()
            self.view = view
            self.path = path

    def __init__(
        self,
        *,
        per_file: int | None = 40,
        numbers: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.per_file = per_file
        self.numbers = numbers
        self.files: tuple[FileDiff, ...] = ()
        self.expanded: set[str] = set()
        self.rows: list[Row] = []
        self.cursor = 0
        self.revision = 0  # bumped by every show(): the benchmark watches it
        self._lexers: dict[int, Any] = {}
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(2048)
        self._token_styles: dict[Any, Style] = {}

    # -- data -----------------------------------------------------------------------------

    def show(self, snapshot: DiffSnapshot | None) -> None:
        files = snapshot.files if snapshot is not None else ()
        self.files = files
        self.expanded &= {f.path for f in files}
        self._lexers.clear()
        self._rebuild()
        self.revision += 1

    def set_file_lines(self, path: str, lines: tuple[str, ...]) -> None:
        self.files = tuple(replace(f, lines=lines) if f.path == path else f for f in self.files)
        self._rebuild()

    def _rebuild(self) -> None:
        self.rows = build_rows(self.files, self.per_file, self.expanded)
        self._cache.clear()
        width = max((len(r.text) for r in self.rows), default=0) + self._gutter_width() + 2
        self.virtual_size = Size(width, len(self.rows))
        self.cursor = min(self.cursor, max(0, len(self.rows) - 1))
        self.refresh()

    def _cursor_valid(self) -> bool:
        return 0 <= self.cursor < len(self.rows) and bool(self.files)

    def row_of_file(self, path: str) -> int | None:
        for n, r in enumerate(self.rows):
            if r.kind == "file" and self.files[r.file].path == path:
                return n
        return None

    def scroll_to_file(self, path: str) -> None:
        n = self.row_of_file(path)
        if n is not None:
            self.cursor = n
            self.scroll_to(y=n, animate=False)
            self._cache.clear()
            self.refresh()

    def plain_lines(self) -> list[str]:
        """The rows as text (tests)."""
        return [self._row_text(r) for r in self.rows]

    # -- keys -----------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._move(self.cursor + step * max(1, self.size.height - 1))

    def action_jump(self, where: int) -> None:
        self._move(0 if where == 0 else len(self.rows) - 1)

    def _move(self, n: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, n))
        top, height = int(self.scroll_offset.y), max(1, self.size.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self._cache.clear()
        self.refresh()

    def action_toggle(self) -> None:
        if not self._cursor_valid():
            return
        self._toggle(self.rows[self.cursor])

    def _toggle(self, row: Row) -> None:
        f = self.files[row.file]
        if row.kind == "load":
            self.post_message(self.LoadFile(self, f.path))
            return
        if row.kind not in ("more", "file"):
            return
        if f.path in self.expanded:
            self.expanded.discard(f.path)
        elif row.kind == "more":
            self.expanded.add(f.path)
        else:
            return
        self._rebuild()
        n = self.row_of_file(f.path)
        if n is not None and self.cursor < n:
            self.cursor = n

    def expand_all(self, on: bool = True) -> None:
        self.expanded = {f.path for f in self.files} if on else set()
        self._rebuild()

    def on_click(self, event: events.Click) -> None:
        n = int(self.scroll_offset.y) + event.y
        if 0 <= n < len(self.rows):
            self.cursor = n
            self._cache.clear()
            self.refresh()
            self._toggle(self.rows[n])

    # -- rendering ------------------------------------------------------------------------

    def _gutter_width(self) -> int:
        return 12 if self.numbers else 2

    def _row_text(self, r: Row) -> str:
        if r.kind == "file":
            return self._file_title(self.files[r.file])
        if r.kind == "more":
            return "  ▴ show less" if r.hidden < 0 else f"  … {r.hidden:,} more lines (Enter)"
        if r.kind == "load":
            return "  the patch of this file is not read yet (Enter reads it)"
        if r.kind == "blank":
            return ""
        mark = {"add": "+", "del": "-", "ctx": " "}.get(r.kind, "")
        return mark + r.text

    def _file_title(self, f: FileDiff) -> str:
        name = f"{f.old_path} → {f.path}" if f.old_path else f.path
        word = STATUS_WORD.get(f.status, "")
        counts = "binary" if f.binary else f"+{f.added} −{f.removed}"
        extra = f" ({word})" if word else ""
        dirty = "  ● uncommitted" if f.uncommitted else ""
        return f"{f.status} {name}{extra}  {counts}{dirty}"

    def _styles(self) -> dict[str, Style]:
        """Backgrounds (translucent in CSS) are blended onto the view's own background;
        the foreground-only styles are partial so they keep the line's background."""
        with_bg = ("file", "add", "del", "cursor")
        return {
            name: self.get_component_rich_style(f"diff-view--{name}", partial=name not in with_bg)
            for name in (
                "file",
                "hunk",
                "add",
                "del",
                "add-mark",
                "del-mark",
                "gutter",
                "meta",
                "more",
                "cursor",
                "uncommitted",
            )
        }

    def _syntax_theme(self) -> Any:
        from rich.syntax import ANSI_DARK, ANSI_LIGHT, ANSISyntaxTheme, PygmentsSyntaxTheme

        theme = self.app.current_theme
        name = theme.name if theme else ""
        dark = theme.dark if theme else True
        if name.startswith("ansi"):
            return ANSISyntaxTheme(ANSI_DARK if dark else ANSI_LIGHT)
        return PygmentsSyntaxTheme("github-dark" if dark else "friendly")

    def _tokens(self, file: int, text: str, theme: Any) -> list[Segment]:
        lexer = self._lexers.get(file)
        if lexer is None:
            lexer = self._lexers[file] = _lexer_for(self.files[file].path)
        out: list[Segment] = []
        for token_type, value in lexer.get_tokens(text):
            if not value:
                continue
            style = self._token_styles.get(token_type)
            if style is None:
                style = self._token_styles[token_type] = theme.get_style_for_token(token_type)
                style = self._token_styles[token_type] = Style(
                    color=style.color, bold=style.bold, italic=style.italic
                )
            out.append(Segment(value.replace("\n", ""), style))
        return out

    def render_line(self, y: int) -> Strip:
        n = int(self.scroll_offset.y) + y
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        key = (n, width, scroll_x, n == self.cursor and self.has_focus, self.app.theme)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.rich_style
        if n >= len(self.rows):
            strip = Strip.blank(width, base)
        else:
            strip = self._render_row(self.rows[n], n, width, scroll_x, base)
        self._cache[key] = strip
        return strip

    def _render_row(self, r: Row, n: int, width: int, scroll_x: int, base: Style) -> Strip:
        st = self._styles()
        line_style = base
        segs: list[Segment] = []
        if r.kind == "file":
            f = self.files[r.file]
            line_style = base + st["file"]
            title = self._file_title(f)
            if f.uncommitted and title.endswith("● uncommitted"):
                head = title[: -len("● uncommitted")]
                segs = [
                    Segment(head, line_style),
                    Segment("● uncommitted", line_style + st["uncommitted"]),
                ]
            else:
                segs = [Segment(title, line_style)]
        elif r.kind in ("more", "load"):
            segs = [Segment(self._row_text(r), base + st["more"])]
        elif r.kind in ("meta", "hunk"):
            segs = [Segment(" " * self._gutter_width(), base)]
            segs.append(Segment(r.text, base + st["meta" if r.kind == "meta" else "hunk"]))
        elif r.kind == "blank":
            segs = []
        else:
            if r.kind == "add":
                line_style = base + st["add"]
            elif r.kind == "del":
                line_style = base + st["del"]
            segs = self._gutter(r, st, line_style)
            text = r.text.expandtabs(4)
            if len(text) > 2000:
                text = text[:2000] + " …"
            for seg in self._tokens(r.file, text, self._syntax_theme()):
                segs.append(Segment(seg.text, line_style + seg.style))
        if n == self.cursor and self.has_focus:
            line_style = line_style + st["cursor"]
            segs = [Segment(s.text, (s.style or base) + st["cursor"]) for s in segs]
        strip = Strip(segs).crop_extend(scroll_x, scroll_x + width, line_style)
        return strip

    def _gutter(self, r: Row, st: dict[str, Style], line_style: Style) -> list[Segment]:
        mark = {"add": "+", "del": "-"}.get(r.kind, " ")
        mark_style = line_style + (
            st["add-mark"]
            if r.kind == "add"
            else st["del-mark"]
            if r.kind == "del"
            else st["gutter"]
        )
        if not self.numbers:
            return [Segment(mark + " ", mark_style)]
        old = "" if r.old is None else str(r.old)
        new = "" if r.new is None else str(r.new)
        return [
            Segment(f"{old:>4} {new:>4}", line_style + st["gutter"]),
            Segment(f" {mark} ", mark_style),
        ]

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

"""Provides ChatMarkdown: Textual's Markdown with bullet lists that cost one widget per item.

Replies are mostly paragraphs and bullet lists. Textual builds each list item from four
widgets (a row, the bullet, a column, the paragraph) and, while a reply streams, removes and
mounts the whole list again on every append. Every frame lays out every mounted widget, so
long lists made streaming frames slow, and keys typed meanwhile waited for them. Here an item
that is a single paragraph is one widget that draws its own bullet, and a growing list
updates its items in place. Items with more inside (a nested list, code) keep Textual's
layout.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Offset, Region
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import Markdown

# Textual exports its block classes from a private module only; pyproject pins textual, and
# tests/snapshots show a change in them.
from textual.widgets._markdown import (
    MarkdownBlock,
    MarkdownBullet,
    MarkdownBulletList,
    MarkdownListItem,
    MarkdownParagraph,
)

BULLET_WIDTH = 2  # Markdown.BULLETS are a symbol and a space


class BulletParagraph(MarkdownParagraph):
    """A list item that is one paragraph: its bullet is drawn in its left padding."""

    COMPONENT_CLASSES = MarkdownParagraph.COMPONENT_CLASSES | {"bullet-paragraph--bullet"}
    DEFAULT_CSS = """
    BulletParagraph { padding-left: 2; }
    BulletParagraph > .bullet-paragraph--bullet { color: $text-primary; }
    BulletParagraph:light > .bullet-paragraph--bullet { color: $text-secondary; }
    """

    bullet = "• "

    @classmethod
    def from_item(cls, item: MarkdownListItem) -> BulletParagraph | None:
        """The item as one widget, or None when it holds more than one paragraph. An empty
        item (a stream cut just after "- ") is an empty paragraph, so the list stays compact."""
        if not item._blocks:
            block = cls(item._markdown, item._token, item.source_range)
            block.bullet = item.bullet
            return block
        if len(item._blocks) != 1 or type(item._blocks[0]) is not MarkdownParagraph:
            return None
        source = item._blocks[0]
        block = cls(source._markdown, source._token, source.source_range)
        block.bullet = item.bullet
        block._inline_token = source._inline_token
        block.set_content(source._content)
        return block

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """Copied text keeps the bullet, as Textual's own list items do."""
        text = super().get_selection(selection)
        if text is None or (selection.start is not None and selection.start != Offset(0, 0)):
            return text
        return f"{self.bullet} {text[0]}", text[1]  # the same spacing as Textual's items

    def update_from(self, other: BulletParagraph) -> None:
        if other.bullet != self.bullet:
            self.bullet = other.bullet
            self.refresh()
        if other._content != self._content:
            self.set_content(other._content)
        self._copy_context(other)
        self.source_range = other.source_range

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if crop.y != 0 or crop.x != 0 or not lines or lines[0].cell_length < BULLET_WIDTH:
            return lines
        first = lines[0]
        head = next(iter(first.crop(0, 1)), None)  # the padding cell: its background
        base = head.style if head is not None else None
        style = (base or Style()) + self.get_component_rich_style(
            "bullet-paragraph--bullet", partial=True
        )
        symbol = Strip([Segment(self.bullet.ljust(BULLET_WIDTH)[:BULLET_WIDTH], style)])
        lines[0] = Strip.join([symbol, first.crop(BULLET_WIDTH, first.cell_length)])
        return lines


class CompactBulletList(MarkdownBulletList):
    """A bullet list whose one-paragraph items are single widgets, updated in place."""

    def compose(self) -> ComposeResult:
        for item in self._blocks:
            if not isinstance(item, MarkdownListItem):
                continue
            compact = BulletParagraph.from_item(item)
            if compact is not None:
                yield compact
            else:
                bullet = MarkdownBullet()
                bullet.symbol = item.bullet
                yield Horizontal(bullet, Vertical(*item._blocks))
        self._blocks.clear()

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        """A streaming reply grew this list: change what changed, mount new items."""
        if isinstance(block, CompactBulletList):
            items = [b for b in block._blocks if isinstance(b, MarkdownListItem)]
            new = [BulletParagraph.from_item(item) for item in items]
            old = list(self.children)
            compact = [c for c in old if isinstance(c, BulletParagraph)]
            if len(compact) == len(old) and len(new) >= len(old) and None not in new:
                fresh = [b for b in new if b is not None]
                for child, latest in zip(compact, fresh, strict=False):
                    child.update_from(latest)
                if len(fresh) > len(compact):
                    await self.mount_all(fresh[len(compact) :])
                self._copy_context(block)
                return
        await super()._update_from_block(block)


class ChatMarkdown(Markdown):
    """Markdown for chat messages (see the module docstring)."""

    BLOCKS = {**Markdown.BLOCKS, "bullet_list_open": CompactBulletList}

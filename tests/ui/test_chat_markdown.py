"""ChatMarkdown's compact bullet lists look like Textual's and stream in place."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Markdown

from pynchy_tui.widgets.chat_markdown import BulletParagraph, ChatMarkdown
from pynchy_tui.widgets.chat_message import ChatMessage

SOURCE = """Intro with **bold** and `code`.

- a first item long enough to wrap around the narrow width of this pane for sure
- second *item*
  - nested one
  - nested two
- third item

```python
x = 1
```

1. ordered
2. list
"""


class One(App[None]):
    def __init__(self, widget: object) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget  # type: ignore[misc]


def screen_text(app: App) -> list[str]:
    return ["".join(seg.text for seg in line) for line in app.screen._compositor.render_strips()]


async def rendered(widget: object) -> tuple[list[str], int]:
    app = One(widget)
    async with app.run_test(size=(50, 24)) as pilot:
        await pilot.pause()
        await pilot.pause()
        return screen_text(app), sum(1 for _ in app.screen.walk_children())


async def test_compact_lists_render_like_textual_with_fewer_widgets() -> None:
    textual_lines, textual_widgets = await rendered(Markdown(SOURCE))
    ours, our_widgets = await rendered(ChatMarkdown(SOURCE))
    assert ours == textual_lines
    assert "  • a first item long enough to wrap" in "\n".join(ours)
    assert our_widgets < textual_widgets


async def test_a_streamed_list_grows_in_place() -> None:
    msg = ChatMessage("assistant")
    app = One(msg)
    items = [f"- item number {i} of the streamed list\n" for i in range(12)]
    async with app.run_test(size=(60, 40)) as pilot:
        await msg.write("Here is the list:\n\n")
        await msg.write(items[0])
        await pilot.pause()
        await pilot.pause()
        first = msg.query_one(BulletParagraph)
        for item in items[1:]:
            # cut just after "- " (an empty item for a moment) and mid-word, as a stream does
            for piece in (item[:2], item[2:9], item[9:]):
                await msg.write(piece)
                await pilot.pause()
        await msg.stop()
        await pilot.pause()
        bullets = list(msg.query(BulletParagraph))
        assert bullets[0] is first  # updated, not removed and mounted again
        assert len(bullets) == 12
        streamed = screen_text(app)
    whole, _ = await rendered(ChatMessage("assistant", "Here is the list:\n\n" + "".join(items)))
    assert [line.rstrip() for line in streamed[:16]] == [line.rstrip() for line in whole[:16]]


async def test_copying_a_compact_list_keeps_its_bullets() -> None:
    source = "- alpha\n- beta\n  - gamma\n"
    copied = []
    for widget in (Markdown(source), ChatMarkdown(source)):
        app = One(widget)
        async with app.run_test(size=(40, 10)) as pilot:
            await pilot.pause()
            widget.text_select_all()
            await pilot.pause()
            copied.append(app.screen.get_selected_text())
    assert copied[1] == copied[0] and "alpha" in copied[1]

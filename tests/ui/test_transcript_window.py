"""The live transcript keeps to the history window: messages beyond it are unmounted from the
top while it follows the latest, and "load earlier" brings back exactly those."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pynchy_tui.host.history import HistoryItem
from pynchy_tui.widgets.chat_message import ChatMessage
from pynchy_tui.widgets.tool_call import ToolCallBlock
from pynchy_tui.widgets.transcript import WINDOW, Transcript
from tests.conftest import account_toml, process_runtime_toml
from tests.ui.conftest import fill_history, ready, send, texts, wait_until


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


def page(n: int) -> list[HistoryItem]:
    return [HistoryItem("assistant", float(i), f"m{i}", message_id=i) for i in range(1, n + 1)]


def mounted(t: Transcript) -> list[str]:
    return [c.text for c in t.query(ChatMessage)]


async def test_adding_beyond_the_window_unmounts_the_oldest() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(page(WINDOW), more=False)
        assert not t.query("#load-earlier")
        await t.add_message("user", "new", message_id=WINDOW + 1)
        await pilot.pause()
        assert len(t.query(ChatMessage)) == WINDOW
        assert mounted(t)[0] == "m2" and mounted(t)[-1] == "new"
        assert t.oldest_id == 2 and t.has_more
        assert t.children[0].id == "load-earlier"


async def test_the_cut_lands_on_a_stored_message() -> None:
    """Tool calls and the unstored text of intermediate steps before the first message kept
    go too: the history page before that message holds them."""
    items = page(WINDOW)
    items[1:1] = [HistoryItem("tool", 1.5, tool="bash", call_id="c1", result="ok")]
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(items, more=False)
        step = await t.add_message("assistant", "let me check")  # not stored: no id
        await pilot.pause()
        # WINDOW + 1 messages: the oldest goes, then the tool call, up to m2.
        assert mounted(t)[0] == "m2"
        assert not t.query(ToolCallBlock) and "c1" not in t._tools
        for _ in range(WINDOW - 1):  # push the unstored step to the top of the window
            await t.add_message("user", "x", message_id=10_000 + len(t.children))
        assert step.is_attached is False  # it could not be the first kept: it went too
        assert t.query(ChatMessage).first().message_id is not None


async def test_reading_back_defers_the_window_until_the_latest() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(page(WINDOW), more=False)
        await pilot.pause()
        t.scroll_home(animate=False)  # as a person scrolling up does: the anchor lets go
        await pilot.pause()
        assert t.reading_back
        for i in range(3):
            await t.add_message("user", f"while reading {i}", message_id=WINDOW + 1 + i)
        await pilot.pause()
        assert mounted(t)[0] == "m1"  # what they are reading stays
        await t.action_jump_latest()
        await pilot.pause()
        assert not t.reading_back
        assert len(t.query(ChatMessage)) == WINDOW and mounted(t)[0] == "m4"


async def test_live_turns_keep_the_window_and_load_earlier_pages_back_exactly(
    make_app, scripted
) -> None:
    server = scripted([[{"text": f"reply {k}"}] for k in range(3)])
    app = make_app(account_toml("local", server) + "[workspaces.alpha]\n" + process_runtime_toml())
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)

        fill_history(app, "alpha", 150)
        screen = app.main_screen
        await screen.select("alpha")
        await wait_until(pilot, lambda: screen.history_shown == "alpha")
        t = screen.transcript
        assert len(t.query(ChatMessage)) == WINDOW
        for k in range(3):
            await send(pilot, f"question {k}")
            await wait_until(pilot, lambda k=k: f"reply {k}" in texts(app))
            stored = lambda: all(m.message_id is not None for m in t.query(ChatMessage))  # noqa: E731
            await wait_until(pilot, stored)
        live = [f"{w} {k}" for k in range(3) for w in ("question", "reply")]
        assert len(t.query(ChatMessage)) == WINDOW
        assert texts(app) == [f"old message {i}" for i in range(56, 150)] + live
        t.query_one("#load-earlier").press()
        await wait_until(pilot, lambda: len(t.query(ChatMessage)) == 156)
        assert texts(app) == [f"old message {i}" for i in range(150)] + live
        await wait_until(pilot, lambda: not t.query("#load-earlier"))  # nothing older left


async def test_the_composer_holds_the_gc_pacer_while_mounted() -> None:
    import gc

    from pynchy_tui.gc_pacer import OFF, PACER
    from pynchy_tui.widgets.composer import Composer

    class ComposerApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Composer()

    before = gc.get_threshold()
    app = ComposerApp()
    async with app.run_test() as pilot:
        assert gc.get_threshold()[2] == OFF  # full collections are the pacer's
        typed_before = PACER.last_input
        await pilot.press("a")
        assert PACER.last_input > typed_before
    assert gc.get_threshold() == before


async def test_typing_holds_the_transcript_still_then_it_follows_again() -> None:
    """hold_follow: a growing reply does not scroll while the person types; at the pause the
    transcript jumps to the latest and follows again. One they scrolled up in is left alone."""
    app = TranscriptApp()
    async with app.run_test(size=(60, 12)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(page(30), more=False)
        await pilot.pause()
        assert t.scroll_y == t.max_scroll_y
        t.hold_follow(True)
        reply = await t.add_message("assistant", "")
        for i in range(10):
            await reply.write(f"line {i}\n\n")
        await pilot.pause()
        await pilot.pause()
        assert t.scroll_y < t.max_scroll_y  # held: the new lines are below the view
        t.hold_follow(False)
        await pilot.pause()
        assert t.scroll_y == t.max_scroll_y
        await reply.write("more\n\n")  # following again
        await pilot.pause()
        await pilot.pause()
        assert t.scroll_y == t.max_scroll_y

        t.hold_follow(True)
        t.release_anchor()  # they scroll up while typing
        t.scroll_to(y=0, animate=False)
        t.hold_follow(False)
        await reply.write("after\n\n")
        await pilot.pause()
        assert t.scroll_y == 0 and t.reading_back  # not yanked back to the latest


async def test_held_transcript_scrolled_back_down_follows_again() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 12)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(page(30), more=False)
        await pilot.pause()
        t.hold_follow(True)
        t.release_anchor()  # up while typing...
        t.scroll_to(y=0, animate=False)
        await pilot.pause()
        t.scroll_end(animate=False)  # ...and back down to the latest
        await pilot.pause()
        t.hold_follow(False)
        reply = await t.add_message("assistant", "")
        for i in range(8):
            await reply.write(f"line {i}\n\n")
        await pilot.pause()
        await pilot.pause()
        assert t.scroll_y == t.max_scroll_y  # following again


async def test_no_trim_while_held_then_trimmed_at_the_pause() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 12)) as pilot:
        t = app.query_one(Transcript)
        await t.show_history(page(WINDOW), more=False)
        await pilot.pause()
        t.hold_follow(True)
        await t.add_message("user", "new", message_id=WINDOW + 1)
        await pilot.pause()
        assert len(t.query(ChatMessage)) == WINDOW + 1  # the view holds still
        t.hold_follow(False)
        await pilot.pause()
        await pilot.pause()
        assert len(t.query(ChatMessage)) == WINDOW and mounted(t)[0] == "m2"

"""The ChannelManager: connects the configured channels to the host, reliably.

- Inbound: each platform message is committed once through `Host.submit` (deduplicated by
  (source, chat, platform message id) in SQLite), then the chat's inbound cursor advances.
  A crash between the two re-fetches the message on restart and the dedupe drops it.
- Outbound: a reply to a channel-triggered turn becomes ledger rows (`state/outbound.py`),
  one per piece of a long reply; a sender task per channel delivers pending rows in order
  per chat, retrying with back-off, and marks each sent with the chat's outbound cursor in
  one transaction. Replies a crash left un-enqueued are enqueued at start.
- Streaming: while a turn streams, one message per chat is edited at most once per
  `edit_interval`; the final text replaces it.
- Connection: each channel has a supervisor that connects with back-off, catches up
  (`fetch_since`) on connect and every `catch_up_interval`, and publishes
  `ChannelStateChanged`.
- Approvals for a channel-triggered turn are also posted to its chat and can be answered
  there ("approve ID" / "deny ID reason"); the first answer wins everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pynchy_tui.channels.base import (
    Channel,
    ChannelError,
    ChannelStateChanged,
    InboundMessage,
    VoiceNote,
    parse_approval_reply,
    split_text,
)
from pynchy_tui.events import (
    AgentDelta,
    ApprovalDecided,
    ApprovalRequested,
    MessageSent,
    Notice,
)
from pynchy_tui.state import outbound
from pynchy_tui.state.db import transaction

if TYPE_CHECKING:
    from pynchy_tui.config.models import ChannelConfig
    from pynchy_tui.host.host import Host

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25  # how often a supervisor looks at its channel's connection


@dataclass
class _Stream:
    """The live preview of one turn's reply in one chat."""

    channel: str
    chat: str
    text: str = ""
    message_id: str | None = None
    sent_len: int = -1
    last_edit: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    closed: bool = False


def source_of(name: str) -> str:
    return f"channel:{name}"


class ChannelManager:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.bus = host.bus
        self.channels: dict[str, Channel] = {}
        self.settings: dict[str, ChannelConfig] = {}
        self.states: dict[str, str] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._wake: dict[str, asyncio.Event] = {}
        self._inbound_lock: dict[str, asyncio.Lock] = {}
        self._streams: dict[tuple[int, str, str], _Stream] = {}
        self._turn_chats: dict[int, list[tuple[str, str]]] = {}
        self._prompts: dict[str, list[tuple[str, str]]] = {}  # approval id -> chats asked
        self._stopping = False
        self._sub: Any = None
        self.delivered = 0  # ledger rows marked sent (bench, tests)
        self._warned: set[tuple[str, str]] = set()

    # -- lifecycle ----------------------------------------------------------------------

    def _factories(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for items in self.host.plugins._collect("pynchy_channels"):
            for f in items:
                out[getattr(f, "type", getattr(f, "__name__", "?"))] = f
        return out

    async def start(self) -> None:
        conf = getattr(self.host.config, "channels", {}) or {}
        if not conf:
            return
        factories = self._factories()
        for name, settings in conf.items():
            if not settings.enabled:
                continue
            factory = factories.get(settings.type)
            if factory is None:
                self._state(name, settings.type, "error", f"no channel type {settings.type!r}")
                self.bus.publish(
                    Notice("warning", f"channel {name}: unknown type {settings.type!r}")
                )
                continue
            try:
                ch = factory(name, settings)
            except Exception as exc:
                log.exception("channel %s could not be created", name)
                self._state(name, settings.type, "error", str(exc))
                self.bus.publish(Notice("warning", f"channel {name} was skipped: {exc}"))
                continue
            self.channels[name] = ch
            self.settings[name] = settings
            self._wake[name] = asyncio.Event()
            self._inbound_lock[name] = asyncio.Lock()
        if not self.channels:
            return
        self._sub = self.bus.subscribe(MessageSent, AgentDelta, ApprovalRequested, ApprovalDecided)
        self._spawn(self._events(), "channels-events")
        await self._store(outbound.prune)  # the ledger keeps what is recent, not everything
        await self._reconcile_outbound()
        for name in self.channels:
            self._spawn(self._supervise(name), f"channel-{name}")
            self._spawn(self._sender(name), f"channel-{name}-sender")

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        """Stop receiving, sending and streaming; never raises."""
        self._stopping = True
        if self._sub is not None:
            self._sub.close()
        # A sender finishes the delivery in hand (send + mark sent), so a clean stop never
        # leaves a delivered row pending (it would be sent again after the restart).
        senders = [t for t in self._tasks if t.get_name().endswith("-sender")]
        for ev in self._wake.values():
            ev.set()
        if senders:
            await asyncio.wait(senders, timeout=5)
        tasks = self._tasks + [s.task for s in self._streams.values() if s.task]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        for name, ch in self.channels.items():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ch.disconnect(), 5)
            if self.states.get(name) != "disconnected":
                self._state(name, ch.type, "disconnected", "pynchy stopped")

    def _state(self, name: str, type_: str, state: str, detail: str = "") -> None:
        self.states[name] = state
        settings = self.settings.get(name)
        chats = list(settings.chats) if settings else []
        self.bus.publish(ChannelStateChanged(name, type_, state, detail, chats))

    def status(self) -> dict[str, str]:
        return dict(self.states)

    # -- connection ---------------------------------------------------------------------

    async def _supervise(self, name: str) -> None:
        ch = self.channels[name]
        settings = self.settings[name]
        delay = 0.2
        while not self._stopping:
            self._state(name, ch.type, "connecting")
            try:
                cursors = await self._store(_cursors, name)
                await ch.connect(lambda m, n=name: self._inbound(n, m), cursors)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("channel %s: connect failed: %s", name, exc)
                self._state(name, ch.type, "error", _short(exc))
                with contextlib.suppress(Exception):
                    await ch.disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.reconnect_max)
                continue
            delay = 0.2
            self._state(name, ch.type, "connected")
            self._wake[name].set()
            next_catch_up = 0.0
            while not self._stopping and ch.connected:
                if time.monotonic() >= next_catch_up:
                    await self._catch_up(name)
                    next_catch_up = time.monotonic() + settings.catch_up_interval
                await asyncio.sleep(WATCH_INTERVAL)
            if self._stopping:
                return
            self._state(name, ch.type, "disconnected", "connection lost; reconnecting")
            with contextlib.suppress(Exception):
                await ch.disconnect()

    async def _catch_up(self, name: str) -> None:
        ch = self.channels[name]
        settings = self.settings[name]
        chats = ["*"] if ch.cursor_scope == "channel" else list(settings.chats)
        recovered = 0
        for chat in chats:
            try:
                inbound_cursor, _ = await self._store(outbound.get_cursor, name, chat)
                missed = await ch.fetch_since(chat, inbound_cursor)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("channel %s: catch-up of %s failed: %s", name, chat, exc)
                continue
            for msg in missed:
                if await self._inbound(name, msg):
                    recovered += 1
        if recovered:
            log.info("channel %s: recovered %d missed message(s)", name, recovered)
            self.bus.publish(
                Notice("info", f"recovered {recovered} missed message(s) from channel {name}")
            )

    # -- inbound ------------------------------------------------------------------------

    async def _inbound(self, name: str, msg: InboundMessage) -> bool:
        """Commit one platform message (once); True when it was new. Raises if the host
        cannot take it now, so the channel does not move past it."""
        async with self._inbound_lock[name]:
            return await self._inbound_locked(name, msg)

    async def _inbound_locked(self, name: str, msg: InboundMessage) -> bool:
        ch = self.channels[name]
        settings = self.settings[name]
        workspace = settings.chats.get(msg.chat)
        if workspace is None:
            log.debug("channel %s: message from unmapped chat %s ignored", name, msg.chat)
            await self._advance(name, ch, msg)
            return False
        if workspace not in self.host._ws:  # never let one bad mapping block the channel
            if (name, workspace) not in self._warned:
                self._warned.add((name, workspace))
                self.bus.publish(
                    Notice(
                        "warning",
                        f"channel {name}: chat {msg.chat} maps to workspace {workspace!r}, "
                        "which does not exist; its messages are ignored",
                    )
                )
            await self._advance(name, ch, msg)
            return False
        trusted = msg.sender in settings.trusted
        if msg.approval is not None or (
            parse_approval_reply(msg.text) and await self._is_approval(workspace, msg.text)
        ):
            if await self._store(_seen, source_of(name), msg.chat, msg.message_id):
                await self._advance(name, ch, msg)
                return False
            if trusted:
                await self._answer_approval(name, workspace, msg)
            else:
                self._enqueue_notice(name, workspace, msg.chat, "Only trusted senders approve.")
            await self._store(_mark_seen, source_of(name), msg.chat, msg.message_id)
            await self._advance(name, ch, msg)
            return False
        if not trusted and settings.untrusted == "ignore":
            log.info("channel %s: untrusted sender %s ignored", name, msg.sender)
            await self._advance(name, ch, msg)
            return False
        if await self._store(_stored, source_of(name), msg.chat, msg.message_id):
            await self._advance(name, ch, msg)
            return False
        text = msg.text
        if msg.voice is not None:
            text = await self._voice_text(name, workspace, msg.voice, msg.text)
        if not text.strip():
            await self._advance(name, ch, msg)
            return False
        await self.host.submit(
            workspace,
            text,
            source=source_of(name),
            chat=msg.chat,
            sender=msg.sender_name or msg.sender,
            trusted=trusted,
            external_id=msg.message_id,
        )
        await self._advance(name, ch, msg)
        with contextlib.suppress(Exception):
            await ch.typing(msg.chat)
        return True

    async def _advance(self, name: str, ch: Channel, msg: InboundMessage) -> None:
        if msg.cursor is None:
            return
        chat = "*" if ch.cursor_scope == "channel" else msg.chat
        await self._store(outbound.set_inbound_cursor, name, chat, msg.cursor)

    async def _voice_text(self, name: str, workspace: str, voice: VoiceNote, caption: str) -> str:
        try:
            data = await self.channels[name].download(voice)
            said = await self._transcribe(name, workspace, voice, data)
            text = f"[Voice: {said.strip()}]"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("channel %s: transcription failed: %s", name, exc)
            text = f"[Voice note: transcription failed ({_short(exc)})]"
        return f"{text}\n{caption}" if caption.strip() else text

    async def _transcribe(self, name: str, workspace: str, voice: VoiceNote, data: bytes) -> str:
        from pynchy_tui.providers.accounts import api_key_for

        settings = self.settings[name]
        account_name = settings.transcription_account or self.host.account_name(workspace)
        account = self.host.config.accounts.get(account_name) if account_name else None
        if account is None or account.provider != "openai":
            raise ChannelError("no OpenAI-compatible account for transcription", retryable=False)
        import openai

        client = openai.AsyncOpenAI(
            api_key=api_key_for(account) or "none",
            base_url=account.base_url,
            max_retries=0,
            timeout=120,
        )
        try:
            result = await client.audio.transcriptions.create(
                model=settings.transcription_model, file=(voice.file_name, data, voice.mime)
            )
        finally:
            await client.close()
        return result.text

    async def _is_approval(self, workspace: str, text: str) -> bool:
        """An "approve ID" reply names a real approval of this workspace (else it is an
        ordinary message that happens to start with such a word)."""
        from pynchy_tui.state import approvals as approvals_table

        parsed = parse_approval_reply(text)
        if parsed is None:
            return False
        row = await self._store(approvals_table.get, parsed[0])
        return bool(row) and row.get("workspace") == workspace

    async def _answer_approval(self, name: str, workspace: str, msg: InboundMessage) -> None:
        if msg.approval is not None:
            approval_id, approved = msg.approval
            reason = None
        else:
            parsed = parse_approval_reply(msg.text)
            assert parsed is not None
            approval_id, approved, reason = parsed
        from pynchy_tui.state import approvals as approvals_table

        row = await self._store(approvals_table.get, approval_id)
        if not row or row.get("workspace") != workspace:
            self._enqueue_notice(name, workspace, msg.chat, f"No approval {approval_id} here.")
            return
        won, _ = await self.host.decide_approval(
            approval_id, approved, by=msg.sender_name or msg.sender, via=source_of(name),
            reason=reason,
        )  # fmt: skip
        if not won:
            self._enqueue_notice(
                name, workspace, msg.chat, f"Approval {approval_id} was already decided."
            )

    # -- outbound -----------------------------------------------------------------------

    async def _events(self) -> None:
        assert self._sub is not None
        async for ev in self._sub:
            try:
                if isinstance(ev, AgentDelta):
                    self._on_delta(ev)
                elif isinstance(ev, MessageSent):
                    await self._on_sent(ev)
                elif isinstance(ev, ApprovalRequested):
                    await self._on_approval(ev)
                elif isinstance(ev, ApprovalDecided):
                    self._on_decided(ev)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("channels: handling %s failed", type(ev).__name__)

    async def _chats_of_turn(self, turn_id: int | None) -> list[tuple[str, str]]:
        if turn_id is None:
            return []
        if turn_id not in self._turn_chats:
            rows = await self._store(_turn_chats, turn_id)
            chats = [(n, c) for n, c in rows if n in self.channels]
            if not chats:
                return []
            self._turn_chats[turn_id] = chats
            if len(self._turn_chats) > 500:
                self._turn_chats.pop(next(iter(self._turn_chats)))
        return self._turn_chats[turn_id]

    def _on_delta(self, ev: AgentDelta) -> None:
        if self._stopping:
            return
        key0 = (ev.turn_id, "", "")
        pending = self._streams.get(key0)
        if pending is None:
            pending = self._streams[key0] = _Stream("", "")
            pending.task = asyncio.create_task(self._stream_turn(ev.turn_id, pending))
        pending.text += ev.text

    async def _stream_turn(self, turn_id: int, acc: _Stream) -> None:
        """Resolve the chats of a streaming turn, then keep their previews current."""
        chats = await self._chats_of_turn(turn_id)
        chats = [
            (n, c)
            for n, c in chats
            if self.settings[n].stream and getattr(self.channels[n], "can_edit", True)
        ]
        streams = []
        for name, chat in chats:
            s = self._streams.setdefault((turn_id, name, chat), _Stream(name, chat))
            streams.append(s)
        if not streams:
            return
        while not acc.closed and not self._stopping:
            for s in streams:
                if s.closed or len(acc.text) == s.sent_len:
                    continue
                interval = self.settings[s.channel].edit_interval
                if time.monotonic() - s.last_edit < interval:
                    continue
                async with s.lock:
                    if s.closed:
                        continue
                    await self._preview(s, acc.text)
            await asyncio.sleep(min(self.settings[s.channel].edit_interval for s in streams) / 2)

    async def _preview(self, s: _Stream, text: str) -> None:
        ch = self.channels[s.channel]
        if not ch.connected:
            return
        shown = text[: ch.max_length - 2].rstrip() + " …"
        try:
            if s.message_id is None:
                s.message_id = await ch.send(s.chat, ch.format(shown))
            else:
                await ch.edit(s.chat, s.message_id, ch.format(shown))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a preview is best effort; the final goes through the ledger
            log.debug("channel %s: stream preview failed: %s", s.channel, exc)
        s.sent_len = len(text)
        s.last_edit = time.monotonic()

    async def _on_sent(self, ev: MessageSent) -> None:
        chats = await self._chats_of_turn(ev.turn_id)
        acc = self._streams.pop((ev.turn_id or -1, "", ""), None)
        if acc is not None:
            acc.closed = True
        if not chats:
            return
        for name, chat in chats:
            await self._enqueue(name, ev.workspace, chat, ev.text, ev.message_id)
            s = self._streams.get((ev.turn_id or -1, name, chat))
            if s is not None:
                s.closed = True

    async def _enqueue(
        self, name: str, workspace: str, chat: str, text: str, message_id: int | None
    ) -> None:
        ch = self.channels[name]
        pieces = split_text(text, ch.max_length)
        ws = self.host._ws.get(workspace)
        if not pieces or ws is None:
            return
        await self._store(_enqueue_pieces, ws.id, name, chat, pieces, message_id)
        self._wake[name].set()

    def _enqueue_notice(self, name: str, workspace: str, chat: str, text: str) -> None:
        task = asyncio.create_task(self._enqueue(name, workspace, chat, text, None))
        self._tasks.append(task)

    async def _reconcile_outbound(self) -> None:
        """Replies committed before a crash whose ledger rows were never written."""
        for ws_id, message_id, text, name, chat in await self._store(_unledgered):
            if name not in self.channels:
                continue
            ws = next((w for w in self.host._ws.values() if w.id == ws_id), None)
            if ws is not None:
                await self._enqueue(name, ws.name, chat, text, message_id)

    async def _sender(self, name: str) -> None:
        ch = self.channels[name]
        settings = self.settings[name]
        wake = self._wake[name]
        retry_at: dict[str, float] = {}
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.5)
            wake.clear()
            if self._stopping:
                return
            if not ch.connected:
                retry_at.clear()  # after a reconnect, try at once
                continue
            rows = await self._store(outbound.pending, name)
            blocked: set[str] = set()
            now = time.monotonic()
            for row in rows:
                if self._stopping:
                    return
                chat = row["chat"]
                if chat in blocked or retry_at.get(chat, 0) > now:
                    blocked.add(chat)
                    continue
                try:
                    external_id = await self._deliver(name, ch, row)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    attempts = row["attempts"] + 1
                    retryable = getattr(exc, "retryable", True)
                    give_up = not retryable or attempts >= settings.max_attempts
                    await self._store(outbound.mark_attempt_failed, row["id"], _short(exc), give_up)
                    if give_up:
                        await self._gave_up(name, row, exc)
                        continue
                    retry_at[chat] = time.monotonic() + min(0.2 * 2 ** min(attempts, 8), 30)
                    blocked.add(chat)
                    continue
                await self._store(outbound.mark_sent, row["id"], external_id)
                self.delivered += 1
                retry_at.pop(chat, None)

    async def _deliver(self, name: str, ch: Channel, row: dict[str, Any]) -> str:
        text = ch.format(row["text"])
        turn_id = await self._store(_turn_of_message, row["message_id"])
        s = self._streams.get((turn_id or -1, name, row["chat"]))
        if s is not None:
            async with s.lock:
                s.closed = True
                if s.message_id is not None:
                    target = s.message_id
                    try:
                        await ch.edit(row["chat"], target, text)
                    except ChannelError as exc:
                        if exc.retryable:
                            raise
                        self._streams.pop((turn_id or -1, name, row["chat"]), None)
                        return await ch.send(row["chat"], text)
                    self._streams.pop((turn_id or -1, name, row["chat"]), None)
                    return target
            self._streams.pop((turn_id or -1, name, row["chat"]), None)
        return await ch.send(row["chat"], text)

    async def _gave_up(self, name: str, row: dict[str, Any], exc: BaseException) -> None:
        text = (
            f"Could not deliver a message to {name} (chat {row['chat']}) after "
            f"{row['attempts'] + 1} attempt(s): {_short(exc)}"
        )
        self.bus.publish(Notice("error", text))
        ws = next((w for w in self.host._ws.values() if w.id == row["workspace_id"]), None)
        if ws is not None:
            with contextlib.suppress(Exception):
                await self.host._post_system(ws.name, text)

    # -- approvals ----------------------------------------------------------------------

    async def _on_approval(self, ev: ApprovalRequested) -> None:
        chats = await self._chats_of_turn(self.host.current_turn(ev.workspace))
        if not chats:
            return
        self._prompts[ev.approval_id] = chats
        text = approval_text(ev)
        for name, chat in chats:
            await self._enqueue(name, ev.workspace, chat, text, None)

    def _on_decided(self, ev: ApprovalDecided) -> None:
        chats = self._prompts.pop(ev.approval_id, None)
        if not chats:
            return
        verdict = {"approved": "approved", "denied": "denied", "expired": "expired"}.get(
            ev.status, ev.status
        )
        for name, chat in chats:
            self._enqueue_notice(
                name, ev.workspace, chat, f"Approval {ev.approval_id} {verdict} by {ev.decided_by}."
            )

    async def _store(self, fn: Any, *args: Any) -> Any:
        store = self.host.store
        if store is None:
            raise ChannelError("the host is stopped")
        return await store.call(fn, *args)


def approval_text(ev: ApprovalRequested) -> str:
    """The approval modal's explanation, as plain text for a chat."""
    args = ev.args
    if ev.tool == "bash" and isinstance(args.get("command"), str):
        what = f"run the command:\n{args['command']}"
    else:
        what = f"call {ev.tool} with {json.dumps(args, ensure_ascii=False)[:1500]}"
    lines = [f"Approval needed · {ev.workspace} wants to {what}", f"Why pynchy asks: {ev.reason}"]
    if ev.rule_id == "taint.trifecta":
        lines.append("This could leak a secret:")
        lines += [f"  untrusted source: {u}" for u in ev.details.get("untrusted", [])]
        lines += [f"  secret read: {s}" for s in ev.details.get("secrets", [])]
    lines.append(f"Reply 'approve {ev.approval_id}' or 'deny {ev.approval_id} <reason>'.")
    return "\n".join(lines)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- SQL helpers (run on the store's writer thread) ----------------------------------------


def _cursors(conn: Any, channel: str) -> dict[str, str | None]:
    rows = conn.execute(
        "SELECT chat, inbound_cursor FROM channel_cursors WHERE channel = ?", (channel,)
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _stored(conn: Any, source: str, chat: str, external_id: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM messages WHERE source = ? AND chat = ? AND external_id = ?",
            (source, chat, external_id),
        ).fetchone()
        is not None
    )


def _seen(conn: Any, source: str, chat: str, external_id: str) -> bool:
    key = f"channel.seen:{source}:{chat}:{external_id}"
    return conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone() is not None


def _mark_seen(conn: Any, source: str, chat: str, external_id: str) -> None:
    key = f"channel.seen:{source}:{chat}:{external_id}"
    conn.execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", (key, str(time.time())))


def _turn_chats(conn: Any, turn_id: int) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT source, chat, MIN(id) FROM messages WHERE turn_id = ? AND direction = 'in'"
        " AND source LIKE 'channel:%' AND chat IS NOT NULL GROUP BY source, chat ORDER BY 3",
        (turn_id,),
    ).fetchall()
    return [(r[0].split(":", 1)[1], r[1]) for r in rows]


def _turn_of_message(conn: Any, message_id: int | None) -> int | None:
    if message_id is None:
        return None
    r = conn.execute("SELECT turn_id FROM messages WHERE id = ?", (message_id,)).fetchone()
    return r[0] if r else None


def _enqueue_pieces(
    conn: Any, ws_id: int, channel: str, chat: str, pieces: list[str], message_id: int | None
) -> None:
    with transaction(conn):
        if message_id is not None:
            exists = conn.execute(
                "SELECT 1 FROM outbound WHERE message_id = ? AND channel = ? AND chat = ?",
                (message_id, channel, chat),
            ).fetchone()
            if exists:
                return
        for piece in pieces:
            outbound.enqueue(conn, ws_id, channel, chat, piece, message_id)


def _unledgered(conn: Any) -> list[tuple[int, int, str, str, str]]:
    since = time.time() - 24 * 3600
    rows = conn.execute(
        "SELECT DISTINCT o.workspace_id, o.id, o.text, i.source, i.chat FROM messages o"
        " JOIN messages i ON i.turn_id = o.turn_id AND i.direction = 'in'"
        " AND i.source LIKE 'channel:%' AND i.chat IS NOT NULL"
        " WHERE o.direction = 'out' AND o.turn_id IS NOT NULL AND o.created_at > ?"
        " AND NOT EXISTS (SELECT 1 FROM outbound x WHERE x.message_id = o.id"
        " AND x.channel = substr(i.source, 9) AND x.chat = i.chat) ORDER BY o.id",
        (since,),
    ).fetchall()
    return [(r[0], r[1], r[2], r[3].split(":", 1)[1], r[4]) for r in rows]

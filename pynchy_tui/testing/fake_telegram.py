"""A local stand-in for the Telegram Bot API, for tests and benches (stdlib only).

It speaks enough of the HTTP Bot API for python-telegram-bot to talk to it: `getMe`,
`getUpdates` (long poll, updates kept until a later offset confirms them), `sendMessage`,
`editMessageText`, `sendChatAction`, `getFile` plus the file download, `answerCallbackQuery`,
`deleteWebhook`, `close`, `logOut`. The person's side is driven from Python
(`post_text`, `post_voice`, `press_button`); `down()` makes every call fail with 502 (and
ends long polls) until `up()`.

    server = FakeTelegramServer().start()
    bot = telegram.Bot("TOKEN", base_url=server.bot_url, base_file_url=server.file_url)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "pynchy", "username": "pynchy_bot"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-reply (stop, outage) is not an error here


class FakeTelegramServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.sent: list[dict[str, Any]] = []  # bot messages: chat_id, message_id, text, edits
        self.files: dict[str, bytes] = {}
        self.actions: list[tuple[int, str]] = []
        self.calls: list[str] = []  # method names, in order
        self.is_up = True
        self.fail_next: dict[str, int] = {}  # method -> how many calls fail with 502
        self._httpd: _Server | None = None
        self._conns: set[socket.socket] = set()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeTelegramServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server((self.host, self._port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.down()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def __enter__(self) -> FakeTelegramServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def bot_url(self) -> str:
        return self.url + "/bot"

    @property
    def file_url(self) -> str:
        return self.url + "/file/bot"

    def down(self) -> None:
        with self.cond:
            self.is_up = False
            self.cond.notify_all()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        with self.cond:
            self.is_up = True
            self.cond.notify_all()

    # -- the person's side ---------------------------------------------------------------

    def _user(self, user_id: int, username: str | None) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": username or str(user_id)} | (
            {"username": username} if username else {}
        )

    def _add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            update["update_id"] = next(self._update_ids)
            self.updates.append(update)
            self.cond.notify_all()
        return update

    def post_text(
        self, chat_id: int, user_id: int, text: str, username: str | None = None
    ) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self._user(user_id, username),
            "text": text,
        }
        return self._add_update({"message": message})

    def post_voice(
        self, chat_id: int, user_id: int, audio: bytes, username: str | None = None
    ) -> dict[str, Any]:
        n = next(self._message_ids)
        file_id = f"voice-{n}"
        self.files[file_id] = audio
        message = {
            "message_id": n,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self._user(user_id, username),
            "voice": {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "duration": 2,
                "mime_type": "audio/ogg",
                "file_size": len(audio),
            },
        }
        return self._add_update({"message": message})

    def press_button(
        self, chat_id: int, user_id: int, message_id: int, data: str, username: str | None = None
    ) -> dict[str, Any]:
        sent = next(m for m in self.sent if m["message_id"] == message_id)
        query = {
            "id": f"cb{next(self._message_ids)}",
            "from": self._user(user_id, username),
            "chat_instance": "ci",
            "data": data,
            "message": self._message(chat_id, sent),
        }
        return self._add_update({"callback_query": query})

    def texts(self, chat_id: int) -> list[str]:
        """What the person now sees from the bot in the chat (edits applied), oldest first."""
        with self.cond:
            return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    # -- the bot API ---------------------------------------------------------------------

    def _message(self, chat_id: int, sent: dict[str, Any]) -> dict[str, Any]:
        msg = {
            "message_id": sent["message_id"],
            "date": sent["date"],
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            "text": sent["text"],
        }
        if sent.get("edits"):
            msg["edit_date"] = int(time.time())
        if sent.get("reply_markup"):
            msg["reply_markup"] = sent["reply_markup"]
        return msg

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(method)
        if self.fail_next.get(method):
            self.fail_next[method] -= 1
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        m = method.lower()
        if m == "getme":
            return 200, {"ok": True, "result": BOT_USER}
        if m in ("deletewebhook", "close", "logout", "answercallbackquery", "setmycommands"):
            return 200, {"ok": True, "result": True}
        if m == "getupdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        if m == "sendchataction":
            self.actions.append((int(params["chat_id"]), params.get("action", "")))
            return 200, {"ok": True, "result": True}
        if m == "sendmessage":
            text = str(params.get("text", ""))
            if len(text) > 4096:
                return 400, _bad("Bad Request: message is too long")
            chat_id = int(params["chat_id"])
            with self.cond:
                sent = {
                    "chat_id": chat_id,
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "text": text,
                    "parse_mode": params.get("parse_mode"),
                    "edits": [],
                    "reply_markup": _json(params.get("reply_markup")),
                }
                self.sent.append(sent)
            return 200, {"ok": True, "result": self._message(chat_id, sent)}
        if m == "editmessagetext":
            chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
            text = str(params.get("text", ""))
            with self.cond:
                for sent in self.sent:
                    if sent["chat_id"] == chat_id and sent["message_id"] == message_id:
                        if sent["text"] == text:
                            return 400, _bad("Bad Request: message is not modified")
                        sent["text"] = text
                        sent["edits"].append(text)
                        return 200, {"ok": True, "result": self._message(chat_id, sent)}
            return 400, _bad("Bad Request: message to edit not found")
        if m == "getfile":
            file_id = str(params["file_id"])
            if file_id not in self.files:
                return 400, _bad("Bad Request: invalid file_id")
            result = {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"voice/{file_id}.oga",
            }
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        end = time.monotonic() + timeout
        with self.cond:
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while self.is_up:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready:
                    return ready[: int(params.get("limit") or 100)]
                left = end - time.monotonic()
                if left <= 0:
                    return []
                self.cond.wait(left)
        raise ConnectionAbortedError("down")


def _bad(description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": 400, "description": description}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTelegramServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fake._conns.add(self.connection)

    def finish(self) -> None:
        self.fake._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _down(self) -> None:
        body = json.dumps({"ok": False, "error_code": 502, "description": "Bad Gateway"})
        self._reply(502, body.encode())

    def do_GET(self) -> None:
        if not self.fake.is_up:
            return self._down()
        m = re.match(r"^/file/bot[^/]+/voice/(.+)\.oga$", urlsplit(self.path).path)
        if m and m.group(1) in self.fake.files:
            return self._reply(200, self.fake.files[m.group(1)], "audio/ogg")
        path = urlsplit(self.path)
        if path.path.startswith("/bot"):
            return self._method(path.path, {k: v[-1] for k, v in parse_qs(path.query).items()})
        self._reply(404, b"{}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.fake.is_up:
            return self._down()
        ctype = self.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        if "json" in ctype and raw:
            params = json.loads(raw)
        elif "x-www-form-urlencoded" in ctype:
            params = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        elif "multipart/form-data" in ctype:
            params = _multipart(raw, ctype)
        self._method(urlsplit(self.path).path, params)

    def _method(self, path: str, params: dict[str, Any]) -> None:
        m = re.match(r"^/bot[^/]+/(\w+)$", path)
        if not m:
            return self._reply(404, b'{"ok": false, "error_code": 404}')
        try:
            status, body = self.fake.handle(m.group(1), params)
        except ConnectionAbortedError:
            with contextlib.suppress(OSError):
                self._down()
            return
        self._reply(status, json.dumps(body).encode())


def _multipart(raw: bytes, ctype: str) -> dict[str, Any]:
    import email.parser
    import email.policy

    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            out[str(name)] = part.get_content()
    return out

"""A local stand-in for the WhatsApp Cloud API (stdlib only): the Graph API endpoints the
bridge calls (`POST /VERSION/PHONE_ID/messages`, `GET /VERSION/MEDIA_ID`, the media
download), and Meta's side of the webhook: what the person sends is POSTed to the bridge's
webhook (signed with the app secret), in order, and retried until it answers 200, as Meta
does. `down()` makes the Graph API answer 503 and holds webhook deliveries until `up()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeWhatsAppServer:
    def __init__(self, app_secret: str = "", host: str = "127.0.0.1") -> None:
        self.host = host
        self.app_secret = app_secret
        self.webhook_url: str | None = None
        self.sent: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}
        self.is_up = True
        self.deliveries: list[tuple[str, int]] = []  # (wamid, HTTP status or 0)
        self._queue: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._httpd: _Server | None = None
        self._stopping = False

    def start(self) -> FakeWhatsAppServer:
        fake = self

        class Handler(_Handler):
            server_ref = fake

        self._httpd = _Server((self.host, 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        threading.Thread(target=self._deliver_loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with self._cond:
            self._cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def down(self) -> None:
        self.is_up = False

    def up(self) -> None:
        self.is_up = True
        with self._cond:
            self._cond.notify_all()

    # -- the person's side ---------------------------------------------------------------

    def post_text(self, number: str, text: str, name: str = "") -> str:
        return self._post(number, name, {"type": "text", "text": {"body": text}})

    def post_voice(self, number: str, audio: bytes, name: str = "") -> str:
        media_id = f"media{next(self._ids)}"
        self.media[media_id] = audio
        msg = {"type": "audio", "audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus",
                                          "voice": True}}  # fmt: skip
        return self._post(number, name, msg)

    def _post(self, number: str, name: str, body: dict[str, Any]) -> str:
        wamid = f"wamid.{next(self._ids)}"
        message = {"from": number, "id": wamid, "timestamp": str(int(time.time())), **body}
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "PHONE"},
            "contacts": [{"wa_id": number, "profile": {"name": name or number}}],
            "messages": [message],
        }
        change = {"field": "messages", "value": value}
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [change]}],
        }
        with self._cond:
            self._queue.append(payload)
            self._cond.notify_all()
        return wamid

    def texts(self, number: str) -> list[str]:
        return [m["text"] for m in self.sent if m["to"] == number]

    def _deliver_loop(self) -> None:
        """Deliver webhooks in order; retry the head until the bridge answers 200."""
        delay = 0.05
        while not self._stopping:
            with self._cond:
                while not self._stopping and (not self._queue or not self.is_up
                                              or not self.webhook_url):  # fmt: skip
                    self._cond.wait(0.2)
                if self._stopping:
                    return
                payload = self._queue[0]
            body = json.dumps(payload).encode()
            req = urllib.request.Request(
                str(self.webhook_url), data=body, headers={"Content-Type": "application/json"}
            )
            if self.app_secret:
                sig = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
                req.add_header("X-Hub-Signature-256", f"sha256={sig}")
            wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            status = 0
            with contextlib.suppress(urllib.error.URLError, OSError, TimeoutError):
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status = resp.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
            self.deliveries.append((wamid, status))
            if status == 200:
                with self._cond:
                    self._queue.pop(0)
                delay = 0.05
            else:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


class _Handler(BaseHTTPRequestHandler):
    server_ref: FakeWhatsAppServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        fake = self.server_ref
        if not fake.is_up:
            return self._json(503, {"error": {"message": "unavailable"}})
        m = re.match(r"^/v[\d.]+/(media\d+)$", self.path)
        if m and m.group(1) in fake.media:
            return self._json(200, {"url": f"{fake.url}/download/{m.group(1)}",
                                    "mime_type": "audio/ogg", "id": m.group(1)})  # fmt: skip
        m = re.match(r"^/download/(media\d+)$", self.path)
        if m and m.group(1) in fake.media:
            data = fake.media[m.group(1)]
            self.send_response(200)
            self.send_header("Content-Type", "audio/ogg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        fake = self.server_ref
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not fake.is_up:
            return self._json(503, {"error": {"message": "unavailable"}})
        if not re.match(r"^/v[\d.]+/[^/]+/messages$", self.path):
            return self._json(404, {"error": {"message": "not found"}})
        body = json.loads(raw or b"{}")
        if body.get("type") != "text":
            return self._json(400, {"error": {"message": "unsupported"}})
        wamid = f"wamid.out{next(fake._ids)}"
        fake.sent.append({"to": body["to"], "text": body["text"]["body"], "id": wamid})
        return self._json(200, {"messaging_product": "whatsapp",
                                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                "messages": [{"id": wamid}]})  # fmt: skip

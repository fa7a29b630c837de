"""Loopback listeners for the security tests: a thief's server, an internal service, a
redirector, a provider that never answers, one that drips its reply, one whose replies carry
planted markers. Each records what reached it.

    with Listener("thief") as thief:
        ...
        assert thief.requests == []
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    listener: "Listener"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _serve(self):
        listener = self.server.listener
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with listener.lock:
            listener.requests.append(Received(self.command, self.path,
                                              {k.lower(): v for k, v in self.headers.items()}))
        try:
            listener.answer(self)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class Listener:
    """A loopback HTTP server; ``kind`` picks how it answers (see the methods below)."""

    def __init__(self, kind: str = "thief", *, redirect_to: str = "", body: bytes | None = None,
                 status: int = 200, content_type: str = "application/json", drip_seconds: float = 0.3):
        self.kind = kind
        self.redirect_to = redirect_to
        self.body = body if body is not None else json.dumps({"object": "list", "data": []}).encode()
        self.status = status
        self.content_type = content_type
        self.drip_seconds = drip_seconds
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: _Server | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "Listener":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.listener = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ answers
    def answer(self, h: _Handler) -> None:
        if self.kind == "hung":  # reads the request, then never answers
            self.stopping.wait(60)
            return
        if self.kind == "redirect":
            self._send(h, 302, b"", {"Location": self.redirect_to + h.path[len("/v1"):]})
            return
        if self.kind == "drip":  # headers at once, then one byte of a never-ending body at a time
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 1000000\r\n\r\n")
            while not self.stopping.is_set():
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(self.drip_seconds)
            return
        self._send(h, self.status, self.body, {"Content-Type": self.content_type})

    @staticmethod
    def _send(h: _Handler, status: int, body: bytes, headers: dict) -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

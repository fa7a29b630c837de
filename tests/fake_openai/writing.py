"""How the fake writes its answers, as a mixin of ``FakeOpenAI`` (``self`` is the server): JSON with
Content-Length, SSE with chunked framing, and the faults that change the writing (error answers in
the shapes providers and proxies use, slow heads, dripped bodies, cut, dropped and reset connections)."""
from __future__ import annotations

import email.utils
import http
import json
import socket
import struct
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .wire import Fault, Reply, error_body, new_id, sse

if TYPE_CHECKING:
    from .server import _Handler

# What a proxy (nginx) in front of a provider answers when the provider is down or overloaded.
HTML_ERROR_PAGE = ("<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
                   "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
                   "</body>\r\n</html>\r\n")
# A "drip" reply gives up after this long, whoever is still reading.
DRIP_LIMIT = 600.0


class Writing:
    @staticmethod
    def _phrase(status: int) -> str:
        try:
            return http.HTTPStatus(status).phrase
        except ValueError:
            return "Error"

    @classmethod
    def _head(cls, status: int, headers: dict) -> bytes:
        lines = [f"HTTP/1.1 {status} {cls._phrase(status)}", f"x-request-id: {new_id('req_')}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _shaped(self, kind: str) -> Fault | None:
        """The reply fault of this kind that the request being handled took (endpoints, under _lock)."""
        return self._shaping if self._shaping is not None and self._shaping.kind == kind else None

    def _write_head(self, h: _Handler, status: int, headers: dict, writer: Fault | None = None) -> None:
        head = self._head(status, headers)
        if writer is not None and writer.kind == "slow_headers":
            status_line, rest = head.split(b"\r\n", 1)
            h.wfile.write(status_line + b"\r\n")
            self._sleep(writer.seconds)
            head = rest
        h.wfile.write(head)

    def _send_json(self, h: _Handler, status: int, body: Any, headers: dict | None = None,
                   writer: Fault | None = None) -> None:
        data = json.dumps(body).encode()
        if writer is not None and writer.kind == "drip":
            self._write_head(h, status, {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                         **(headers or {})})
            return self._drip(h, data, writer.seconds)
        self._write_head(h, status, {"Content-Type": "application/json", "Content-Length": len(data),
                                     **(headers or {})}, writer)
        h.wfile.write(data)

    def _send_raw(self, h: _Handler, status: int, data: bytes, content_type: str = "application/json",
                  headers: dict | None = None) -> None:
        head = {"Content-Type": content_type, "Content-Length": len(data), **(headers or {})}
        h.wfile.write(self._head(status, head) + data)

    def _drip(self, h: _Handler, data: bytes, seconds: float) -> None:
        """A chunked body one byte every `seconds`, then spaces: never finished (the client leaves,
        the fake stops, or DRIP_LIMIT passes). The connection is closed after it."""
        end = time.monotonic() + DRIP_LIMIT
        index = 0
        while not self._stopping.is_set() and time.monotonic() < end:
            byte = data[index:index + 1] or b" "
            h.wfile.write(b"1\r\n%s\r\n" % byte)
            index += 1
            self._sleep(seconds)
        self._close(h)

    def _answer_fault(self, h: _Handler, fault: Fault) -> None:
        """The answers that replace the endpoint's: error statuses in the shapes providers use."""
        headers = dict(fault.headers)
        kind, status = fault.kind, fault.status
        if kind == "status":
            if fault.retry_after is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}", **headers}
            type_ = ("rate_limit_exceeded" if status == 429 else
                     "server_error" if status >= 500 else "invalid_request_error")
            msg = fault.message or f"Injected fault: HTTP {status}"
            return self._send_json(h, status, error_body(msg, type_, type_), headers)
        if kind == "retry_after_date":
            wait = timedelta(seconds=2 if fault.retry_after is None else fault.retry_after)
            when = email.utils.format_datetime(datetime.now(timezone.utc) + wait, usegmt=True)
            headers = {"Retry-After": when, **headers}
            msg = fault.message or "Rate limit reached. Please try again later."
            body = error_body(msg, "rate_limit_exceeded", "rate_limit_exceeded")
            return self._send_json(h, 429, body, headers)
        if kind == "html_error":
            page = HTML_ERROR_PAGE.format(status=status, phrase=self._phrase(status))
            return self._send_raw(h, status, page.encode(), "text/html", headers)
        if kind == "string_error":
            body = {"error": fault.message or f"Injected fault: HTTP {status}"}
            return self._send_json(h, status, body, headers)
        if kind == "flat_error":
            body = {"object": "error", "message": fault.message or f"Injected fault: HTTP {status}",
                    "type": "BadRequestError" if status < 500 else "InternalServerError", "param": None,
                    "code": status}
            return self._send_json(h, status, body, headers)
        return self._send_raw(h, 200, b"", headers=headers)  # empty_200

    def _close(self, h: _Handler) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reset(self, h: _Handler) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of a FIN: what a load balancer or a crashed
        provider process does."""
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
        except OSError:
            pass

    def _blocking_fault(self, h: _Handler, fault: Fault) -> None:
        if fault.kind == "stall":
            self._sleep(fault.seconds)
        elif fault.kind == "reset":
            return self._reset(h)
        elif fault.kind == "malformed":
            return self._send_raw(h, 200, b"{not json")
        elif fault.kind == "cut":
            h.wfile.write(self._head(200, {"Content-Type": "application/json", "Content-Length": 4096})
                          + b'{"id": "cut-short", "object": ')
        elif fault.kind == "error_event":
            body = error_body(fault.message or "Injected server error", "server_error", "server_error")
            return self._send_json(h, 500, body)
        self._close(h)  # stall / drop / cut: close without a (complete) response

    def _send_stream(self, h: _Handler, reply: Reply, fault: Fault | None,
                     writer: Fault | None = None) -> bool:
        """Write SSE frames with chunked framing; a stream delivered intact commits its state."""
        def chunk(data: bytes) -> None:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        head = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
                "Transfer-Encoding": "chunked", **reply.headers}
        self._write_head(h, 200, head, writer)
        frames = reply.events or []
        if writer is not None and writer.kind == "drip":
            self._drip(h, b"".join(frames), writer.seconds)
            return False
        cut_at = min(max(fault.after_chunks, 0), len(frames) - 1) if fault else len(frames)
        for i, frame in enumerate(frames[:cut_at] if fault else frames[:-1]):
            if i and self.chunk_delay:
                self._sleep(self.chunk_delay)
            chunk(frame)
        if fault is None:  # last frame and terminator in one write: the client may stop reading at [DONE]
            if self.chunk_delay and len(frames) > 1:
                self._sleep(self.chunk_delay)
            # Stored before the last frame leaves: a client that has read the end finds the state in.
            if reply.commit:
                with self._lock:
                    reply.commit()
            last = b"%x\r\n%s\r\n" % (len(frames[-1]), frames[-1]) if frames else b""
            h.wfile.write(last + b"0\r\n\r\n")
            return True
        if fault.kind in ("drop", "stall"):
            if fault.kind == "stall":
                self._sleep(fault.seconds)
            self._close(h)
            return False
        if fault.kind == "reset":
            self._reset(h)
            return False
        if fault.kind == "malformed":
            chunk(b"data: {not json\n\n")
        elif fault.kind == "error_event":
            chunk(self._error_frame(reply.api, fault, cut_at))
        h.wfile.write(b"0\r\n\r\n")  # "cut": a clean end without the finish marker
        return False

    @staticmethod
    def _error_frame(api: str, fault: Fault, seq: int) -> bytes:
        err = {"message": fault.message or "The server had an error while processing your request.",
               "type": "server_error", "param": None, "code": "server_error"}
        if api == "responses":  # documented flat fields + the nested object the live API sends
            flat = {"type": "error", "sequence_number": seq, "code": err["code"], "message": err["message"],
                    "param": None}
            return sse(flat if fault.flat else {**flat, "error": err}, "error")
        return sse({"error": err}, "error" if api == "assistants" else None)

"""A small blocking JSON client over one keep-alive connection (http.client: cheap per request),
for setting things up and for the sequential latency pairs; and the statistics helpers."""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit


class ApiError(RuntimeError):
    pass


class Api:
    def __init__(self, url: str, key: str) -> None:
        split = urlsplit(url)
        self.host, self.port = split.hostname, split.port
        self.prefix = split.path.rstrip("/")  # "/v1" for a provider's base URL
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def send(self, method: str, path: str, body=None) -> http.client.HTTPResponse:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):  # once more on a fresh connection when gunicorn closed an idle one
            try:
                self.conn.request(method, self.prefix + path, data, self.headers)
                return self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body=None, expect: int = 200):
        response = self.send(method, path, body)
        data = response.read()
        if response.status != expect:
            raise ApiError(f"{method} {path} answered {response.status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def stream(self, path: str, body, first_text: bytes = b"event: delta",
               end: bytes = b"event: done") -> tuple[float, float, bytes]:
        """POST an SSE request: (seconds to the first piece holding ``first_text``, seconds to the
        end, body). The defaults are the gateway's events; a provider's are its chunks."""
        t0 = time.perf_counter()
        response = self.send("POST", path, body)
        if response.status != 200:
            raise ApiError(f"POST {path} answered {response.status}: {response.read()[:500]!r}")
        first = None
        parts = []
        while True:
            piece = response.read1(65536)
            if not piece:
                break
            if first is None and first_text in piece:
                first = time.perf_counter() - t0
            parts.append(piece)
        body = b"".join(parts)
        if first is None or end not in body:
            raise ApiError(f"stream without {first_text!r} or {end!r}: {body[:500]!r}")
        return first, time.perf_counter() - t0, body

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linearly interpolated; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float | None, digits: int = 2) -> float | None:
    return None if seconds is None else round(seconds * 1000, digits)


def save_json(path: str | None, data: dict) -> None:
    """Write a run's figures to ``path`` (--output), if one was given."""
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=2)

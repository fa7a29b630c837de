"""The load generator: HTTP/1.1 keep-alive connections on asyncio streams, many at once.

Lean on purpose: on a 2-core machine every microsecond the generator spends is taken from
the server it measures, and a full client (httpx2) costs several times more CPU per request
(bench/README.md). It reads Content-Length and chunked bodies (SSE streams), nothing else."""
from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable


class HTTPClosed(Exception):
    pass


@dataclass
class Reply:
    status: int
    body: bytes
    first_event_at: float | None = None  # perf_counter() when the first SSE event named so arrived

    def json(self):
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; reopened transparently after the server closed it."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None = None, *,
                      first_event: bytes | None = None, until: bytes | None = None) -> Reply:
        """One request. For an SSE reply, `first_event` (e.g. b"event: delta") stamps the time it
        first arrives; `until` (e.g. b"event: done") stops reading once seen."""
        if self.writer is None:
            await self._open()
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n").encode() + (body or b""))
        try:
            return await self._read_reply(first_event, until)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise HTTPClosed(str(exc) or type(exc).__name__) from None
        except BaseException:
            self.close()
            raise

    async def _read_reply(self, first_event: bytes | None, until: bytes | None) -> Reply:
        reader = self.reader
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = None, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        reply = Reply(status, b"")
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data = (await reader.readexactly(size + 2))[:-2]
                parts.append(data)
                if first_event is not None and reply.first_event_at is None and first_event in data:
                    reply.first_event_at = time.perf_counter()
                if until is not None and until in data:
                    close = True  # stop here: the rest (the terminator) is not worth waiting for
                    break
            reply.body = b"".join(parts)
        elif length is not None:
            reply.body = await reader.readexactly(length)
        else:
            reply.body = await reader.read()
            close = True
        if close:
            self.close()
        return reply


@dataclass
class Tally:
    """What a load run measured: latencies of the good replies, and everything that failed."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # exception names, bad statuses, bad bodies
    elapsed: float = 0.0
    generator_cpu: float = 0.0  # CPU seconds the generator itself used

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def completed(self) -> int:
        return len(self.latencies)


RequestFactory = Callable[[int, int], tuple[str, str, bytes | None]]  # (worker, i) -> method, path, body


async def closed_loop(host: str, port: int, headers: dict, make: RequestFactory, *, concurrency: int,
                      duration: float | None = None, rounds: int | None = None, expect: int = 200,
                      check: Callable[[Reply], bool] | None = None, timeout: float = 60.0) -> Tally:
    """`concurrency` clients, each sending its next request as soon as the last one answered,
    for `duration` seconds or `rounds` requests each, whichever is given."""
    tally = Tally()
    started = time.perf_counter()
    cpu_started = time.process_time()
    stop_at = started + duration if duration is not None else None

    async def client(worker: int) -> None:
        conn = Connection(host, port, headers)
        i = 0
        try:
            while (rounds is None or i < rounds) and (stop_at is None or time.perf_counter() < stop_at):
                method, path, body = make(worker, i)
                i += 1
                t0 = time.perf_counter()
                try:
                    reply = await asyncio.wait_for(conn.request(method, path, body), timeout)
                except (HTTPClosed, OSError, asyncio.TimeoutError) as exc:
                    tally.failures[type(exc).__name__] += 1
                    conn.close()
                    continue
                tally.statuses[reply.status] += 1
                if reply.status != expect:
                    tally.failures[f"HTTP {reply.status}"] += 1
                elif check is not None and not check(reply):
                    tally.failures["unexpected body"] += 1
                else:
                    tally.latencies.append(time.perf_counter() - t0)
        finally:
            conn.close()

    await asyncio.gather(*(client(w) for w in range(concurrency)))
    tally.elapsed = time.perf_counter() - started
    tally.generator_cpu = time.process_time() - cpu_started
    return tally


def run(coroutine: Awaitable):
    return asyncio.run(coroutine)

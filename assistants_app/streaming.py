"""Server-sent events, for every API that streams: their framing, the Response, and the rules.

    return streaming.response(sse(data, "delta") for data in ...)

The response holds no database connection while it waits on its client: before each frame goes to the
server, the request's session must have no transaction open (database.assert_released), so a client that
stops reading holds a greenlet and a socket, never one of the pool's connections. When the client goes
away, the server closes the response: the frames' generator is closed where it stood (GeneratorExit),
and its ``finally`` blocks free what it held (a turn's lock, a run's state)."""
import json
from typing import Iterator

from flask import Response, stream_with_context

from .database import assert_released

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: pass each event on at once


def sse(data: dict | str, event: str | None = None) -> str:
    """One event: ``event: <name>`` (if any), then ``data: <JSON>`` (a string goes as it is: [DONE])."""
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def response(frames: Iterator[str]) -> Response:
    """A text/event-stream response of ``frames``, under the rules above."""
    return Response(stream_with_context(_guarded(frames)), mimetype="text/event-stream", headers=HEADERS)


def _guarded(frames: Iterator[str]) -> Iterator[str]:
    try:
        for frame in frames:
            assert_released("while a client reads a stream")
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # a client gone: GeneratorExit in the frames' generator, where it stood

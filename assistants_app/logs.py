"""Structured logs: one JSON line per request. Message content is never logged unless
LOG_CONTENT=true, and secrets never are."""
import json
import logging
import re
import sys
import time
import traceback
import uuid

from flask import current_app, g, request

# A client's X-Request-Id is kept only if it cannot forge a log line or a header.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_log = logging.getLogger("assistants_app.access")
content_log = logging.getLogger("assistants_app.content")


class JsonFormatter(logging.Formatter):
    # An exception's message may quote request data (a value that failed to parse, a row's
    # fields): only its type and stack are logged, unless LOG_CONTENT=true.
    exception_messages = False

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name}
        line.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        if record.exc_info:
            line["exception"] = (self.formatException(record.exc_info) if self.exception_messages
                                 else _stack_without_messages(record.exc_info[1]))
        return json.dumps(line, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is at each record (a test's capture of stderr sees it too)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _stack_without_messages(error: BaseException) -> str:
    parts, seen = [], set()
    while error is not None and id(error) not in seen:  # the chain: cause, or context
        seen.add(id(error))
        kind = type(error)
        parts.append("".join(traceback.format_tb(error.__traceback__))
                     + f"{kind.__module__}.{kind.__qualname__} (message not logged: LOG_CONTENT=false)")
        error = error.__cause__ or error.__context__
    return "\n\nwhich was raised while handling:\n".join(parts)


def log_turn_content(thread_id: str, messages: list, reply: str | None) -> None:
    """A stored turn's messages and reply: only with LOG_CONTENT=true."""
    if current_app.config["LOG_CONTENT"]:
        content_log.info("turn", extra={"fields": {
            "event": "turn", "request_id": g.get("request_id"), "tenant": g.get("tenant"),
            "thread_id": thread_id, "messages": [{"role": m.role, "content": m.content} for m in messages],
            "reply": reply}})


class RequestLog:
    """The Flask extension: one JSON line per request on stderr."""

    def init_app(self, app) -> None:
        _init_app(app)


def _init_app(app) -> None:
    root = logging.getLogger("assistants_app")
    if not any(getattr(h, "assistants_json", False) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.assistants_json = True
        root.addHandler(handler)
    for handler in root.handlers:
        if getattr(handler, "assistants_json", False):
            handler.formatter.exception_messages = app.config["LOG_CONTENT"]
    root.setLevel(app.config["LOG_LEVEL"])
    root.propagate = False  # one JSON line per record: not again through whatever the root logger has

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def log_request(response):
        started = g.get("request_started")
        fields = {
            "request_id": g.get("request_id"),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "tenant": g.get("tenant"),
        }
        response.headers["X-Request-Id"] = g.get("request_id", "")
        access_log.info("request", extra={"fields": fields})
        return response

"""Structured logs: one JSON line per request. Message content is never logged unless
LOG_CONTENT=true, and secrets never are."""
import json
import logging
import sys
import time
import uuid

from flask import g, request

access_log = logging.getLogger("assistants_app.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name}
        line.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def init_app(app) -> None:
    root = logging.getLogger("assistants_app")
    if not any(getattr(h, "assistants_json", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.assistants_json = True
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex

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

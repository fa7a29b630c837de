"""The longest request URL and header field the service reads: past them a request is answered
414 (URI Too Long) or 431 (Request Header Fields Too Large) in the error shape of the API whose
path it is, before anything else reads it.

gunicorn guards first, with larger limits (gunicorn.conf.py: limit_request_line,
limit_request_field_size): what lies between its limit and these reaches the app and gets a JSON
answer a client can read; only what is longer than gunicorn's gets gunicorn's own HTML 414 or 431."""
from flask import jsonify, request

from .errors.shapes import shape_for_path

# The request target (path and query string) as sent: ids are at most 128 characters, so a real
# URL of these APIs is a few hundred bytes at most.
MAX_URL_BYTES = 4096
# One header field, "Name: value" (gunicorn's own default limit: what worked before still does).
MAX_HEADER_BYTES = 8190
SHOWN_NAME = 64  # characters of a header's name an error message repeats


def _target_bytes() -> int:
    """The request target as sent (gunicorn and werkzeug keep it, one character a byte, as RAW_URI)."""
    raw = request.environ.get("RAW_URI")
    return len(raw) if raw is not None else len(request.full_path.encode())


def _too_long():
    """before_request: the 414 or 431 of a request past the limits; None for every other."""
    status = message = None
    if _target_bytes() > MAX_URL_BYTES:
        status, message = 414, f"The request URL is longer than {MAX_URL_BYTES} bytes."
    else:
        for name, value in request.headers.items():
            if len(name) + len(value) + 2 > MAX_HEADER_BYTES:
                status = 431
                message = f"The request header '{name[:SHOWN_NAME]}' is larger than {MAX_HEADER_BYTES} bytes."
                break
    if status is None:
        return None
    response = jsonify(shape_for_path(request.path).body(status, message))
    response.status_code = status
    return response


class RequestLimits:
    """The Flask extension: init_app after the metrics and the request log (a refused request is
    counted and logged), before the rate limits and authentication (nothing reads it before)."""

    def init_app(self, app) -> None:
        app.before_request(_too_long)

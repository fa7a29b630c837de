"""The service's app called in this process as a WSGI callable -- no server, no sockets but the provider's
-- in a tight loop: CPU per request of its hot routes (bench/floor.py runs it; its last line is JSON).

    python -m bench.in_process DATABASE_URL PROVIDER_URL [REQUESTS]

The process is patched by gevent first, as a gunicorn worker is (gunicorn.conf.py), and its app logs and
counts metrics as a worker's does (to /dev/null, into a metrics directory of its own). Each route: a warm-up,
then five blocks of REQUESTS calls (a turn's: a fifth as many), the median block's CPU per call (process
time: the provider's fake is another process, so only the service's own work counts)."""
from gevent import monkey  # noqa: E402  (first, as gunicorn.conf.py patches the master first)

monkey.patch_all()

import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-in-process-metrics-"))

from cryptography.fernet import Fernet  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from assistants_app import create_app  # noqa: E402
from assistants_app.auth import create_api_key  # noqa: E402

from .scenarios import MODEL, NEW_ASSISTANT, STATUS_PATH, TURNS_PER_THREAD  # noqa: E402


class WsgiCaller:
    """Calls the app with a request as gunicorn's worker hands it over (a WSGI environ)."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key

    def __call__(self, method: str, path: str, body=None) -> bytes:
        data = json.dumps(body).encode() if body is not None else b""
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
                   "HTTP_AUTHORIZATION": f"Bearer {self.key}", "wsgi.input": io.BytesIO(data),
                   "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
                   "wsgi.run_once": False, "wsgi.version": (1, 0)}
        if body is not None:
            environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(data)))
        status = []
        answer = self.app(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            reply = b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        if not status[0].startswith("200"):
            raise RuntimeError(f"{method} {path}: {status[0]} {reply[:300]!r}")
        return reply


def cpu_per_call(call, count: int) -> float:
    """Microseconds of this process's CPU per call: the median of five blocks, after a warm-up."""
    for i in range(min(200, count)):
        call(i)
    blocks = []
    for _ in range(5):
        started = time.process_time()
        for i in range(count):
            call(i)
        blocks.append((time.process_time() - started) / count * 1e6)
    return sorted(blocks)[2]


def main(database_url: str, provider_url: str, requests: int) -> dict:
    sys.stderr = open(os.devnull, "w")  # the app's JSON log lines: written, as a worker's are, and dropped
    app = create_app({"DATABASE_URL": database_url, "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
                      "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": provider_url,
                      "PROVIDER_ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": None})
    with app.app_context():
        upgrade()
        key = create_api_key("in-process", "default")[1]
    call = WsgiCaller(app, key)
    agent_id = json.loads(call("POST", "/assistants", NEW_ASSISTANT))["id"]
    thread = {}

    def chat(i: int) -> bytes:
        if i % TURNS_PER_THREAD == 0 or "id" not in thread:  # histories of 0 to 18 messages, as the bench's
            thread["id"] = json.loads(call("POST", "/openai/initialize", {"agent_id": agent_id}))["thread_id"]
        turn = {"agent_id": agent_id, "thread_id": thread["id"], "user_input": f"hi {i}"}
        return call("POST", "/openai/chat", turn)

    agents_body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    routes = {
        "GET /health": (lambda i: call("GET", "/health"), requests),
        "GET /assistants/{id}": (lambda i: call("GET", f"/assistants/{agent_id}"), requests),
        "GET /agents/{id} (status, cached)": (lambda i: call("GET", STATUS_PATH + agent_id), requests),
        "conversations turn (/openai/chat)": (chat, max(10, requests // 5)),
        "agents chat/completions": (lambda i: call("POST", f"{STATUS_PATH}{agent_id}/chat/completions",
                                                   agents_body), max(10, requests // 5)),
    }
    return {name: {"cpu_us": round(cpu_per_call(fn, count)), "requests": count}
            for name, (fn, count) in routes.items()}


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1500)
    sys.stdout.write(json.dumps(result) + "\n")

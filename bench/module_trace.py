"""python -m bench.module_trace: how one streamed request of each API travels through the package --
each time a call goes from one assistants_app module into another is a switch. The table prints the
switches and modules of the request's calls (a generator resumed for the next piece of the stream is
not a new call: each piece goes down and up the same layers once, counted apart as "resumes"), and how
often the pipeline's modules were entered by a call. One app in this process (the Flask test client, so
the whole request runs on this thread), a temporary SQLite database and bench/fake_server.py as the
provider; each request is made once untraced first (imports, caches).

Not a speed figure: it measures the shape of the code (docs/architecture.rst quotes it)."""
from __future__ import annotations

import inspect
import os
import sys
import tempfile
from collections import Counter

from cryptography.fernet import Fernet

from .processes import FakeProvider

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assistants_app") + os.sep
GENERATOR = inspect.CO_GENERATOR
WATCHED = ("services/turns.py", "services/thread_turn.py", "openai_adapter/chat_completions.py",
           "streaming.py")


def traced(request) -> tuple[list[str], int]:
    """The package's modules, in the order calls entered them while ``request()`` ran (repeats collapsed),
    and how many times a generator of the package was resumed."""
    path: list[str] = []
    started: set[int] = set()  # the generator frames already entered once
    resumes = [0]

    def profile(frame, event, _arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if not filename.startswith(PACKAGE):
            return
        if frame.f_code.co_flags & GENERATOR:
            if id(frame) in started:
                resumes[0] += 1
                return
            started.add(id(frame))
        module = filename[len(PACKAGE):]
        if not path or path[-1] != module:
            path.append(module)
    sys.setprofile(profile)
    try:
        request()
    finally:
        sys.setprofile(None)
    return path, resumes[0]


def scenarios(client, auth: dict) -> dict:
    """name -> a function making that API's streamed request (and reading the whole stream)."""
    assistant = client.post("/assistants", headers=auth, json={
        "details": {"name": "trace", "model": "gpt-4", "instructions": "Be brief."}, "type": "CUSTOM"}).json
    thread = client.post("/openai/initialize", headers=auth,
                         json={"agent_id": assistant["id"]}).json["thread_id"]
    v2_assistant = client.post("/v1/assistants", headers=auth, json={"model": "gpt-4"}).json["id"]
    v2_thread = client.post("/v1/threads", headers=auth, json={}).json["id"]
    agents = f"/api/v1/compatibility/openai/v1/agents/{assistant['id']}/chat/completions"

    def read(response):
        body = response.get_data()
        assert response.status_code == 200, body[:300]

    def v2_run():
        read(client.post(f"/v1/threads/{v2_thread}/runs", headers=auth, json={
            "assistant_id": v2_assistant, "stream": True,
            "additional_messages": [{"role": "user", "content": "Hi"}]}))
    return {
        "conversations /openai/chat": lambda: read(client.post("/openai/chat", headers=auth, json={
            "agent_id": assistant["id"], "thread_id": thread, "user_input": "Hi", "stream": True})),
        "agents chat/completions": lambda: read(client.post(agents, headers=auth, json={
            "model": "gpt-4", "messages": [{"role": "user", "content": "Hi"}], "stream": True})),
        "assistants v2 run": v2_run,
        "responses": lambda: read(client.post("/v1/responses", headers=auth, json={
            "model": "gpt-4", "input": "Hi", "stream": True})),
    }


def main() -> None:
    from flask_migrate import upgrade

    from assistants_app import create_app
    from assistants_app.auth import create_api_key

    fake = FakeProvider()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            app = create_app({"DATABASE_URL": f"sqlite:///{workdir}/trace.sqlite3",
                              "OPENAI_API_KEY": "sk-trace",
                              "OPENAI_BASE_URL": fake.base_url, "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
                              "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
                              "LOG_LEVEL": "WARNING"})
            with app.app_context():
                upgrade(directory=os.path.join(PACKAGE, "migrations"))
                key = create_api_key("trace", "default")[1]
            client = app.test_client()
            print(f"{'streamed request':28} {'switches':>8} {'modules':>7} {'resumes':>7}  "
                  + "  ".join(WATCHED))
            for name, request in scenarios(client, {"Authorization": f"Bearer {key}"}).items():
                request()  # warm: imports, prepared statements, the provider's client
                path, resumes = traced(request)
                entered = Counter(path)
                print(f"{name:28} {len(path) - 1:8} {len(entered):7} {resumes:7}  "
                      + "  ".join(f"{entered[module]:>{len(module)}}" for module in WATCHED))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

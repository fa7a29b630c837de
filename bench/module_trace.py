"""python -m bench.module_trace: how one streamed request of each API travels through the package.

A *switch* is a call from one module of the package into another (a call that comes from Flask,
werkzeug or SQLAlchemy -- a hook, a column type's conversion -- is no switch between our modules);
calls that follow one another from a module into the same other module, with no call of the first
into a third between (an object made, then used; three checks in a row), are one *entry* into it.
The request is cut into the phases of a turn, each begun by the pipeline's own landmark:

    request  the hooks, the key, the body's schema, the route (until the pipeline is called)
    start    turns.stream: the budget, the slots, the thread's lock, the history, the turn request
    ask      the adapter is called: the provider asked, its first answer read
    piece    each piece of the stream the server takes (streaming.py's iterator, resumed by the server);
             counted for the worst piece
    record   the reply recorded (ThreadTurn.record, or a stateless turn's)
    finish   the turn's slot and lock given back, the stream closed

and each phase says which modules it entered more than once. "Once per phase" is the pipeline's shape:
each *layer* -- the route, the API's mapping of a turn (services/completions.py, v2's runner and run
events, the Responses run and events), the pipeline (turns.py, thread_turn.py), the adapter (the
openai_adapter package, one layer: a call between its own modules is no switch) and the stream
(streaming.py) -- is entered once and returns; a layer entered twice in a phase calls down and is
called back. A *helper* (every other module: the clock, ids, the database's checks, metrics, usage, the
tenant's limits) may be asked more than once; the table counts those apart.

One app in this process (the Flask test client, so the whole request runs on this thread), a temporary
SQLite database and bench/fake_server.py as the provider; each request is made once untraced first
(imports, caches). The old measure (the path of modules collapsed, returns included, which counts a
module again after each helper it called) is printed beside it as "path" for comparison with earlier
tables. Not a speed figure: it measures the shape of the code (docs/architecture.rst quotes it); it
exits 1 when a layer was entered more than once in a phase (tests/test_bench_smoke.py runs it)."""
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
PHASES = ("request", "start", "ask", "piece", "record", "finish")
# (module, function) whose call begins a phase
LANDMARKS = {("services/turns.py", "stream"): "start",
             ("services/thread_turn.py", "record"): "record", ("services/turns.py", "record"): "record",
             ("services/turns.py", "_finish"): "finish"}
ADAPTER = "openai_adapter/"
STREAM = "streaming.py"  # the response's iterator: the server resumes it for each piece
LAYERS = ("routes/", "services/completions.py", "services/v2/runner.py", "services/v2/run_events.py",
          "services/v2/runs.py", "services/responses/request.py", "services/responses/run.py",
          "services/responses/events.py", "services/turns.py", "services/thread_turn.py", ADAPTER, STREAM)


def _module(code) -> str | None:
    """The unit a function belongs to: its module, or the adapter package as a whole."""
    filename = code.co_filename
    if not filename.startswith(PACKAGE):
        return None
    module = filename[len(PACKAGE):]
    return ADAPTER if module.startswith(ADAPTER) else module


def is_layer(module: str) -> bool:
    return module.startswith(LAYERS)


class Trace:
    """What one request did: the collapsed path (the old measure), and per phase the modules entered
    from another module of the package, with how often."""

    def __init__(self):
        self.path: list[str] = []
        self.resumes = 0
        self.phase = "request"
        self.phases: list[tuple[str, Counter]] = [("request", Counter())]
        self.calls: list[tuple[str, str, str, str]] = []  # (phase, module, caller, function)
        self._started: set[int] = set()
        self._last: dict[str, str] = {}  # a module -> the module it last called into, in this phase

    def _begin(self, phase: str) -> None:
        if phase != self.phase or phase == "piece":
            self.phase, self._last = phase, {}
            self.phases.append((phase, Counter()))

    def profile(self, frame, event, _arg) -> None:
        if event != "call":
            return
        module = _module(frame.f_code)
        if module is None:
            return
        caller = _module(frame.f_back.f_code) if frame.f_back is not None else None
        if frame.f_code.co_flags & GENERATOR:
            if caller is None and module == STREAM:
                self._begin("piece")  # the server asks for the stream's next piece
            if id(frame) in self._started:
                self.resumes += 1
                return
            self._started.add(id(frame))
        landmark = LANDMARKS.get((module, frame.f_code.co_name))
        if landmark:
            self._begin(landmark)  # a phase begun again (finish's second call) is the same phase
        elif module == ADAPTER and caller not in (ADAPTER, None) and self.phase == "start":
            self._begin("ask")
        if not self.path or self.path[-1] != module:
            self.path.append(module)
        if caller is not None and caller != module:
            if self._last.get(caller) != module:  # the caller calling on into the same module: one entry
                self.phases[-1][1][module] += 1
            self._last[caller] = module
            self.calls.append((self.phase, module, caller, frame.f_code.co_name))

    def worst(self, layers: bool) -> dict[str, Counter]:
        """Per phase, the layers (or the helpers) entered more than once (for "piece", in the piece with
        the most)."""
        worst: dict[str, Counter] = {}
        for phase, entered in self.phases:
            again = Counter({module: count for module, count in entered.items()
                             if count > 1 and is_layer(module) == layers})
            if phase not in worst or sum(again.values()) > sum(worst[phase].values()):
                worst[phase] = again
        return worst

    def layers_entered_again(self) -> int:
        return sum(sum(again.values()) for again in self.worst(layers=True).values())


def traced(request) -> Trace:
    trace = Trace()
    sys.setprofile(trace.profile)
    try:
        request()
    finally:
        sys.setprofile(None)
    return trace


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


def report(name: str, trace: Trace) -> str:
    switches = sum(sum(entered.values()) for _, entered in trace.phases)
    modules = len(set(trace.path))
    lines = [f"{name}: {switches} switches, {modules} modules, {len(trace.phases)} phases "
             f"({sum(1 for phase, _ in trace.phases if phase == 'piece')} pieces); "
             f"path {len(trace.path) - 1}, resumes {trace.resumes}"]
    layers, helpers = trace.worst(layers=True), trace.worst(layers=False)
    for phase in PHASES:
        if phase in layers:
            again = ", ".join(f"{module} {count}" for module, count in layers[phase].most_common()) or "none"
            asked = ", ".join(f"{module} {count}" for module, count in helpers[phase].most_common()) or "none"
            lines.append(f"  {phase:8} layers entered more than once: {again}; helpers asked more than once: "
                         f"{asked}")
    return "\n".join(lines)


def main() -> int:
    """Prints each request's trace; exits 1 when a layer was entered more than once in a phase."""
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
            bounced = 0
            for name, request in scenarios(client, {"Authorization": f"Bearer {key}"}).items():
                request()  # warm: imports, prepared statements, the provider's client
                trace = traced(request)
                print(report(name, trace))
                if "--verbose" in sys.argv:
                    for call in trace.calls:
                        print("    {:8} {} <- {}: {}".format(*call))
                bounced += trace.layers_entered_again()
    finally:
        fake.stop()
    return 1 if bounced else 0


if __name__ == "__main__":
    sys.exit(main())

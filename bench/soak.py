"""python -m bench.soak [--output PATH]: a service's long life in minutes (`make soak`; not a test).

Mixed traffic -- assistant CRUD, blocking and streamed turns of every API (the conversations and agents
APIs, Assistants v2 runs in the background and streamed, the Responses API blocking, streamed and in the
background), status lookups, new threads, about 1% of the provider calls failing -- at about SOAK_RATE
requests/s (default 50) for SOAK_SECONDS (default 600) against two gunicorn workers
(tests/live_server.py, as `make run` starts them) on SQLite, then on PostgreSQL when SOAK_DATABASE_URL
names a scratch database. The provider is tests/fake_openai in this process. It passes when:

- no 5xx but the provider faults it injected, mapped (502, 504; or 429 and a stream's error event);
  no request unanswered, nothing else unexpected;
- each worker's RSS grew less than 10 MB from the end of the warm-up (a quarter of the run, at most
  60 s) to the end;
- open file descriptors and database connections stayed flat (at two quiet moments, nothing in
  flight: after the warm-up and at the end), the pools (database, provider keep-alive) within
  their sizes;
- every write the service acknowledged is in the database at the end.
Exit status 1 otherwise."""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cryptography.fernet import Fernet

from tests.fake_openai import FakeOpenAI, Fault
from tests.live_server import LiveServer, rss_mb

from .soak_checks import MAPPED, database_probe, open_descriptors, summarize, verify_writes
from .soak_v1 import V1Operations

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", 600))
RATE = float(os.environ.get("SOAK_RATE", 50))
# How long a quiet moment waits, nothing in flight, before it samples: past gunicorn's keep-alive (5 s), so
# a connection a client left open is closed (the soak's own clients close each one after its answer).
QUIET_SECONDS = float(os.environ.get("SOAK_QUIET_SECONDS", 6))
FAULT_SHARE = 0.01
AGENTS = "/api/v1/compatibility/openai/v1/agents"
# (weight, operation): about a quarter CRUD, half turns of every API, the rest status lookups and new threads.
MIX = [(12, "create"), (10, "read"), (6, "update"), (3, "list_page"), (2, "delete"), (16, "chat"),
       (10, "chat_stream"), (6, "completion"), (4, "completion_stream"), (15, "status"), (7, "initialize"),
       (5, "v2_run"), (4, "v2_stream"), (5, "response"), (4, "response_stream"), (3, "response_background")]
FAULTS = [Fault("status", status=500), Fault("status", status=503),
          Fault("status", status=429, retry_after=1), Fault("drop"), Fault("reset"), Fault("error_event"),
          Fault("cut")]


class Soak(V1Operations):
    def __init__(self, server: LiveServer, fake: FakeOpenAI, seconds: float):
        self.server, self.fake, self.seconds = server, fake, seconds
        self.lock = threading.Lock()
        self.results: list[dict] = []
        self.injected = 0
        self.assistants: dict[str, dict] = {}  # id -> the last acknowledged details
        self.deleted: set[str] = set()
        self.busy: set[str] = set()
        self.free_threads: list[tuple[str, str]] = []  # (thread_id, agent_id) with no turn in flight
        self.replies: list[tuple[str, str, str]] = []  # (thread_id, message_id, text) acknowledged
        self.samples: list[dict] = []
        self.baseline: dict | None = None
        self.end: dict | None = None
        self.in_flight = 0
        self.provider_port = int(fake.base_url.rsplit(":", 1)[1].split("/")[0])
        self.agent_ids = [self.server.request("POST", AGENTS, {"model": "gpt-4"}).body["id"]
                          for _ in range(4)]
        for _ in range(8):
            self.initialize()
        self.v1_setup()

    # ------------------------------------------------------------------ operations
    def call(self, op: str, method: str, path: str, body=None) -> dict:
        reply = self.server.request(method, path, body, timeout=60)
        text = reply.body if isinstance(reply.body, str) else ""
        fault = reply.status in MAPPED or "event: error" in text or '"error": {' in text
        entry = {"op": op, "status": reply.status, "seconds": reply.seconds, "fault": fault,
                 "stream_done": "event: done" in text or "data: [DONE]" in text}
        with self.lock:
            self.results.append(entry)
        return {"reply": reply, **entry}

    def _take(self, pool) -> str | None:
        with self.lock:
            free = [i for i in pool if i not in self.busy]
            if not free:
                return None
            chosen = random.choice(free)
            self.busy.add(chosen)
            return chosen

    def _release(self, object_id: str) -> None:
        with self.lock:
            self.busy.discard(object_id)

    def create(self):
        details = {"model": "gpt-4", "name": f"soak {random.randrange(10**6)}"}
        done = self.call("create", "POST", "/assistants", {"details": details})
        if done["status"] == 200:
            with self.lock:
                self.assistants[done["reply"].body["id"]] = details

    def read(self):
        if (assistant_id := self._take(list(self.assistants))) is not None:
            try:
                self.call("read", "GET", f"/assistants/{assistant_id}")
            finally:
                self._release(assistant_id)

    def update(self):
        if (assistant_id := self._take(list(self.assistants))) is not None:
            try:
                details = {"model": "gpt-4o", "name": f"updated {random.randrange(10**6)}"}
                if self.call("update", "PUT", f"/assistants/{assistant_id}",
                             {"details": details})["status"] == 200:
                    with self.lock:
                        self.assistants[assistant_id] = details
            finally:
                self._release(assistant_id)

    def list_page(self):
        self.call("list_page", "GET", "/assistants?page_size=20")

    def delete(self):
        if (assistant_id := self._take(list(self.assistants))) is not None:
            if self.call("delete", "DELETE", f"/assistants/{assistant_id}")["status"] == 200:
                with self.lock:
                    del self.assistants[assistant_id]
                    self.deleted.add(assistant_id)
            self._release(assistant_id)

    def status(self):
        self.call("status", "GET", f"{AGENTS}/{random.choice(self.agent_ids)}")

    def initialize(self):
        agent_id = random.choice(self.agent_ids)
        done = self.call("initialize", "POST", "/openai/initialize", {"agent_id": agent_id})
        if done["status"] == 200:
            with self.lock:
                self.free_threads.append((done["reply"].body["thread_id"], agent_id))

    def _maybe_fault(self) -> None:
        if random.random() < FAULT_SHARE:
            self.fake.add_fault(random.choice(FAULTS))  # taken by the next chat turn, whichever it is
            with self.lock:
                self.injected += 1

    def chat(self, stream: bool = False):
        with self.lock:
            taken = (self.free_threads.pop(random.randrange(len(self.free_threads)))
                     if self.free_threads else None)
        if taken is None:
            return self.initialize()
        thread_id, agent_id = taken
        self._maybe_fault()
        words = f"soak turn {random.randrange(10**9)}"
        done = self.call("chat_stream" if stream else "chat", "POST", "/openai/chat",
                         {"agent_id": agent_id, "thread_id": thread_id, "user_input": words,
                          "stream": stream})
        message_id = None
        if done["status"] == 200 and not stream:
            message_id = done["reply"].body["message_id"]
        elif done["status"] == 200 and done["stream_done"]:
            final = done["reply"].body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0]
            message_id = json.loads(final)["message_id"]
        with self.lock:
            if message_id:
                self.replies.append((thread_id, message_id, words))
            self.free_threads.append(taken)

    def chat_stream(self):
        self.chat(stream=True)

    def completion(self, stream: bool = False):
        self._maybe_fault()
        self.call("completion_stream" if stream else "completion", "POST",
                  f"{AGENTS}/{random.choice(self.agent_ids)}/chat/completions",
                  {"messages": [{"role": "user", "content": "hello"}], "stream": stream})

    def completion_stream(self):
        self.completion(stream=True)

    # ------------------------------------------------------------------ the run
    def run(self, database, warm_up: float) -> None:
        """The load, open loop (the schedule, not the answers, sets the pace), sampled every 5 s; and
        at two quiet moments -- after the warm-up and at the end, nothing in flight -- the baseline
        and the end state the pass criteria compare."""
        weights, operations = zip(*MIX)
        with ThreadPoolExecutor(max_workers=32) as pool:
            sent, paused, sampled, started = 0, 0.0, 0.0, time.monotonic()
            while (now := time.monotonic() - started - paused) < self.seconds:
                if self.baseline is None and now >= warm_up:
                    quiet_from = time.monotonic()
                    self.baseline = self.quiet_sample(database)
                    paused += time.monotonic() - quiet_from
                elif now >= sampled:
                    self.samples.append(self.sample(database))
                    sampled = now + 5
                elif sent < now * RATE:
                    with self.lock:
                        self.in_flight += 1
                    pool.submit(self._safely, getattr(self, random.choices(operations, weights)[0]))
                    sent += 1
                    if sent % 1000 == 0:
                        with self.fake._lock:
                            self.fake.requests.clear()  # the fake's own log: not the server's memory
                else:
                    time.sleep(min(0.005, 1 / RATE))
        self.end = self.quiet_sample(database)

    def sample(self, database) -> dict:
        row = {"t": time.monotonic(), "rss_mb": {}, "fds": {}, "provider": {}}
        for pid in self.server.worker_pids():
            try:
                row["rss_mb"][pid] = rss_mb(pid)
                row["fds"][pid], row["provider"][pid] = open_descriptors(pid, self.provider_port)
            except OSError:
                pass
        row["db_connections"] = database()
        return row

    def quiet_sample(self, database) -> dict:
        while self.in_flight:
            time.sleep(0.05)
        time.sleep(QUIET_SECONDS)
        return self.sample(database)

    def _safely(self, operation) -> None:
        try:
            operation()
        except Exception as err:  # noqa: BLE001 - an operation that broke counts as unexpected
            with self.lock:
                self.results.append({"op": operation.__name__, "status": -1, "seconds": 0, "fault": False,
                                     "error": repr(err)})
        finally:
            with self.lock:
                self.in_flight -= 1


def soak_database(name: str, url: str, seconds: float, workdir: str) -> dict:
    fake = FakeOpenAI().start()
    fake.delay, fake.chunk_delay = 0.05, 0.01  # turns overlap, streams take a while
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-soak", "OPENAI_TIMEOUT": "10",
           "OPENAI_MAX_RETRIES": "0", "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
           "RATELIMIT_DEFAULT": "1000000000 per minute", "PROVIDER_ALLOWED_HOSTS": "127.0.0.1"}
    server = LiveServer(url, env, workers=2, log_path=os.path.join(workdir, f"gunicorn-{name}.log"))
    try:
        server.start()
        server.wait_for_workers()
        soak = Soak(server, fake, seconds)
        probe = database_probe(url, server)
        soak.run(probe, warm_up=min(60.0, seconds / 4))
        figures = summarize(soak, verify_writes(soak, url))
    finally:
        server.stop()
        fake.stop()
    return {"database": name, "seconds": seconds, "rate": RATE, "workers": 2, **figures}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as workdir:
        databases = [("sqlite", "sqlite:///" + os.path.join(workdir, "soak.sqlite3"))]
        if os.environ.get("SOAK_DATABASE_URL"):
            databases.append(("postgresql", os.environ["SOAK_DATABASE_URL"]))
        for name, url in databases:
            print(f"soak: {name}, {SOAK_SECONDS:.0f} s at {RATE:.0f} requests/s ...", file=sys.stderr,
                  flush=True)
            runs.append(soak_database(name, url, SOAK_SECONDS, workdir))
            print(json.dumps(runs[-1], indent=1), flush=True)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(runs, f, indent=1)
    return 0 if all(run["passed"] for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

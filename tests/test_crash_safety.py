"""Crash safety: kill -9 gunicorn workers of the real service (tests/live_server.py) in the
middle of chat turns and assistant writes. Every write a client was told about is there,
nothing is half-written, the service answers again within seconds, and gunicorn's master frees
the killed turns' locks when their worker dies (a lock of a worker on another host goes stale by time)."""
import os
import signal
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from assistants_app.extensions import db
from assistants_app.models import Assistant, Message, Thread, utcnow

from .helpers import app_on

OPENAI_TIMEOUT = 5  # the live servers' (tests/helpers.py); a turn lock is stale after OPENAI_TIMEOUT + 30 s
STALE_AFTER = OPENAI_TIMEOUT + 30
# A dead worker's turn locks are freed by the master within seconds (the target: 10).
FREED_WITHIN = 10
# However long the service stays down, a client thread gives up after this (the test then fails).
GIVE_UP_AFTER = 60
# Seconds until the service answers again once every worker was killed (a worker's boot imports the
# whole app: about a second; the tests' gunicorns are not measured by coverage, helpers.start_live_server).
BACK_WITHIN = 15
pytestmark = pytest.mark.slow  # a real gunicorn; in the default run too


class Load:
    """Client threads that loop until stopped, logging every request with its reply."""

    def __init__(self, server, agent_id: str, update_ids: list[str], chats: int = 6, creators: int = 2):
        self.server, self.agent_id = server, agent_id
        self.stopping = threading.Event()
        self.log: list[dict] = []
        self._logged = threading.Condition()
        self.threads = [threading.Thread(target=self.chat, args=(k,)) for k in range(chats)]
        self.threads += [threading.Thread(target=self.create, args=(k,)) for k in range(creators)]
        self.threads += [threading.Thread(target=self.update, args=(i,)) for i in update_ids]

    def send(self, kind: str, method: str, path: str, body=None, **facts):
        reply = self.server.request(method, path, body)
        with self._logged:
            self.log.append({"kind": kind, "body": body, "reply": reply, **facts})
            self._logged.notify_all()
        return reply

    def wait_for_answers(self, count: int, timeout: float = 30) -> None:
        """Until `count` more requests have been answered (the load is running), or fail."""
        def answers():
            return len([e for e in self.log if e["reply"].status])

        with self._logged:
            wanted = answers() + count
            answered = self._logged.wait_for(lambda: answers() >= wanted, timeout)
        assert answered, f"fewer than {count} answers in {timeout} s\n{self.server.log_tail()}"

    def new_thread(self) -> str:
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:  # a killed worker may take the request with it: ask again
            reply = self.send("initialize", "POST", "/openai/initialize", {"agent_id": self.agent_id})
            if reply.status == 200:
                return reply.body["thread_id"]
            assert reply.status == 0, reply
        raise AssertionError(f"no thread after {GIVE_UP_AFTER} s\n{self.server.log_tail()}")

    def chat(self, k: int):
        try:
            thread_id, n = self.new_thread(), 0
        except AssertionError:  # the test sees the service down by itself; this thread just stops
            return
        while not self.stopping.is_set():
            text = f"chat {k} turn {n}"
            reply = self.send("chat", "POST", "/openai/chat",
                              {"agent_id": self.agent_id, "thread_id": thread_id, "user_input": text},
                              thread_id=thread_id, text=text)
            n += 1
            if reply.status == 0:  # killed in flight: its lock stays until it expires; go on elsewhere
                try:
                    thread_id = self.new_thread()
                except AssertionError:
                    return

    def create(self, k: int):
        n = 0
        while not self.stopping.is_set():
            body = {"details": {"model": f"created-{k}-{n}", "name": f"creator {k} #{n}"},
                    "iconSrc": f"/images/{k}-{n}.png", "type": "CUSTOM"}
            self.send("create", "POST", "/assistants", body)
            n += 1

    def update(self, assistant_id: str):
        n = 0
        while not self.stopping.is_set():
            body = {"details": {"model": f"updated-{n}", "instructions": f"Version {n}."},
                    "iconSrc": f"/v/{n}.png"}
            self.send("update", "PUT", f"/assistants/{assistant_id}", body, assistant_id=assistant_id)
            n += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def entries(self, kind: str, status: int | None = None) -> list[dict]:
        return [e for e in self.log if e["kind"] == kind and (status is None or e["reply"].status == status)]


@contextmanager
def database(server):
    """A session on the server's database (SQLite: its own file)."""
    with app_on(server.env["DATABASE_URL"]) as app, app.app_context():
        yield db.session


def wait_until_answering(server, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.request("GET", "/health", timeout=timeout).status == 200:
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"no answer {timeout} s after the crash\n{server.log_tail()}")


def assistant_state(assistant) -> dict:
    return {"details": dict(assistant.details), "iconSrc": assistant.icon_src}


def test_kill_9_workers_under_load_loses_no_acknowledged_write(shared_live_server, fake):
    fake.delay = 0.4  # every turn is in flight for 0.4 s
    server = shared_live_server
    agent_id = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}}).body["id"]
    update_ids = [server.request("POST", "/assistants", {"details": {"model": "v0"}}).body["id"]
                  for _ in range(2)]
    figures = {}
    with Load(server, agent_id, update_ids) as load:
        load.wait_for_answers(20)
        # Crash 1: one worker; the other keeps serving while the master replaces it.
        victim = server.worker_pids()[0]
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        figures["answering after 1 of 2 workers killed (s)"] = wait_until_answering(server)
        server.wait_serving(server.wait_for_workers(exclude=[victim]))
        figures["replacement worker serving after (s)"] = time.monotonic() - killed
        load.wait_for_answers(20)
        # Crash 2: every worker at once: nothing serves until the master has booted new ones.
        victims = server.worker_pids()
        killed = time.monotonic()
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        figures["answering after 2 of 2 workers killed (s)"] = wait_until_answering(server)
        server.wait_serving(server.wait_for_workers(exclude=victims))
        figures["both replacements serving after (s)"] = time.monotonic() - killed
        load.wait_for_answers(20)
    fake.delay = 0

    statuses = {e["reply"].status for e in load.log}
    assert statuses <= {0, 200}, [e for e in load.log if e["reply"].status not in (0, 200)]
    killed_turns = load.entries("chat", 0)
    assert killed_turns, "no chat turn was in flight in a killed worker"
    figures |= {"requests": len(load.log), "acknowledged": len([e for e in load.log if e["reply"].status]),
                "cut by the kills": len([e for e in load.log if not e["reply"].status]),
                "turns killed in flight": len(killed_turns)}
    print("\ncrash figures:", {k: round(v, 2) for k, v in figures.items()})
    assert figures["answering after 2 of 2 workers killed (s)"] < BACK_WITHIN

    with database(server) as session:
        messages = {m.id: m for m in session.scalars(select(Message))}
        # Every acknowledged turn is there: its user message, then exactly its reply.
        for entry in load.entries("chat", 200):
            reply = messages[entry["reply"].body["message_id"]]
            expected = (entry["thread_id"], "assistant", f"Echo: {entry['text']}")
            assert (reply.thread_id, reply.role, reply.content) == expected
            user = session.scalar(select(Message).where(Message.thread_id == reply.thread_id,
                                                        Message.position == reply.position - 1))
            assert (user.role, user.content) == ("user", entry["text"])
        for entry in load.entries("initialize", 200):
            assert session.get(Thread, entry["reply"].body["thread_id"]) is not None
        # Nothing half-written: every thread is whole user/reply pairs, every assistant a whole row.
        for thread in session.scalars(select(Thread)):
            history = [(m.position, m.role, m.content) for m in thread.messages]
            assert [p for p, _, _ in history] == list(range(len(history))), history
            for (_, role, content), (_, reply_role, reply) in zip(history[::2], history[1::2]):
                assert (role, reply_role, reply) == ("user", "assistant", f"Echo: {content}"), history
            assert len(history) % 2 == 0, history
        for assistant in session.scalars(select(Assistant)):
            assert assistant.details.get("model") and assistant.details_id, assistant.id
        # Every acknowledged create is there as sent; the last acknowledged update, or a later one.
        for entry in load.entries("create", 200):
            assistant = session.get(Assistant, entry["reply"].body["id"])
            assert assistant_state(assistant) == {"details": entry["body"]["details"],
                                                  "iconSrc": entry["body"]["iconSrc"]}
        for assistant_id in update_ids:
            sent = [e for e in load.entries("update") if e["assistant_id"] == assistant_id]
            last_acknowledged = max(i for i, e in enumerate(sent) if e["reply"].status == 200)
            allowed = [{"details": e["body"]["details"], "iconSrc": e["body"]["iconSrc"]}
                       for e in sent[last_acknowledged:]]
            assert assistant_state(session.get(Assistant, assistant_id)) in allowed

        # A turn killed after taking its thread's lock and before its commit wrote nothing, and its
        # lock was freed by the master when the worker died (tests/test_dead_workers.py times that).
        deadline = time.monotonic() + FREED_WITHIN
        while (locked := locked_threads(session)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not locked, (f"still locked {FREED_WITHIN} s after the load stopped: {locked}\n"
                            f"{server.log_tail()}")

        # A lock held by a worker on another host (no master here knows of it) goes stale by time only.
        thread_id = load.entries("chat", 200)[-1]["thread_id"]
        before = len(messages_of(session, thread_id))
        turn = {"agent_id": agent_id, "thread_id": thread_id, "user_input": "after the crash"}
        session.execute(update(Thread).where(Thread.id == thread_id)
                        .values(turn_token=f"0123456789.4242/{'a' * 24}", turn_started_at=utcnow()))
        session.commit()
        backdate(session, thread_id, STALE_AFTER - 5)
        refused = server.request("POST", "/openai/chat", turn)
        assert refused.status == 409 and refused.seconds < 0.5, refused
        backdate(session, thread_id, STALE_AFTER + 1)
        retried = server.request("POST", "/openai/chat", turn)
        assert retried.status == 200, retried
        session.expire_all()
        assert [m.content for m in messages_of(session, thread_id)[before:]] == [
            "after the crash", "Echo: after the crash"]

    # And the service answers everyone again.
    replies = [server.request("GET", "/assistants?page_size=5") for _ in range(10)]
    assert [r.status for r in replies] == [200] * 10


def locked_threads(session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Thread.id).where(Thread.turn_token.is_not(None))))


def messages_of(session, thread_id: str) -> list[Message]:
    query = select(Message).where(Message.thread_id == thread_id).order_by(Message.position)
    return list(session.scalars(query))


def backdate(session, thread_id: str, seconds: float) -> None:
    """The turn lock as it will be `seconds` after it was taken (the clock, without the wait)."""
    session.execute(update(Thread).where(Thread.id == thread_id)
                    .values(turn_started_at=utcnow() - timedelta(seconds=seconds)))
    session.commit()
